package keycloaktest

import (
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// This file ports the behaviour of Keycloak's PathMatcher (SPEC §2.2–§2.4)
// for the server-side matchingUri search and permission_resource_matching_uri.
// Patterns are iterated in resource insertion order, URIs in resource order.

// matchURILocked returns the resource-server-owned resource whose URI best
// matches target, or nil.
func (s *Server) matchURILocked(target string) *resource {
	var patterns []string
	var owners []*resource
	for _, r := range s.resources {
		if !r.ownerIsRS {
			continue
		}
		for _, u := range r.URIs {
			patterns = append(patterns, u)
			owners = append(owners, r)
		}
	}
	if i := matchPath(patterns, target); i >= 0 {
		return owners[i]
	}
	return nil
}

// matchPath returns the index of the pattern Keycloak's PathMatcher selects
// for target, or -1.
func matchPath(patterns []string, target string) int {
	t, ok := normalizePath(target)
	if !ok {
		return -1
	}
	bestSegs, bestBraces := 0, 0
	exact, suffix, wildcard := -1, -1, -1
	for i, p := range patterns {
		if p == "" {
			continue
		}
		matched, has := "", false
		if simpleMatch(p, t) {
			matched, has = p, true
		}
		if strings.Contains(p, "{") {
			if inst, ok := instantiate(p, t); ok {
				segs, braces := javaSplitLen(p, "/"), javaSplitLen(p, "{")
				if simpleMatch(inst, t) && (bestSegs == 0 || segs > bestSegs || braces < bestBraces) {
					matched, has = inst, true
					bestSegs, bestBraces = segs, braces
				}
			}
		}
		if !has {
			continue
		}
		base := p
		if k := strings.Index(base, "/*"); k >= 0 {
			base = base[:k]
		}
		if k := strings.IndexByte(base, '{'); k >= 0 {
			base = base[:k]
		}
		if base == "" {
			base = "/"
		}
		if matched == t || base == t {
			if bestSegs == 0 {
				return i
			}
			exact = i
		}
		if strings.HasSuffix(p, "*") {
			if wildcard < 0 || javaSplitLen(patterns[wildcard], "/") < javaSplitLen(matched, "/") {
				wildcard = i
			}
		} else if k := strings.Index(p, "*."); k >= 0 && strings.HasSuffix(t, p[k+1:]) {
			suffix = i
		}
	}
	switch {
	case exact >= 0:
		return exact
	case suffix >= 0:
		return suffix
	}
	return wildcard
}

// simpleMatch is PathMatcher's plain test of a pattern (or an instantiated
// template) against the target.
func simpleMatch(v, target string) bool {
	if target == v {
		return true
	}
	if strings.HasSuffix(v, "*") {
		if strings.HasPrefix(target, v[:len(v)-1]) {
			return true
		}
		return strings.HasSuffix(v, "/*") && target == v[:len(v)-2]
	}
	if k := strings.Index(v, "/*."); k >= 0 {
		return strings.HasSuffix(target, v[k+2:])
	}
	return false
}

// instantiate substitutes each {param} of the template with the target's
// segment at the same position (a trailing /* is kept).
func instantiate(p, target string) (string, bool) {
	tmpl, wildcard := p, false
	if strings.HasSuffix(tmpl, "/*") {
		tmpl, wildcard = tmpl[:len(tmpl)-2], true
	}
	i := strings.IndexByte(tmpl, '{')
	if i < 0 || i >= len(target) || tmpl[:i] != target[:i] {
		return "", false
	}
	if javaSplitLen(tmpl, "/") > javaSplitLen(target, "/") {
		return "", false
	}
	params := javaSplit(target[i:], "/")
	var b strings.Builder
	b.WriteString(tmpl[:i])
	pi := 0
	for j := i; j < len(tmpl); j++ {
		switch c := tmpl[j]; c {
		case '{':
			end := strings.IndexByte(tmpl[j:], '}')
			if end < 0 {
				return "", false
			}
			if name := tmpl[j+1 : j+end]; strings.ContainsAny(name, "/{") {
				return "", false
			}
			if pi >= len(params) {
				return "", false
			}
			b.WriteString(params[pi])
			j += end
		case '/':
			pi++
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if wildcard {
		if !strings.HasSuffix(out, "/") {
			out += "/"
		}
		out += "*"
	}
	return out, true
}

// javaSplit splits like Java's String.split: trailing empty strings removed.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	if len(parts) == 1 {
		return parts // no separator: [s], even when s is empty
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func javaSplitLen(s, sep string) int { return len(javaSplit(s, sep)) }

// normalizePath applies Keycloak's request path normalization (SPEC §2.2).
// ok is false when the path must not match anything.
func normalizePath(p string) (string, bool) {
	if k := strings.IndexAny(p, "?#"); k >= 0 {
		p = p[:k]
	}
	if k := strings.Index(p, "://"); k > 0 && isScheme(p[:k]) {
		rest := p[k+3:]
		auth := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			auth = rest[:j]
		}
		if auth == "" || !validAuthority(auth) {
			return "", false
		}
		np, ok := normalizeRelative(rest[len(auth):])
		if !ok {
			return "", false
		}
		return p[:k+3] + auth + np, true
	}
	return normalizeRelative(p)
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func validAuthority(a string) bool {
	host := a
	if k := strings.LastIndexByte(a, '@'); k >= 0 {
		host = a[k+1:]
	}
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		addr, err := netip.ParseAddr(host[1:end])
		if err != nil || !addr.Is6() {
			return false
		}
		return true
	}
	_, err := url.Parse("http://" + a + "/")
	return err == nil
}

func normalizeRelative(p string) (string, bool) {
	// Strip matrix parameters: from each ';' up to the next '/'.
	if strings.IndexByte(p, ';') >= 0 {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			if p[i] == ';' {
				for i < len(p) && p[i] != '/' {
					i++
				}
				if i < len(p) {
					b.WriteByte('/')
				}
				continue
			}
			b.WriteByte(p[i])
		}
		p = b.String()
	}
	p = collapseSlashes(p)
	// A path whose first segment looks like "scheme:" is an opaque URI
	// without a path (foo:bar): no match.
	if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ":") && isScheme(first[:strings.IndexByte(first, ':')]) {
		return "", false
	}
	if !validURIPath(p) {
		return "", false
	}
	if p != "" {
		trailing := strings.HasSuffix(p, "/")
		cleaned := path.Clean(p)
		if trailing && cleaned != "/" {
			cleaned += "/"
		}
		p = cleaned
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return "", false
	}
	p = collapseSlashes(dec)
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p, true
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// validURIPath reports whether p parses as a java.net.URI path ({ and }
// are accepted, as Keycloak escapes them first).
func validURIPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			i += 2
		case c <= ' ' || c == 0x7f:
			return false
		case c >= 0x80:
			// non-ASCII "other" characters are legal in java.net.URI
		case strings.IndexByte("\"<>\\^`|[]", c) >= 0:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
