package pathmatch

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Mode selects how request paths are canonicalized and how templates are
// validated. The zero value is [ModeStrict].
type Mode uint8

const (
	// ModeStrict (the default) rejects every ambiguous request path with
	// [ErrBadRequest] (security.md §3 steps 2–10): dot segments, empty
	// segments, encoded dots/slashes/backslashes/percent/semicolon/controls,
	// matrix parameters, raw bytes outside RFC 3986 pchar, invalid UTF-8.
	// Unreserved characters are decoded, other encodings kept with upper-case
	// hex, one trailing slash is stripped. The match key is the escaped form.
	ModeStrict Mode = iota
	// ModeKeycloak normalizes exactly as Keycloak 26.x PathMatcher.normalizeUri
	// (SPEC §2.2) and yields the decoded path as match key. The enforcer MUST
	// then rewrite the request (see [Canonical.Apply]) so that the handler sees
	// the path that was authorized.
	ModeKeycloak
)

// String returns "strict" or "keycloak".
func (m Mode) String() string {
	switch m {
	case ModeStrict:
		return "strict"
	case ModeKeycloak:
		return "keycloak"
	default:
		return "unknown"
	}
}

// ParseMode maps "strict" (or "") and "keycloak" to a Mode; anything else is
// an error, so that a typo in configuration fails closed.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "strict":
		return ModeStrict, nil
	case "keycloak":
		return ModeKeycloak, nil
	}
	return 0, errors.New("pathmatch: unknown path mode (want \"strict\" or \"keycloak\")")
}

// Defaults for [Limits] (security.md §3 step 4 and "Recommended defaults").
const (
	DefaultMaxPathBytes = 8 << 10
	DefaultMaxSegments  = 256
)

// Limits bounds the raw path (the request target before the first '?').
// A zero or negative field means its default.
type Limits struct {
	// MaxPathBytes is the largest raw path accepted; default 8 KiB.
	MaxPathBytes int
	// MaxSegments is the largest number of '/'-separated segments; default 256.
	MaxSegments int
}

func (l Limits) maxBytes() int {
	if l.MaxPathBytes <= 0 {
		return DefaultMaxPathBytes
	}
	return l.MaxPathBytes
}

func (l Limits) maxSegments() int {
	if l.MaxSegments <= 0 {
		return DefaultMaxSegments
	}
	return l.MaxSegments
}

// Canonical is the result of [Canonicalize]. Strings may share memory with the
// input.
type Canonical struct {
	// Path is the only string to match, cache and hand to policies. Strict
	// mode: the canonical escaped path ("/files/a%3Fb"). Keycloak mode: the
	// Keycloak-normalized, decoded path ("/api/search?foo"), which is what
	// Keycloak compares its (decoded) templates with.
	Path string
	// Decoded is what r.URL.Path must become before the handler runs: Path
	// with every percent-encoding decoded (equal to Path in Keycloak mode).
	Decoded string
	// RawPath is what r.URL.RawPath must become: "" when Go's own escaping of
	// Decoded yields the canonical escaped form, else the escaped form.
	RawPath string
	// Raw is the path exactly as received (before the first '?', or in
	// Keycloak mode before the first '?' or '#'). For audit logs only; never
	// match on it.
	Raw string
}

// Apply writes the canonical path into u (Path and RawPath), so that the next
// handler sees the path that was authorized (security.md F26). It does not
// touch the query.
func (c Canonical) Apply(u *url.URL) {
	u.Path = c.Decoded
	u.RawPath = c.RawPath
}

// Canonicalize turns a raw request target (r.RequestURI: escaped path plus
// optional query, never r.URL.Path, which Go has already decoded) into the
// canonical path used for matching.
//
// Errors match [ErrTooLong] (raw path over lim, checked before anything but
// the target form) or [ErrBadRequest] (everything else); their text never
// contains the path. Absolute-form and asterisk-form targets are refused
// (the enforcer decides about "OPTIONS *" before calling this).
//
// It is safe for concurrent use and allocates nothing when the raw path is
// already canonical (the common case).
func Canonicalize(rawTarget string, mode Mode, lim Limits) (Canonical, error) {
	if len(rawTarget) == 0 || rawTarget[0] != '/' {
		return Canonical{}, errNotOriginForm
	}
	var raw string
	switch mode {
	case ModeKeycloak:
		// Keycloak drops everything from the first '?' or '#'.
		raw = rawTarget
		if i := strings.IndexAny(rawTarget, "?#"); i >= 0 {
			raw = rawTarget[:i]
		}
	default:
		if strings.IndexByte(rawTarget, '#') >= 0 {
			return Canonical{}, errFragment
		}
		raw = rawTarget
		if i := strings.IndexByte(rawTarget, '?'); i >= 0 {
			raw = rawTarget[:i]
		}
	}
	if len(raw) > lim.maxBytes() {
		return Canonical{}, errPathTooLong
	}
	if strings.Count(raw, "/") > lim.maxSegments() {
		return Canonical{}, errTooManySegments
	}
	if mode == ModeKeycloak {
		return canonicalizeKeycloak(raw)
	}
	return canonicalizeStrict(raw)
}

const hexUpper = "0123456789ABCDEF"

// Byte classes.
const (
	clUnreserved = 1 << iota // ALPHA DIGIT - . _ ~
	clRawOK                  // allowed raw in a strict path segment (pchar minus ';' and '%')
	clGoEscapes              // Go's url path escaping encodes it although it is a valid pchar
	clKCPath                 // allowed raw by java.net.URI in a path (after '{','}' are escaped)
)

var byteClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clUnreserved
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clUnreserved
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= clUnreserved
	}
	for _, c := range "-._~" {
		t[c] |= clUnreserved
	}
	for i := range t {
		if t[i]&clUnreserved != 0 {
			t[i] |= clRawOK | clKCPath
		}
	}
	for _, c := range "!$&'()*+,=:@" {
		t[c] |= clRawOK
	}
	for _, c := range "!'()*" {
		t[c] |= clGoEscapes
	}
	// java.net.URI L_PATH: unreserved (alphanum + "-_.!~*'()"), ":@&=+$,", ";/".
	for _, c := range "!~*'():@&=+$,;/{}" {
		t[c] |= clKCPath
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctAt decodes "%XX" at s[i]; lower reports lower-case hex digits.
func pctAt(s string, i int) (b byte, lower, ok bool) {
	if i+2 >= len(s) || s[i] != '%' {
		return 0, false, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	if !ok1 || !ok2 {
		return 0, false, false
	}
	lower = s[i+1] >= 'a' || s[i+2] >= 'a'
	return hi<<4 | lo, lower, true
}

// utf8Run validates the percent-encoded UTF-8 sequence whose lead byte is the
// "%XX" at s[i] and returns the index just past it.
func utf8Run(s string, i int, lead byte) (next int, lower bool, err error) {
	var size int
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		size = 2
	case lead >= 0xE0 && lead <= 0xEF:
		size = 3
	case lead >= 0xF0 && lead <= 0xF4:
		size = 4
	default:
		return 0, false, errBadUTF8
	}
	var buf [4]byte
	buf[0] = lead
	_, lower, _ = pctAt(s, i)
	j := i + 3
	for k := 1; k < size; k++ {
		b, lw, ok := pctAt(s, j)
		if !ok || b < 0x80 || b > 0xBF {
			return 0, false, errBadUTF8
		}
		lower = lower || lw
		buf[k] = b
		j += 3
	}
	r, n := utf8.DecodeRune(buf[:size])
	if n != size || (r == utf8.RuneError && n == 1) {
		return 0, false, errBadUTF8
	}
	if (r >= 0x80 && r <= 0x9F) || r == 0x2028 || r == 0x2029 {
		return 0, false, errForbiddenRune
	}
	return j, lower, nil
}

// canonicalizeStrict implements security.md §3 steps 5–8 on a raw path that
// starts with '/' and is within the limits.
func canonicalizeStrict(raw string) (Canonical, error) {
	n := len(raw)
	rewrite := false // an encoding must be decoded or upper-cased
	hasPct := false
	segStart := 1
	for i := 1; i < n; {
		c := raw[i]
		switch {
		case c == '/':
			switch raw[segStart:i] {
			case "":
				return Canonical{}, errEmptySegment
			case ".", "..":
				return Canonical{}, errDotSegment
			}
			i++
			segStart = i
		case byteClass[c]&clRawOK != 0:
			i++
		case c == '%':
			b, lower, ok := pctAt(raw, i)
			if !ok {
				return Canonical{}, errBadEscape
			}
			switch {
			case b == '.':
				return Canonical{}, errEncodedDot
			case b == '/' || b == '\\':
				return Canonical{}, errEncodedSlash
			case b == '%':
				return Canonical{}, errEncodedPercent
			case b == ';':
				return Canonical{}, errEncodedSemicolon
			case b < 0x20 || b == 0x7f:
				return Canonical{}, errEncodedControl
			case b >= 0x80:
				next, lw, err := utf8Run(raw, i, b)
				if err != nil {
					return Canonical{}, err
				}
				rewrite = rewrite || lw
				hasPct = true
				i = next
				continue
			case byteClass[b]&clUnreserved != 0:
				rewrite = true
			default:
				hasPct = true
				rewrite = rewrite || lower
			}
			i += 3
		default:
			return Canonical{}, rawByteError(c)
		}
	}
	last := raw[segStart:]
	if last == "." || last == ".." {
		return Canonical{}, errDotSegment
	}
	path := raw
	if !rewrite {
		if n > 1 && last == "" {
			path = raw[:n-1] // one trailing slash
		}
	} else {
		path = rewriteStrict(raw)
	}
	c := Canonical{Path: path, Decoded: path, Raw: raw}
	if hasPct {
		c.Decoded = decodeAll(path)
		if (&url.URL{Path: c.Decoded}).EscapedPath() != path {
			c.RawPath = path
		}
	} else if needsGoRawPath(path) {
		c.RawPath = path
	}
	return c, nil
}

func rawByteError(c byte) error {
	switch {
	case c <= 0x20 || c == 0x7f:
		return errControl
	case c >= 0x80:
		return errNonASCII
	case c == '\\':
		return errBackslash
	case c == ';':
		return errSemicolon
	case c == '#':
		return errFragment
	}
	return errIllegalByte
}

// rewriteStrict decodes unreserved encodings and upper-cases the hex of the
// others; raw has already been validated. One trailing slash is dropped.
func rewriteStrict(raw string) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '%' {
			out = append(out, c)
			i++
			continue
		}
		b, _, _ := pctAt(raw, i)
		if byteClass[b]&clUnreserved != 0 {
			out = append(out, b)
		} else {
			out = append(out, '%', hexUpper[b>>4], hexUpper[b&15])
		}
		i += 3
	}
	if len(out) > 1 && out[len(out)-1] == '/' {
		out = out[:len(out)-1]
	}
	return string(out)
}

// decodeAll decodes every %XX of an already validated escaped path.
func decodeAll(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] == '%' {
			b, _, _ := pctAt(s, i)
			out = append(out, b)
			i += 3
			continue
		}
		out = append(out, s[i])
		i++
	}
	return string(out)
}

func needsGoRawPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if byteClass[p[i]]&clGoEscapes != 0 {
			return true
		}
	}
	return false
}
