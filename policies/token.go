package policies

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/rptguard/rptguard/rpt"
)

// maxValueDepth bounds the nesting of claim values turned into policy input,
// so a hostile token cannot exhaust the stack.
const maxValueDepth = 32

// TokenValue is the token part of the policy input (input.token,
// input.has_authorization, input.permissions, input.permissions_by_resource,
// input.scope_permissions) built once from verified claims. Build it once per
// verified token with [NewTokenValue] and cache it next to the claims: a warm
// decision then only builds the small request and resource part.
//
// The permissions are indexed by resource for the Go side of the decision
// when the value is built; the Rego form (ast values of every claim and
// permission) is built on first use, once: an allow without user policies
// never needs it.
//
// A TokenValue is immutable (its lazily built part is built once, under a
// sync.Once) and safe for concurrent use by any number of evaluations. It
// holds a reference to the claims it was built from, which must not be
// modified afterwards (rpt.Claims are read-only by contract).
type TokenValue struct {
	claims      *rpt.Claims
	perms       []rpt.Permission
	hasAuthz    bool
	earliestExp time.Time // earliest non-zero permission exp, zero if none

	// Indexes into perms for the Go side of the decision (fast.go): per
	// resource id the first permission on it, and next[i] the following
	// permission on the same resource (or, for a scope-only permission, the
	// following scope-only one), -1 at the end; lists are in token order.
	headByID  map[string]int32
	headScope int32
	next      []int32

	once      sync.Once
	token     *ast.Term // object
	all       *ast.Term // array
	byRes     *ast.Term // object rsid → array
	scopeOnly *ast.Term // array
	err       error
}

// NewTokenValue converts verified claims into their policy-input form.
//
// input.token is c.Raw (every claim as issued) when set, otherwise the claims
// [rpt.Claims] names (iss, sub, aud, exp, iat, nbf, jti, typ, azp, sid, scope,
// preferred_username, realm_access, resource_access, groups). Permissions come
// from c.Permissions() (already normalized by the verifier or introspection
// client), each with its index in token order.
//
// It fails with [ErrInvalidInput] when c is nil or a claim holds a value that
// has no JSON form (a channel, a function, a non-finite float) or is nested
// deeper than 32 levels. The error names neither claim values nor the token.
func NewTokenValue(c *rpt.Claims) (*TokenValue, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil claims", ErrInvalidInput)
	}
	// Check now what building the Rego form later would reject, so that
	// the lazily built part cannot fail.
	if c.Raw != nil {
		if err := checkMap(c.Raw, 0); err != nil {
			return nil, err
		}
	}
	perms := c.Permissions()
	tv := &TokenValue{
		claims:    c,
		perms:     perms,
		hasAuthz:  c.Authorization != nil,
		headByID:  make(map[string]int32, len(perms)),
		headScope: -1,
		next:      make([]int32, len(perms)),
	}
	// Backwards, so that each list ends up in token order.
	for i := len(perms) - 1; i >= 0; i-- {
		p := &perms[i]
		if !p.ExpiresAt.IsZero() && (tv.earliestExp.IsZero() || p.ExpiresAt.Before(tv.earliestExp)) {
			tv.earliestExp = p.ExpiresAt
		}
		if p.ResourceID == "" {
			tv.next[i], tv.headScope = tv.headScope, int32(i)
			continue
		}
		head, ok := tv.headByID[p.ResourceID]
		if !ok {
			head = -1
		}
		tv.next[i], tv.headByID[p.ResourceID] = head, int32(i)
	}
	return tv, nil
}

// terms returns the Rego form, building it on first use.
func (t *TokenValue) terms() (token, all, byRes, scopeOnly *ast.Term, err error) {
	t.once.Do(func() {
		var tok ast.Value
		if t.claims.Raw != nil {
			tok, t.err = mapValue(t.claims.Raw, 0)
		} else {
			tok, t.err = mapValue(synthesizeClaims(t.claims), 0)
		}
		if t.err != nil {
			return
		}
		t.token = ast.NewTerm(tok)
		t.all, t.byRes, t.scopeOnly = permissionTerms(t.perms, nil)
	})
	return t.token, t.all, t.byRes, t.scopeOnly, t.err
}

// Claims returns the claims the value was built from. Treat as read-only.
func (t *TokenValue) Claims() *rpt.Claims { return t.claims }

// Permissions returns the token's permissions in token order. Treat as
// read-only.
func (t *TokenValue) Permissions() []rpt.Permission { return t.perms }

// permissionTerms builds input.permissions, input.permissions_by_resource and
// input.scope_permissions. keep, when non-nil, filters permissions (expired
// ones); indexes always refer to the position in the returned array.
func permissionTerms(perms []rpt.Permission, keep func(*rpt.Permission) bool) (all, byRes, scopeOnly *ast.Term) {
	arr := make([]*ast.Term, 0, len(perms))
	groups := map[string][]*ast.Term{}
	var order []string
	var scoped []*ast.Term
	for i := range perms {
		p := &perms[i]
		if keep != nil && !keep(p) {
			continue
		}
		t := permissionTerm(p, len(arr))
		arr = append(arr, t)
		if p.ResourceID == "" {
			scoped = append(scoped, t)
			continue
		}
		if _, ok := groups[p.ResourceID]; !ok {
			order = append(order, p.ResourceID)
		}
		groups[p.ResourceID] = append(groups[p.ResourceID], t)
	}
	obj := ast.NewObject()
	for _, id := range order {
		obj.Insert(ast.StringTerm(id), ast.ArrayTerm(groups[id]...))
	}
	return ast.ArrayTerm(arr...), ast.NewTerm(obj), ast.ArrayTerm(scoped...)
}

func permissionTerm(p *rpt.Permission, index int) *ast.Term {
	items := [][2]*ast.Term{
		{keyIndex, ast.IntNumberTerm(index)},
		{keyRSID, ast.StringTerm(p.ResourceID)},
		{keyRSName, ast.StringTerm(p.ResourceName)},
		{keyScopes, stringsTerm(p.Scopes)},
	}
	if p.Claims != nil {
		items = append(items, [2]*ast.Term{keyClaims, stringListMapTerm(p.Claims, false)})
	}
	return ast.ObjectTerm(items...)
}

// synthesizeClaims rebuilds the JSON claims of a token from the named fields,
// for claims that came without Raw.
func synthesizeClaims(c *rpt.Claims) map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("iss", c.Issuer)
	put("sub", c.Subject)
	put("jti", c.ID)
	put("typ", c.Type)
	put("azp", c.AuthorizedParty)
	put("sid", c.SessionID)
	put("scope", c.Scope)
	put("preferred_username", c.PreferredUsername)
	if len(c.Audience) > 0 {
		m["aud"] = c.Audience
	}
	for k, t := range map[string]time.Time{"exp": c.ExpiresAt, "iat": c.IssuedAt, "nbf": c.NotBefore} {
		if !t.IsZero() {
			m[k] = json.Number(fmt.Sprint(t.Unix()))
		}
	}
	if c.RealmRoles != nil {
		m["realm_access"] = map[string]any{"roles": c.RealmRoles}
	}
	if len(c.ResourceRoles) > 0 {
		ra := make(map[string]any, len(c.ResourceRoles))
		for client, roles := range c.ResourceRoles {
			ra[client] = map[string]any{"roles": roles}
		}
		m["resource_access"] = ra
	}
	if c.Groups != nil {
		m["groups"] = c.Groups
	}
	if c.Authorization != nil {
		perms := make([]any, 0, len(c.Authorization.Permissions))
		for _, p := range c.Authorization.Permissions {
			pm := map[string]any{}
			if p.ResourceID != "" {
				pm["rsid"] = p.ResourceID
			}
			if p.ResourceName != "" {
				pm["rsname"] = p.ResourceName
			}
			if p.Scopes != nil {
				pm["scopes"] = p.Scopes
			}
			if p.Claims != nil {
				pm["claims"] = p.Claims
			}
			perms = append(perms, pm)
		}
		m["authorization"] = map[string]any{"permissions": perms}
	}
	return m
}

// mapValue converts a decoded JSON object into an ast.Object.
func mapValue(m map[string]any, depth int) (ast.Value, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("%w: claims nested too deeply", ErrInvalidInput)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic, for a stable hash and error
	obj := ast.NewObject()
	for _, k := range keys {
		v, err := toValue(m[k], depth+1)
		if err != nil {
			return nil, err
		}
		obj.Insert(ast.StringTerm(k), ast.NewTerm(v))
	}
	return obj, nil
}

// toValue converts the Go forms claims take after JSON decoding (and a few
// typed slices and maps verifiers build) into ast values, without a JSON
// round trip. Anything else is rejected.
func toValue(x any, depth int) (ast.Value, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("%w: claims nested too deeply", ErrInvalidInput)
	}
	switch v := x.(type) {
	case nil:
		return ast.Null{}, nil
	case bool:
		return ast.Boolean(v), nil
	case string:
		return ast.String(v), nil
	case json.Number:
		if !validJSONNumber(string(v)) {
			return nil, fmt.Errorf("%w: claim holds a malformed number", ErrInvalidInput)
		}
		return ast.Number(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: claim holds a non-finite number", ErrInvalidInput)
		}
		return ast.FloatNumberTerm(v).Value, nil
	case float32:
		return toValue(float64(v), depth)
	case int:
		return ast.IntNumberTerm(v).Value, nil
	case int64:
		return ast.Number(json.Number(fmt.Sprint(v))), nil
	case int32:
		return ast.IntNumberTerm(int(v)).Value, nil
	case uint64:
		return ast.Number(json.Number(fmt.Sprint(v))), nil
	case []string:
		return stringsTerm(v).Value, nil
	case []any:
		terms := make([]*ast.Term, len(v))
		for i, e := range v {
			ev, err := toValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(ev)
		}
		return ast.NewArray(terms...), nil
	case map[string]any:
		return mapValue(v, depth)
	case map[string][]string:
		return stringListMapTerm(v, false).Value, nil
	case map[string]string:
		obj := ast.NewObject()
		for k, s := range v {
			obj.Insert(ast.StringTerm(k), ast.StringTerm(s))
		}
		return obj, nil
	default:
		return nil, fmt.Errorf("%w: claim of unsupported type %T", ErrInvalidInput, x)
	}
}

// checkMap reports the error mapValue would return for m, without building
// anything.
func checkMap(m map[string]any, depth int) error {
	if depth > maxValueDepth {
		return fmt.Errorf("%w: claims nested too deeply", ErrInvalidInput)
	}
	for _, v := range m {
		if err := checkValue(v, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// checkValue reports the error toValue would return for x (the same
// messages; which claim fails first may differ, and no message names one),
// without building anything.
func checkValue(x any, depth int) error {
	if depth > maxValueDepth {
		return fmt.Errorf("%w: claims nested too deeply", ErrInvalidInput)
	}
	switch v := x.(type) {
	case nil, bool, string, int, int64, int32, uint64, []string, map[string][]string, map[string]string:
		return nil
	case json.Number:
		if !validJSONNumber(string(v)) {
			return fmt.Errorf("%w: claim holds a malformed number", ErrInvalidInput)
		}
		return nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: claim holds a non-finite number", ErrInvalidInput)
		}
		return nil
	case float32:
		return checkValue(float64(v), depth)
	case []any:
		for _, e := range v {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		return checkMap(v, depth)
	default:
		return fmt.Errorf("%w: claim of unsupported type %T", ErrInvalidInput, x)
	}
}

// validJSONNumber reports whether s is a number in JSON syntax (RFC 8259 §6).
func validJSONNumber(s string) bool {
	i, n := 0, len(s)
	if i < n && s[i] == '-' {
		i++
	}
	if i >= n {
		return false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < n && s[i] == '.' {
		i++
		start := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == n
}
