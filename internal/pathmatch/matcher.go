package pathmatch

import (
	"strings"
)

// Kind says which precedence tier produced a match.
type Kind uint8

const (
	// KindNone: no template matched.
	KindNone Kind = iota
	// KindExact: the path equals a literal template, or is the base of a
	// trailing wildcard ("/x/*" for "/x", "/*" for "/").
	KindExact
	// KindTemplate: a template with placeholders matched every segment.
	KindTemplate
	// KindSuffix: a suffix pattern ("/*.html") matched.
	KindSuffix
	// KindWildcard: a trailing wildcard ("/x/*", "/x/{id}/*") matched.
	KindWildcard
)

// String returns the kind's lower-case name.
func (k Kind) String() string {
	names := [...]string{"none", "exact", "template", "suffix", "wildcard"}
	if int(k) < len(names) {
		return names[k]
	}
	return "unknown"
}

// Span is a half-open byte range [Start, End) of the matched path.
type Span struct{ Start, End int }

// Result is a match: the winning template and where its placeholders are in
// the matched path. It is a plain value (no pointers), so returning it does
// not allocate.
type Result struct {
	// Index is the position of the winning template in the slice given to
	// [Compile] (the first occurrence when a template is listed twice).
	Index int
	// Kind is the precedence tier that produced the match.
	Kind   Kind
	n      uint8
	params [MaxParams]Span
}

// NumParams is the number of placeholders of the winning template that were
// bound (all of them for KindTemplate and KindWildcard, else 0).
func (r *Result) NumParams() int { return int(r.n) }

// Param returns the span of the i-th placeholder (template order) in the
// matched path. It panics if i is out of range, like a slice index.
func (r *Result) Param(i int) Span {
	if i < 0 || i >= int(r.n) {
		panic("pathmatch: Result.Param index out of range")
	}
	return r.params[i]
}

// Value returns the i-th placeholder's value: path[span]. path must be the
// string given to Match. The value is a substring; no allocation.
func (r *Result) Value(path string, i int) string {
	s := r.Param(i)
	return path[s.Start:s.End]
}

// node is a segment-trie node. The placeholders on the way from the root
// are the same for every template ending at a node, so a node stores only
// the best (lowest) configuration index per tier.
type node struct {
	lit    map[string]*node
	param  *node
	full   int32 // full template ending here, -1 if none
	wild   int32 // trailing wildcard whose prefix ends here, -1 if none
	braces int32 // placeholders on the path from the root
}

func newNode(braces int32) *node { return &node{full: -1, wild: -1, braces: braces} }

type tmplInfo struct {
	text   string
	kind   kind
	params []uint16
	names  []string
}

// Matcher finds, for a canonical path, the template Keycloak's PathMatcher
// would choose (see the package documentation for the precedence and the
// documented divergences). Build it with [Compile]. A Matcher is immutable
// and safe for concurrent use.
type Matcher struct {
	mode   Mode
	tmpls  []tmplInfo
	exact  map[string]int32 // literal templates and wildcard bases
	suffix map[string]int32 // ".ext" → highest configuration index
	maxExt int
	root   *node
}

// Option configures [Compile].
type Option func(*options)

type options struct{ mode Mode }

// WithMode selects how templates are validated: [ModeStrict] (default,
// templates are canonical escaped paths) or [ModeKeycloak] (templates are
// decoded strings, as Keycloak configurations write them). Use the same mode
// as for [Canonicalize].
func WithMode(m Mode) Option { return func(o *options) { o.mode = m } }

// Compile validates every template (see [ValidateTemplate]) and builds a
// Matcher. The first invalid template is reported as a [*TemplateError] with
// its Index. A template listed more than once counts at its first position,
// as in Keycloak, whose paths are a map keyed by the path string.
func Compile(templates []string, opts ...Option) (*Matcher, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := &Matcher{
		mode:   o.mode,
		tmpls:  make([]tmplInfo, len(templates)),
		exact:  make(map[string]int32),
		suffix: make(map[string]int32),
		root:   newNode(0),
	}
	first := make(map[string]int, len(templates))
	for i, t := range templates {
		p, err := parseTemplate(t, o.mode)
		if err != nil {
			err.(*TemplateError).Index = i
			return nil, err
		}
		m.tmpls[i] = tmplInfo{text: t, kind: p.kind, params: p.params, names: p.names}
		if _, dup := first[t]; dup {
			continue
		}
		first[t] = i
		m.add(int32(i), t, &p)
	}
	return m, nil
}

func (m *Matcher) setExact(key string, i int32) {
	if _, ok := m.exact[key]; !ok { // indices arrive in increasing order
		m.exact[key] = i
	}
}

func (m *Matcher) add(i int32, t string, p *parsed) {
	switch p.kind {
	case kLiteral:
		m.setExact(t, i)
		return
	case kSuffix:
		// A request spelling the pattern itself, or equal to its directory
		// when that ends with the extension, is an exact match in Keycloak.
		m.setExact(t, i)
		if strings.HasSuffix(p.base, p.ext) {
			m.setExact(p.base, i)
		}
		m.suffix[p.ext] = i // the last one in configuration order wins
		m.maxExt = max(m.maxExt, len(p.ext))
		return
	case kWildcard:
		m.setExact(t, i)
		m.setExact(p.base, i)
	}
	nd := m.root
	for k, s := range p.segs {
		if len(p.params) > 0 && isParamAt(p.params, k) {
			if nd.param == nil {
				nd.param = newNode(nd.braces + 1)
			}
			nd = nd.param
			continue
		}
		if nd.lit == nil {
			nd.lit = make(map[string]*node)
		}
		child := nd.lit[s]
		if child == nil {
			child = newNode(nd.braces)
			nd.lit[s] = child
		}
		nd = child
	}
	switch p.kind {
	case kTemplate:
		if nd.full < 0 {
			nd.full = i
		}
	case kWildcard, kTemplateWildcard:
		if nd.wild < 0 {
			nd.wild = i
		}
	}
}

func isParamAt(params []uint16, k int) bool {
	for _, q := range params {
		if int(q) == k {
			return true
		}
	}
	return false
}

// Len is the number of templates given to Compile.
func (m *Matcher) Len() int { return len(m.tmpls) }

// Template returns the i-th template as given to Compile.
func (m *Matcher) Template(i int) string { return m.tmpls[i].text }

// ParamNames returns the placeholder names of the i-th template in order
// (without braces). The slice is shared; do not modify it.
func (m *Matcher) ParamNames(i int) []string { return m.tmpls[i].names }

// Mode returns the mode the templates were validated for.
func (m *Matcher) Mode() Mode { return m.mode }

// search is the per-call state of the trie walk; it lives on the stack.
type search struct {
	full, fullBraces            int32
	wild, wildDepth, wildBraces int32
}

// Match returns the template chosen for path, which must be the Path of a
// [Canonical] produced in the Matcher's mode (a canonical path starts with
// '/', has no empty or dot segments and no trailing slash). For any other
// string the answer is well defined but not meaningful; Match never panics.
//
// Cost: one map lookup for exact matches; otherwise a walk of the segment
// trie, linear in the path length and independent of the number of
// templates (see the package documentation for the pathological bound).
// It does not allocate.
func (m *Matcher) Match(path string) (Result, bool) {
	var r Result
	if len(path) == 0 || path[0] != '/' {
		return r, false
	}
	if i, ok := m.exact[path]; ok {
		r.Index, r.Kind = int(i), KindExact
		return r, true
	}
	st := search{full: -1, wild: -1}
	m.walk(m.root, path, 1, 0, &st)
	switch {
	case st.full >= 0:
		r.Index, r.Kind = int(st.full), KindTemplate
	case m.matchSuffix(path, &r):
		return r, true
	case st.wild >= 0:
		r.Index, r.Kind = int(st.wild), KindWildcard
	default:
		return r, false
	}
	m.fillParams(path, &r)
	return r, true
}

// walk visits the trie nodes whose segment sequence matches path's first
// depth segments; pos is the start of the next segment, or > len(path) when
// there is none.
func (m *Matcher) walk(nd *node, path string, pos int, depth int32, st *search) {
	if nd.wild >= 0 && (st.wild < 0 || depth > st.wildDepth ||
		(depth == st.wildDepth && (nd.braces < st.wildBraces || (nd.braces == st.wildBraces && nd.wild < st.wild)))) {
		st.wild, st.wildDepth, st.wildBraces = nd.wild, depth, nd.braces
	}
	if pos > len(path) || (pos == len(path) && depth == 0) { // no more segments ("/" has none)
		if nd.full >= 0 && (st.full < 0 || nd.braces < st.fullBraces ||
			(nd.braces == st.fullBraces && nd.full < st.full)) {
			st.full, st.fullBraces = nd.full, nd.braces
		}
		return
	}
	end := strings.IndexByte(path[pos:], '/')
	if end < 0 {
		end = len(path)
	} else {
		end += pos
	}
	seg := path[pos:end]
	if nd.lit != nil {
		if child := nd.lit[seg]; child != nil {
			m.walk(child, path, end+1, depth+1, st)
		}
	}
	if nd.param != nil && seg != "" {
		m.walk(nd.param, path, end+1, depth+1, st)
	}
}

// matchSuffix finds the suffix pattern with the highest configuration index
// whose extension ends the path (Keycloak keeps the last one it sees).
func (m *Matcher) matchSuffix(path string, r *Result) bool {
	if m.maxExt == 0 {
		return false
	}
	lastSeg := path[strings.LastIndexByte(path, '/')+1:]
	best := int32(-1)
	for i := max(0, len(lastSeg)-m.maxExt); i < len(lastSeg); i++ {
		if lastSeg[i] != '.' {
			continue
		}
		if idx, ok := m.suffix[lastSeg[i:]]; ok && idx > best {
			best = idx
		}
	}
	if best < 0 {
		return false
	}
	r.Index, r.Kind = int(best), KindSuffix
	return true
}

// fillParams records the spans of the winner's placeholders.
func (m *Matcher) fillParams(path string, r *Result) {
	params := m.tmpls[r.Index].params
	if len(params) == 0 {
		return
	}
	k, seg, start := 0, 0, 1
	for i := 1; i <= len(path) && k < len(params); i++ {
		if i == len(path) || path[i] == '/' {
			if int(params[k]) == seg {
				r.params[k] = Span{Start: start, End: i}
				k++
			}
			seg++
			start = i + 1
		}
	}
	r.n = uint8(k)
}
