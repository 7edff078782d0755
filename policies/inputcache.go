package policies

import (
	"hash/maphash"
	"slices"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// staticSlots is the number of entries of a staticCache.
const staticSlots = 256

// staticCache holds the parts of the input document that depend only on
// the matched path and method (input.resource, input.required_scopes,
// input.rule), so that a warm decision does not rebuild them. A deployment
// has a bounded number of such combinations (its configured paths and
// methods), so a small direct-mapped table keeps them all.
//
// An entry is found by a keyed 64-bit hash of every field it was built from
// and returned only after all of them compare equal to the request's, so a
// collision costs a rebuild, never a wrong input. Entries are immutable;
// slots are swapped atomically, so lookups take no lock. At most
// staticSlots entries (a few hundred bytes each) are kept.
type staticCache struct {
	seed  maphash.Seed
	slots [staticSlots]atomic.Pointer[staticEntry]
}

// staticEntry is one cached combination, with private copies of the
// slices it was built from.
type staticEntry struct {
	res    Resource // URIs is a private copy
	scopes []string
	rule   string

	resource, required, ruleTerm *ast.Term
}

func newStaticCache() *staticCache { return &staticCache{seed: maphash.MakeSeed()} }

// terms returns input.resource, input.required_scopes and input.rule for
// in, from the cache when an entry was built from the same values.
func (c *staticCache) terms(in *Input) (resource, required, rule *ast.Term) {
	if c == nil {
		return resourceTerm(&in.Resource), stringsTerm(in.RequiredScopes), stringTerm(in.Rule)
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	r := &in.Resource
	for _, s := range [...]string{r.ID, r.Name, r.Type, r.Owner, r.Template, r.ParentID, in.Rule} {
		writeField(&h, s)
	}
	for _, list := range [...][]string{r.URIs, in.RequiredScopes} {
		// The element count separates the two lists.
		var n [8]byte
		for i, l := 0, len(list); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:])
		for _, s := range list {
			writeField(&h, s)
		}
	}
	slot := &c.slots[h.Sum64()%staticSlots]
	if e := slot.Load(); e != nil && e.matches(in) {
		return e.resource, e.required, e.ruleTerm
	}
	e := &staticEntry{res: *r, scopes: slices.Clone(in.RequiredScopes), rule: in.Rule}
	e.res.URIs = slices.Clone(r.URIs)
	e.resource, e.required, e.ruleTerm = resourceTerm(&e.res), stringsTerm(e.scopes), stringTerm(e.rule)
	slot.Store(e)
	return e.resource, e.required, e.ruleTerm
}

// writeField writes s and a terminator that no string can forge (its
// length), so that field boundaries are part of the hash.
func writeField(h *maphash.Hash, s string) {
	h.WriteString(s)
	var n [8]byte
	for i, l := 0, len(s); i < 8; i, l = i+1, l>>8 {
		n[i] = byte(l)
	}
	h.Write(n[:])
}

func (e *staticEntry) matches(in *Input) bool {
	r, c := &in.Resource, &e.res
	return r.ID == c.ID && r.Name == c.Name && r.Type == c.Type && r.Owner == c.Owner &&
		r.Template == c.Template && r.ParentID == c.ParentID && in.Rule == e.rule &&
		slices.Equal(r.URIs, c.URIs) && slices.Equal(in.RequiredScopes, e.scopes)
}

// resourceTerm builds input.resource.
func resourceTerm(rs *Resource) *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{keyID, stringTerm(rs.ID)},
		[2]*ast.Term{keyName, stringTerm(rs.Name)},
		[2]*ast.Term{keyType, stringTerm(rs.Type)},
		[2]*ast.Term{keyURIs, stringsTerm(rs.URIs)},
		[2]*ast.Term{keyOwner, stringTerm(rs.Owner)},
		[2]*ast.Term{keyTemplate, stringTerm(rs.Template)},
		[2]*ast.Term{keyParentID, stringTerm(rs.ParentID)},
	)
}

// stringTerm is ast.StringTerm, sharing OPA's interned term for "".
func stringTerm(s string) *ast.Term {
	if s == "" {
		return ast.InternedEmptyString
	}
	return ast.StringTerm(s)
}

// Terms of the HTTP methods, shared by every input.
var methodTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		m[s] = ast.StringTerm(s)
	}
	return m
}()

// methodTerm is stringTerm with the standard methods' terms shared.
func methodTerm(s string) *ast.Term {
	if t, ok := methodTerms[s]; ok {
		return t
	}
	return stringTerm(s)
}
