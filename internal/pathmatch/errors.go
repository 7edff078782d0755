package pathmatch

import "errors"

// Sentinels callers branch on with errors.Is. The mapping to HTTP status
// belongs to the enforcer: ErrBadRequest → 400, ErrTooLong → 414.
var (
	// ErrBadRequest is matched by every error that means "this request target
	// or method is malformed or ambiguous": a non-canonical path in strict mode,
	// a path Keycloak could not parse in Keycloak mode, a badly formed method or
	// a method-override attempt.
	ErrBadRequest = errors.New("pathmatch: malformed request")
	// ErrTooLong is matched when the raw path exceeds [Limits] (bytes or
	// segments). It does not match ErrBadRequest: the answer is 414, not 400.
	ErrTooLong = errors.New("pathmatch: request target too long")
	// ErrInvalidTemplate is matched by every [*TemplateError].
	ErrInvalidTemplate = errors.New("pathmatch: invalid path template")
)

// RequestError describes why a request target or method was refused. Reason
// is fixed text chosen by this package; it never contains any part of the
// request (no path, query or header value), so it is safe to log and to send
// to a client. The values returned by this package are shared and must not
// be modified.
type RequestError struct {
	// Reason is a short fixed description, e.g. "encoded dot (%2E)".
	Reason  string
	tooLong bool
}

func (e *RequestError) Error() string { return "pathmatch: rejected request: " + e.Reason }

// Is makes a RequestError match ErrTooLong or ErrBadRequest.
func (e *RequestError) Is(target error) bool {
	if e.tooLong {
		return target == ErrTooLong
	}
	return target == ErrBadRequest
}

func badRequest(reason string) *RequestError { return &RequestError{Reason: reason} }

// Pre-allocated so that rejecting hostile input costs no allocation.
var (
	errNotOriginForm    = badRequest("request target is not in origin-form")
	errFragment         = badRequest("request target contains '#'")
	errPathTooLong      = &RequestError{Reason: "path exceeds the byte limit", tooLong: true}
	errTooManySegments  = &RequestError{Reason: "path exceeds the segment limit", tooLong: true}
	errControl          = badRequest("control character or space in path")
	errNonASCII         = badRequest("raw non-ASCII byte in path")
	errBackslash        = badRequest("backslash in path")
	errSemicolon        = badRequest("';' (matrix parameter) in path")
	errIllegalByte      = badRequest("character that must be percent-encoded in path")
	errBadEscape        = badRequest("malformed percent-encoding")
	errEncodedDot       = badRequest("encoded dot (%2E)")
	errEncodedSlash     = badRequest("encoded slash or backslash (%2F, %5C)")
	errEncodedPercent   = badRequest("encoded percent sign (%25)")
	errEncodedSemicolon = badRequest("encoded semicolon (%3B)")
	errEncodedControl   = badRequest("encoded control character")
	errBadUTF8          = badRequest("percent-encoded bytes are not valid shortest-form UTF-8")
	errForbiddenRune    = badRequest("percent-encoded line separator or C1 control")
	errEmptySegment     = badRequest("empty path segment")
	errDotSegment       = badRequest("'.' or '..' path segment")
	errAboveRoot        = badRequest("'..' above the root")
	errUnparsable       = badRequest("path cannot be parsed as a URI")
	errBadMethod        = badRequest("method is not an upper-case RFC 9110 token")
	errOverride         = badRequest("HTTP method override present")
	errBadOverride      = badRequest("HTTP method override is malformed or ambiguous")
)

// TemplateError reports a path template refused by [ValidateTemplate] or
// [Compile]. Templates come from configuration, not from requests, so the
// template text is included.
type TemplateError struct {
	// Index is the template's position in the slice given to Compile (0 for
	// ValidateTemplate).
	Index int
	// Template is the offending template.
	Template string
	// Problem names what is wrong, e.g. "nested '{'".
	Problem string
}

func (e *TemplateError) Error() string {
	return "pathmatch: invalid path template " + quote(e.Template) + ": " + e.Problem
}

// Is makes a TemplateError match ErrInvalidTemplate.
func (e *TemplateError) Is(target error) bool { return target == ErrInvalidTemplate }

// quote is strconv.Quote without the import weight in the error path of a
// hot package; templates are configuration, so quoting is for readability.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hexUpper[c>>4], hexUpper[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}
