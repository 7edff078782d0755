package pathmatch

import (
	"strings"
	"unicode/utf8"
)

// MaxParams is the largest number of {placeholders} in one template; a
// [Result] holds their spans in a fixed array so that a hit allocates nothing.
const MaxParams = 16

type kind uint8

const (
	kLiteral          kind = iota // "/a/b"
	kWildcard                     // "/a/*", "/*"
	kSuffix                       // "/*.html", "/dir/*.html"
	kTemplate                     // "/a/{id}"
	kTemplateWildcard             // "/a/{id}/*"
)

// parsed is a validated template.
type parsed struct {
	kind   kind
	segs   []string // literal or "{name}" segments; without "*" / "*.ext"
	params []uint16 // positions in segs of the placeholders
	names  []string
	ext    string // ".ext" of a suffix pattern
	base   string // Keycloak's "base": the template cut at "/*" ("/" if empty)
}

// ValidateTemplate reports whether t is a valid path template for
// [ModeStrict] (the default): what [Compile] accepts. The enforcer's
// configuration loader calls it for every configured path. The error is a
// [*TemplateError] naming the problem; it matches [ErrInvalidTemplate].
//
// Accepted syntax (SPEC §2.3): a canonical absolute path ("/", "/a/b"), whose
// segments may be whole placeholders "{name}", optionally ending in "/*"
// (trailing wildcard) or in "/*.ext" (suffix pattern, no placeholders).
// Refused: nested, unbalanced or empty braces, '/' in braces, a placeholder
// that is only part of a segment ("{id}.json"), '*' anywhere else, an empty
// extension ("/*."), more than [MaxParams] placeholders, and any literal
// segment that is not already canonical (empty segments, "." / "..",
// a trailing slash, encoded slashes or dots, lower-case hex, raw characters
// that must be encoded, …).
func ValidateTemplate(t string) error { return ValidateTemplateMode(t, ModeStrict) }

// ValidateTemplateMode is [ValidateTemplate] for the given mode. In
// [ModeKeycloak] literal segments are compared with decoded request paths,
// so they are written decoded (Keycloak's own convention: "/api/search?foo",
// "/a b") and must be what Keycloak normalization can produce: non-empty,
// valid UTF-8, no ';', no control characters, no '\', not "." or "..".
func ValidateTemplateMode(t string, mode Mode) error {
	_, err := parseTemplate(t, mode)
	if err != nil {
		err.(*TemplateError).Index = 0
		return err
	}
	return nil
}

func tmplErr(t, problem string) error {
	return &TemplateError{Template: t, Problem: problem}
}

func parseTemplate(t string, mode Mode) (parsed, error) {
	var p parsed
	if t == "" {
		return p, tmplErr(t, "empty template")
	}
	if t[0] != '/' {
		return p, tmplErr(t, "template must start with '/'")
	}
	// Brace syntax, as Keycloak's PathMatcher.validateTemplate.
	in, empty := false, true
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '{':
			if in {
				return p, tmplErr(t, "nested '{'")
			}
			in, empty = true, true
		case c == '}':
			if !in {
				return p, tmplErr(t, "unexpected '}'")
			}
			if empty {
				return p, tmplErr(t, "empty parameter name '{}'")
			}
			in = false
		case in:
			if c == '/' {
				return p, tmplErr(t, "parameter name contains '/'")
			}
			empty = false
		}
	}
	if in {
		return p, tmplErr(t, "missing closing '}'")
	}
	// Wildcards, as Keycloak: "/*" at the very end, or "/*.ext" in the last
	// segment with a non-empty extension.
	if a := strings.IndexByte(t, '*'); a >= 0 {
		trailing := a == len(t)-1 && t[a-1] == '/'
		suffix := t[a-1] == '/' && a+1 < len(t) && t[a+1] == '.' &&
			strings.IndexByte(t[a+1:], '*') < 0 && strings.IndexByte(t[a+1:], '/') < 0
		if suffix && a+2 == len(t) {
			return p, tmplErr(t, "empty extension in suffix pattern '/*.'")
		}
		if !trailing && !suffix {
			return p, tmplErr(t, "'*' is only supported as a trailing '/*' or a suffix pattern '/*.ext'")
		}
	}
	if t == "/" {
		p.kind, p.base = kLiteral, "/"
		return p, nil
	}
	p.segs = strings.Split(t[1:], "/")
	last := p.segs[len(p.segs)-1]
	switch {
	case last == "*":
		p.kind = kWildcard
		p.segs = p.segs[:len(p.segs)-1]
	case strings.HasPrefix(last, "*."):
		p.kind = kSuffix
		p.ext = last[1:]
		p.segs = p.segs[:len(p.segs)-1]
		if err := checkLiteral(p.ext, mode); err != "" {
			return p, tmplErr(t, "suffix extension: "+err)
		}
	}
	for i, s := range p.segs {
		if s == "" {
			if i == len(p.segs)-1 && p.kind == kLiteral {
				return p, tmplErr(t, "trailing slash (requests are matched without it)")
			}
			return p, tmplErr(t, "empty segment ('//')")
		}
		if s[0] == '{' && s[len(s)-1] == '}' && strings.Count(s, "{") == 1 && strings.Count(s, "}") == 1 {
			p.params = append(p.params, uint16(i))
			p.names = append(p.names, s[1:len(s)-1])
			continue
		}
		if strings.ContainsAny(s, "{}") {
			return p, tmplErr(t, "a placeholder must be a whole segment ('{id}.json' never matches)")
		}
		if err := checkLiteral(s, mode); err != "" {
			return p, tmplErr(t, err)
		}
	}
	if len(p.params) > 0 {
		switch p.kind {
		case kSuffix:
			return p, tmplErr(t, "placeholders are not supported in suffix patterns (Keycloak ignores the directory part)")
		case kWildcard:
			p.kind = kTemplateWildcard
		default:
			p.kind = kTemplate
		}
	}
	if len(p.params) > MaxParams {
		return p, tmplErr(t, "too many placeholders")
	}
	p.base = t
	if i := strings.Index(t, "/*"); i >= 0 {
		p.base = t[:i]
	}
	if i := strings.IndexByte(p.base, '{'); i >= 0 {
		p.base = p.base[:i]
	}
	if p.base == "" {
		p.base = "/"
	}
	return p, nil
}

// checkLiteral validates one literal segment (or suffix extension) and
// returns a problem description, or "".
func checkLiteral(s string, mode Mode) string {
	if s == "." || s == ".." {
		return "'.' or '..' segment"
	}
	if strings.IndexByte(s, '*') >= 0 {
		return "'*' is only supported as a trailing '/*' or a suffix pattern '/*.ext'"
	}
	if mode == ModeKeycloak {
		if !utf8.ValidString(s) {
			return "invalid UTF-8"
		}
		for _, r := range s {
			switch {
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029:
				return "control character"
			case r == ';':
				return "';' (Keycloak strips matrix parameters from requests, so this never matches)"
			case r == '\\':
				return "backslash"
			}
		}
		return ""
	}
	c, err := Canonicalize("/"+s, ModeStrict, Limits{MaxPathBytes: 1 << 30, MaxSegments: 1 << 30})
	if err != nil {
		var re *RequestError
		if asRequestError(err, &re) {
			return "not canonical: " + re.Reason
		}
		return "not canonical"
	}
	if c.Path != "/"+s {
		return "not canonical: must be written " + quote(c.Path[1:]) + " (unreserved characters decoded, upper-case hex)"
	}
	return ""
}

func asRequestError(err error, target **RequestError) bool {
	re, ok := err.(*RequestError)
	if ok {
		*target = re
	}
	return ok
}
