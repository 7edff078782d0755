package pathmatch

// A faithful, deliberately straightforward port of Keycloak's
// org.keycloak.common.util.PathMatcher (keycloak/keycloak common/, 2026):
// matches() (the linear loop), exactMatch(), buildUriFromTemplate() and
// normalizeUri(). It is the baseline of BenchmarkMatch and the oracle of the
// property and fuzz tests. Java strings are UTF-16; the port works on bytes,
// which is the same for the ASCII inputs the oracle generates.

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// javaSplit is String.split(regex) for a one-character literal regex:
// trailing empty strings are removed; no match at all yields [s].
func javaSplit(s, sep string) []string {
	if !strings.Contains(s, sep) {
		return []string{s}
	}
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func indexFrom(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	if from < 0 {
		from = 0
	}
	i := strings.Index(s[from:], sub)
	if i < 0 {
		return -1
	}
	return i + from
}

// kcPathMatcher holds the configured paths in iteration order (Keycloak's
// LinkedHashMap keyed by path: a duplicate keeps its first position).
type kcPathMatcher struct{ paths []string }

func newKCPathMatcher(templates []string) *kcPathMatcher {
	seen := map[string]bool{}
	m := &kcPathMatcher{}
	for _, t := range templates {
		if !seen[t] {
			seen[t] = true
			m.paths = append(m.paths, t)
		}
	}
	return m
}

// match returns the winning path, or "" — on an already normalized target
// (call kcNormalize first for a raw one).
func (m *kcPathMatcher) match(normalizedURI string) (string, bool) {
	patternCount, bracketsPatternCount := 0, 0
	matchingPath, matchingAnyPath, matchingAnySuffixPath := "", "", ""
	for _, expectedURI := range m.paths {
		if expectedURI == "" {
			continue
		}
		matchingURI, matched := "", false
		if kcExactMatch(expectedURI, normalizedURI) {
			matchingURI, matched = expectedURI, true
		}
		if strings.Contains(expectedURI, "{") {
			if templateURI, ok := kcBuildURIFromTemplate(expectedURI, normalizedURI); ok {
				length := len(javaSplit(expectedURI, "/"))
				bracketsLength := len(javaSplit(expectedURI, "{"))
				if kcExactMatch(templateURI, normalizedURI) &&
					(patternCount == 0 || length > patternCount || bracketsLength < bracketsPatternCount) {
					matchingURI, matched = templateURI, true
					patternCount = length
					bracketsPatternCount = bracketsLength
				}
			}
		}
		if !matched {
			continue
		}
		path := expectedURI
		if i := strings.Index(path, "/*"); i >= 0 {
			path = path[:i]
		}
		if i := strings.Index(path, "{"); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			path = "/"
		}
		if matchingURI == normalizedURI || path == normalizedURI {
			if patternCount == 0 {
				return expectedURI, true
			}
			matchingPath = expectedURI
		}
		if expectedURI[len(expectedURI)-1] == '*' {
			if matchingAnyPath == "" {
				matchingAnyPath = expectedURI
			} else if len(javaSplit(matchingAnyPath, "/")) < len(javaSplit(matchingURI, "/")) {
				matchingAnyPath = expectedURI
			}
		} else if i := strings.Index(expectedURI, "*."); i >= 0 {
			if strings.HasSuffix(normalizedURI, expectedURI[i+1:]) {
				matchingAnySuffixPath = expectedURI
			}
		}
	}
	switch {
	case matchingPath != "":
		return matchingPath, true
	case matchingAnySuffixPath != "":
		return matchingAnySuffixPath, true
	case matchingAnyPath != "":
		return matchingAnyPath, true
	}
	return "", false
}

func kcExactMatch(expectedURI, targetURI string) bool {
	if targetURI == expectedURI {
		return true
	}
	if len(expectedURI) > 0 && expectedURI[len(expectedURI)-1] == '*' {
		rootPath := expectedURI[:len(expectedURI)-1]
		if strings.HasPrefix(targetURI, rootPath) {
			return true
		}
		return len(rootPath) > 0 && targetURI == rootPath[:len(rootPath)-1]
	}
	if i := strings.Index(expectedURI, "/*."); i >= 0 {
		return strings.HasSuffix(targetURI, expectedURI[i+2:])
	}
	return false
}

func kcBuildURIFromTemplate(template, targetURI string) (string, bool) {
	uri := template // the StringBuilder
	expectedURI := template
	patternStartIndex := strings.Index(expectedURI, "{")
	if strings.HasSuffix(expectedURI, "/*") {
		expectedURI = expectedURI[:len(expectedURI)-2]
	}
	if patternStartIndex == -1 || patternStartIndex >= len(targetURI) {
		return "", false
	}
	if len(javaSplit(expectedURI, "/")) > len(javaSplit(targetURI, "/")) {
		return "", false
	}
	expectedChars := []byte(expectedURI)
	prefix := expectedChars[:min(patternStartIndex, len(expectedChars))]
	if string(prefix) != targetURI[:len(prefix)] {
		return "", false
	}
	matchingURI := make([]byte, len(targetURI))
	copy(matchingURI, prefix)
	last := len(prefix)
	targetParams := targetURI[patternStartIndex:]
	paramIndex, lastPattern := 0, 0
	for i := patternStartIndex; i < len(expectedChars); i++ {
		if last >= len(matchingURI) {
			break
		}
		c := expectedChars[i]
		if c == '{' || c == '*' {
			params := javaSplit(targetParams, "/")
			kEnd := paramIndex
			if c == '*' {
				kEnd = len(params)
			}
			for k := paramIndex; k <= kEnd; k++ {
				if k == len(params) {
					break
				}
				value := params[k]
				if last+len(value) > len(matchingURI) {
					return "", false
				}
				last += copy(matchingURI[last:], value)
				if c == '{' {
					open := indexFrom(uri, "{", lastPattern)
					closing := indexFrom(uri, "}", lastPattern)
					if open == -1 || closing == -1 || closing < open {
						return "", false
					}
					if strings.Contains(uri[open+1:closing], "/") {
						return "", false
					}
					uri = uri[:open] + value + uri[closing+1:]
				}
				if len(value) > 0 && value[len(value)-1] == '}' {
					lastPattern = strings.Index(uri, value) + len(value)
				}
				if c == '*' && last < len(matchingURI) {
					matchingURI[last] = '/'
					last++
				}
			}
			if c == '{' {
				i = indexFrom(expectedURI, "}", i)
			}
		} else {
			if c == '/' {
				paramIndex++
			}
			matchingURI[last] = c
			last++
		}
	}
	return uri, true
}

// kcNormalize ports normalizeUri for relative paths (what enforcers pass).
// java.net.URI is emulated: syntax check of the path characters, normalize()
// (removeDots + join, ported from the JDK's char-array algorithm) and the
// percent-decoding of getPath() (bytes kept as they are; the caller checks
// UTF-8).
func kcNormalize(uri string) (string, bool) {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if strings.Contains(uri, "://") {
		if !strings.HasPrefix(uri, "/") || !jdkPathSyntaxOK(uri) {
			return "", false
		}
	}
	result := jdkStripMatrix(uri)
	for strings.Contains(result, "//") {
		result = strings.ReplaceAll(result, "//", "/")
	}
	if !strings.HasPrefix(result, "/") || !jdkPathSyntaxOK(result) {
		return "", false
	}
	result = jdkDecode(jdkNormalize(result))
	result = jdkStripMatrix(result)
	for strings.Contains(result, "//") {
		result = strings.ReplaceAll(result, "//", "/")
	}
	// new URI(null, null, result, null, null) quotes what is not a path
	// character (so a decoded NUL is data, not a separator), normalize(),
	// getPath() decodes again.
	result = jdkDecode(jdkNormalize(jdkQuote(result)))
	if len(result) > 1 && strings.HasSuffix(result, "/") {
		result = result[:len(result)-1]
	}
	return result, true
}

func jdkStripMatrix(uri string) string {
	var sb strings.Builder
	inMatrix := false
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c == ';' {
			inMatrix = true
		} else if c == '/' {
			inMatrix = false
			sb.WriteByte(c)
		} else if !inMatrix {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func jdkPathSyntaxOK(s string) bool {
	const ok = "-_.!~*'():@&=+$,;/{}" // L_PATH plus the escaped braces
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(ok, c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

// jdkNormalize follows java.net.URI.normalize(String): split into segments
// (slashes become NUL), removeDots, join.
func jdkNormalize(ps string) string {
	path := []byte(ps)
	var segs []int
	// split: record segment starts; replace '/' with 0 (absolute path: index 0 is '/').
	p := 0
	end := len(path) - 1
	for p <= end && path[p] == '/' {
		path[p] = 0
		p++
	}
	for p <= end {
		segs = append(segs, p)
		for p <= end {
			if path[p] == '/' {
				path[p] = 0
				p++
				break
			}
			p++
		}
	}
	ns := len(segs)
	at := func(i int) byte {
		if i > end {
			return 0
		}
		return path[i]
	}
	for i := 0; i < ns; i++ {
		dots := 0
		for ; i < ns; i++ {
			q := segs[i]
			if path[q] == '.' {
				if q == end || at(q+1) == 0 {
					dots = 1
					break
				}
				if at(q+1) == '.' && (q+1 == end || at(q+2) == 0) {
					dots = 2
					break
				}
			}
		}
		if i >= ns || dots == 0 {
			break
		}
		if dots == 1 {
			segs[i] = -1
			continue
		}
		j := i - 1
		for ; j >= 0; j-- {
			if segs[j] != -1 {
				break
			}
		}
		if j >= 0 {
			q := segs[j]
			if !(path[q] == '.' && at(q+1) == '.' && at(q+2) == 0) {
				segs[i], segs[j] = -1, -1
			}
		}
	}
	// join
	out := []byte{'/'}
	for _, q := range segs {
		if q == -1 {
			continue
		}
		for q <= end && path[q] != 0 {
			out = append(out, path[q])
			q++
		}
		if q <= end {
			out = append(out, '/')
		}
	}
	return string(out)
}

func jdkQuote(s string) string {
	const ok = "-_.!~*'():@&=+$,;/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(ok, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

func jdkDecode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			b = append(b, hi<<4|lo)
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// kcHardened reports whether a Keycloak-normalized path (or its raw input)
// is one the documented hardening divergences refuse.
func kcHardened(raw, normalized string) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] >= 0x80 {
			return true
		}
	}
	if normalized == "/.." || strings.HasPrefix(normalized, "/../") {
		return true
	}
	// We refuse a decoded control character, backslash or invalid UTF-8
	// anywhere in the target, even where Keycloak would later strip it (for
	// example inside a matrix parameter: "/%3B%00" normalizes to "/").
	if hardenedRunes(normalized) {
		return true
	}
	if decoded, err := url.PathUnescape(raw); err == nil && hardenedRunes(decoded) {
		return true
	}
	return false
}

func hardenedRunes(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == '\\' {
			return true
		}
	}
	return false
}
