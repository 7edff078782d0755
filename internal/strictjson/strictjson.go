// Package strictjson decodes untrusted JSON objects strictly and fast.
//
// It is the decoder for JOSE headers, JWT claim sets, JWKS documents and
// RFC 7662 introspection responses. Compared with encoding/json it rejects
// everything that RFC 8259 §4, RFC 7515 §10.12 and RFC 8725 §3.7 call
// ambiguous:
//
//   - invalid UTF-8 anywhere, lone UTF-16 surrogates in \u escapes, and a
//     leading byte-order mark;
//   - a root that is not an object;
//   - duplicate member names in any object, and names that differ only by case
//     from another name in the same object (security catalogue B17, D16);
//   - nesting deeper than a cap (default [DefaultMaxDepth]);
//   - any data after the root object.
//
// Numbers are returned as [encoding/json.Number] (their exact text), strings
// as string, true/false as bool, null as nil, arrays as []any and objects as
// map[string]any, the same shapes encoding/json produces with UseNumber.
//
// The decoder is a single hand-written pass: strings without escapes are
// sliced out of one copy of the input, and maps and slices are allocated at
// their final size, so it is several times faster than encoding/json on the
// small documents it is used for.
//
// This is an internal package: its API may change without notice. All
// functions are safe for concurrent use. Error texts carry a reason and a byte
// offset, never input bytes.
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting cap used by [Decode]: an object or array
// nested deeper than this is rejected. Keycloak tokens nest about 5 levels.
const DefaultMaxDepth = 32

// Sentinel errors. Every error returned by this package matches ErrInvalid
// and, where it applies, one of the more specific sentinels.
var (
	ErrInvalid      = errors.New("strictjson: invalid JSON")
	ErrSyntax       = errors.New("strictjson: syntax error")
	ErrUTF8         = errors.New("strictjson: invalid UTF-8")
	ErrNotObject    = errors.New("strictjson: root is not an object")
	ErrDuplicateKey = errors.New("strictjson: duplicate or case-variant key")
	ErrDepth        = errors.New("strictjson: nesting too deep")
	ErrTrailingData = errors.New("strictjson: trailing data")
)

// Error describes where and why decoding failed. It matches [ErrInvalid] and
// its Kind sentinel with errors.Is.
type Error struct {
	Kind   error // one of the sentinels above (not ErrInvalid)
	Offset int   // byte offset in the input
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at offset %d", e.Kind.Error(), e.Offset)
}

// Is reports whether target is ErrInvalid or e.Kind.
func (e *Error) Is(target error) bool { return target == ErrInvalid || target == e.Kind }

// Unwrap returns e.Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Decode decodes data, which must hold exactly one JSON object, with the
// [DefaultMaxDepth] nesting cap.
func Decode(data []byte) (map[string]any, error) {
	return DecodeDepth(data, DefaultMaxDepth)
}

// DecodeString is [Decode] for a string input; it avoids one copy.
func DecodeString(s string) (map[string]any, error) {
	return decode(s, DefaultMaxDepth)
}

// DecodeDepth is [Decode] with an explicit nesting cap (values < 1 mean 1).
func DecodeDepth(data []byte, maxDepth int) (map[string]any, error) {
	return decode(string(data), maxDepth)
}

func decode(s string, maxDepth int) (map[string]any, error) {
	if maxDepth < 1 {
		maxDepth = 1
	}
	p := parser{s: s, maxDepth: maxDepth}
	if strings.HasPrefix(s, "\xef\xbb\xbf") {
		return nil, p.fail(ErrUTF8)
	}
	p.skipSpace()
	if p.i >= len(s) || s[p.i] != '{' {
		return nil, p.fail(ErrNotObject)
	}
	v, err := p.object()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(s) {
		return nil, p.fail(ErrTrailingData)
	}
	return v, nil
}

type kv struct {
	k string
	v any
}

type parser struct {
	s        string
	i        int
	depth    int
	maxDepth int
	kvs      []kv  // scratch stack of object members being built
	arr      []any // scratch stack of array elements being built
	buf      []byte
}

func (p *parser) fail(kind error) error { return &Error{Kind: kind, Offset: p.i} }

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() (any, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.fail(ErrSyntax)
	}
	switch c := p.s[p.i]; {
	case c == '{':
		m, err := p.object()
		if err != nil {
			return nil, err
		}
		return m, nil
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.fail(ErrSyntax)
	}
}

func (p *parser) lit(word string) error {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return p.fail(ErrSyntax)
	}
	p.i += len(word)
	return nil
}

// smallObject is the member count up to which duplicates are found by a
// linear scan; larger objects use a map of folded names.
const smallObject = 16

func (p *parser) object() (map[string]any, error) {
	p.depth++
	if p.depth > p.maxDepth {
		return nil, p.fail(ErrDepth)
	}
	p.i++ // '{'
	base := len(p.kvs)
	var folded map[string]struct{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return map[string]any{}, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.fail(ErrSyntax)
		}
		keyAt := p.i
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		// Duplicate and case-variant detection.
		n := len(p.kvs) - base
		switch {
		case n < smallObject:
			for j := base; j < len(p.kvs); j++ {
				if equalFold(p.kvs[j].k, k) {
					p.i = keyAt
					return nil, p.fail(ErrDuplicateKey)
				}
			}
		default:
			if folded == nil {
				folded = make(map[string]struct{}, 2*smallObject)
				for j := base; j < len(p.kvs); j++ {
					folded[fold(p.kvs[j].k)] = struct{}{}
				}
			}
			f := fold(k)
			if _, dup := folded[f]; dup {
				p.i = keyAt
				return nil, p.fail(ErrDuplicateKey)
			}
			folded[f] = struct{}{}
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.fail(ErrSyntax)
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.kvs = append(p.kvs, kv{k, v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.fail(ErrSyntax)
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] != '}' {
			return nil, p.fail(ErrSyntax)
		}
		p.i++
		break
	}
	m := make(map[string]any, len(p.kvs)-base)
	for _, e := range p.kvs[base:] {
		m[e.k] = e.v
	}
	clear(p.kvs[base:])
	p.kvs = p.kvs[:base]
	p.depth--
	return m, nil
}

func (p *parser) array() ([]any, error) {
	p.depth++
	if p.depth > p.maxDepth {
		return nil, p.fail(ErrDepth)
	}
	p.i++ // '['
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return []any{}, nil
	}
	base := len(p.arr)
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.arr = append(p.arr, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.fail(ErrSyntax)
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] != ']' {
			return nil, p.fail(ErrSyntax)
		}
		p.i++
		break
	}
	out := make([]any, len(p.arr)-base)
	copy(out, p.arr[base:])
	clear(p.arr[base:])
	p.arr = p.arr[:base]
	p.depth--
	return out, nil
}

// str decodes a string starting at the opening quote.
func (p *parser) str() (string, error) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			out := p.s[start:p.i]
			p.i++
			return out, nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", p.fail(ErrSyntax)
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail(ErrUTF8)
			}
			p.i += size
		}
	}
	return "", p.fail(ErrSyntax)
}

// strEscaped continues a string that contains escapes; p.i is at the first
// backslash and start is the first content byte.
func (p *parser) strEscaped(start int) (string, error) {
	b := append(p.buf[:0], p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = b[:0]
			return string(b), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.fail(ErrSyntax)
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail(ErrSyntax)
				}
				if utf16.IsSurrogate(r) {
					// Must be a high surrogate followed by \u low surrogate.
					if r >= 0xdc00 || !strings.HasPrefix(p.s[p.i:], `\u`) {
						return "", p.fail(ErrUTF8)
					}
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", p.fail(ErrSyntax)
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", p.fail(ErrUTF8)
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.fail(ErrSyntax)
			}
		case c < 0x20:
			return "", p.fail(ErrSyntax)
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail(ErrUTF8)
			}
			b = append(b, p.s[p.i:p.i+size]...)
			p.i += size
		}
	}
	return "", p.fail(ErrSyntax)
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for j := 0; j < 4; j++ {
		c := p.s[p.i+j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

// number validates the RFC 8259 number grammar and returns its text.
func (p *parser) number() (json.Number, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.s) {
		return "", p.fail(ErrSyntax)
	}
	switch c := p.s[p.i]; {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return "", p.fail(ErrSyntax)
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return "", p.fail(ErrSyntax)
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return "", p.fail(ErrSyntax)
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// equalFold reports whether a and b are equal under simple case folding,
// with an allocation-free ASCII fast path.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		// Case variants of non-ASCII text can differ in length.
		if isASCII(a) && isASCII(b) {
			return false
		}
		return strings.EqualFold(a, b)
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca >= utf8.RuneSelf || cb >= utf8.RuneSelf {
			return strings.EqualFold(a, b)
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// fold maps s to a canonical case-folded form: two strings that equalFold
// each other have the same fold.
func fold(s string) string {
	if isASCII(s) {
		// For ASCII letters the smallest rune of the fold orbit is the
		// upper-case one (K < k < U+212A KELVIN SIGN).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		// The smallest rune of r's fold orbit is a canonical representative.
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		b.WriteRune(m)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
