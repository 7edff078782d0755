package pathmatch

import (
	"strings"
	"unicode/utf8"
)

// canonicalizeKeycloak reproduces Keycloak 26.x PathMatcher.normalizeUri
// (SPEC §2.2) on a raw path that starts with '/', has no query or fragment
// and is within the limits. Where Keycloak answers "no match" (null) this
// returns ErrBadRequest. Hardening divergences (documented in doc.go): raw
// non-ASCII bytes, percent-encoded bytes that are not valid UTF-8, decoded
// control characters and backslashes, and a '..' left above the root are
// refused instead of being matched.
func canonicalizeKeycloak(raw string) (Canonical, error) {
	s := raw
	// Keycloak probes values containing "://" with new URI(value); for a value
	// starting with '/' there is no scheme, so only a syntax error matters.
	if strings.Contains(s, "://") {
		if err := checkJavaPath(s); err != nil {
			return Canonical{}, err
		}
	}
	s = stripMatrixParams(s)
	s = collapseSlashes(s)
	// new URI(s).normalize().getPath(): syntax check, dot segments resolved on
	// the still-encoded path, then decoded.
	if err := checkJavaPath(s); err != nil {
		return Canonical{}, err
	}
	s = removeDotSegments(s)
	s, err := decodeKeycloak(s)
	if err != nil {
		return Canonical{}, err
	}
	// Decoding may have produced ';' and "//": clean again, then resolve the
	// dot segments decoding made visible (%2E%2E).
	s = stripMatrixParams(s)
	s = collapseSlashes(s)
	s = removeDotSegments(s)
	if len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	// java.net.URI keeps a leading ".." ("/../x" stays "/../x").
	if s == "/.." || strings.HasPrefix(s, "/../") {
		return Canonical{}, errAboveRoot
	}
	return Canonical{Path: s, Decoded: s, Raw: raw}, nil
}

// checkJavaPath accepts what java.net.URI accepts in an absolute path once
// Keycloak has escaped '{' and '}': RFC 2396 path characters and well-formed
// %XX escapes. Raw non-ASCII (which Java would accept as "other") is refused.
func checkJavaPath(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if byteClass[c]&clKCPath != 0 {
			continue
		}
		if c == '%' {
			if _, _, ok := pctAt(s, i); !ok {
				return errBadEscape
			}
			i += 2
			continue
		}
		switch {
		case c >= 0x80:
			return errNonASCII
		case c < 0x20 || c == 0x7f:
			return errControl
		}
		return errUnparsable
	}
	return nil
}

// stripMatrixParams removes, in every segment, everything from ';' to the
// next '/' (Keycloak stripMatrixParams).
func stripMatrixParams(s string) string {
	if strings.IndexByte(s, ';') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ';':
			in = true
		case c == '/':
			in = false
			out = append(out, c)
		case !in:
			out = append(out, c)
		}
	}
	return string(out)
}

// collapseSlashes replaces every run of '/' with one '/'.
func collapseSlashes(s string) string {
	if !strings.Contains(s, "//") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '/' && len(out) > 0 && out[len(out)-1] == '/' {
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func hasDotSegment(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' {
			if seg := s[start:i]; seg == "." || seg == ".." {
				return true
			}
			start = i + 1
		}
	}
	return false
}

// removeDotSegments is java.net.URI.normalize() for an absolute path without
// "//": "." segments are dropped, a ".." removes the preceding segment unless
// that is itself "..", a leading ".." is kept, and a trailing slash is kept
// after the last surviving segment when one followed it in the input.
func removeDotSegments(s string) string {
	if !hasDotSegment(s) {
		return s
	}
	segs := strings.Split(s[1:], "/")
	trailing := false
	if segs[len(segs)-1] == "" {
		trailing = true
		segs = segs[:len(segs)-1]
	}
	stack := make([]int, 0, len(segs))
	for i, g := range segs {
		switch g {
		case ".":
		case "..":
			if k := len(stack); k > 0 && segs[stack[k-1]] != ".." {
				stack = stack[:k-1]
			} else {
				stack = append(stack, i)
			}
		default:
			stack = append(stack, i)
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteByte('/')
	for k, i := range stack {
		if k > 0 {
			b.WriteByte('/')
		}
		b.WriteString(segs[i])
	}
	if k := len(stack); k > 0 && (stack[k-1] < len(segs)-1 || trailing) {
		b.WriteByte('/')
	}
	return b.String()
}

// decodeKeycloak is URI.getPath()'s percent-decoding, plus the hardening
// checks on what it produces.
func decodeKeycloak(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '%' {
			out = append(out, s[i])
			i++
			continue
		}
		b, _, _ := pctAt(s, i) // validated by checkJavaPath
		switch {
		case b < 0x20 || b == 0x7f:
			return "", errEncodedControl
		case b == '\\':
			return "", errEncodedSlash
		}
		out = append(out, b)
		i += 3
	}
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		if r == utf8.RuneError && n == 1 {
			return "", errBadUTF8
		}
		if (r >= 0x80 && r <= 0x9F) || r == 0x2028 || r == 0x2029 {
			return "", errForbiddenRune
		}
		i += n
	}
	return string(out), nil
}
