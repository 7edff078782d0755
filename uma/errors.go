package uma

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinels callers branch on with [errors.Is]. They are immutable. Errors
// returned by this package wrap them (or are an [*Error] whose Is method
// matches them); the text of a returned error never contains a token, a
// secret or the authorization server's error_description.
var (
	// ErrAccessDenied: the authorization server denied the request
	// (403 access_denied, also UMA's request_denied). An [ErrRequestSubmitted]
	// error matches ErrAccessDenied too.
	ErrAccessDenied = errors.New("uma: access denied")
	// ErrRequestSubmitted: denied, but a permission request was recorded for
	// the resource owner (403 access_denied "request_submitted", or UMA's
	// request_submitted error code).
	ErrRequestSubmitted = errors.New("uma: access denied, request submitted")
	// ErrInvalidTicket: the permission ticket is invalid or expired.
	ErrInvalidTicket = errors.New("uma: invalid permission ticket")
	// ErrInvalidGrant: invalid_grant (for example an invalid bearer token, or a
	// public client pushing claims without a ticket).
	ErrInvalidGrant = errors.New("uma: invalid grant")
	// ErrNeedInfo: UMA need_info; more claims are required.
	ErrNeedInfo = errors.New("uma: more information needed")
	// ErrInvalidClient: client authentication failed.
	ErrInvalidClient = errors.New("uma: invalid client")
	// ErrInvalidRPT: the rpt parameter was rejected by the server.
	ErrInvalidRPT = errors.New("uma: invalid RPT")
	// ErrInvalidRequest: invalid_request from the server, or a request this
	// package refused to send (bad parameters).
	ErrInvalidRequest = errors.New("uma: invalid request")
	// ErrInvalidResource: invalid_resource (unknown resource in a UMA grant).
	ErrInvalidResource = errors.New("uma: invalid resource")
	// ErrInvalidResourceID: invalid_resource_id (permission endpoint).
	ErrInvalidResourceID = errors.New("uma: invalid resource id")
	// ErrInvalidScope: invalid_scope (unknown scope, or a PAT lacking
	// uma_protection).
	ErrInvalidScope = errors.New("uma: invalid scope")
	// ErrUnauthorizedClient: unauthorized_client (for example an invalid
	// subject_token: "Invalid identity").
	ErrUnauthorizedClient = errors.New("uma: unauthorized client")
	// ErrNotFound: the Protection API answered 404.
	ErrNotFound = errors.New("uma: not found")
	// ErrUnavailable: no answer could be obtained: a transport error, a timeout,
	// a 5xx status, an oversized or malformed answer. The right response to an
	// end user is 503, never the details.
	ErrUnavailable = errors.New("uma: authorization server unavailable")
	// ErrRPTRejected: the token endpoint issued an RPT that failed
	// verification (signature or claims). The error also wraps the verifier's
	// error (for example rpt.ErrSignatureInvalid).
	ErrRPTRejected = errors.New("uma: RPT from authorization server rejected")
	// ErrForeignAuthorizationServer: a UMA challenge names an as_uri other than
	// this client's issuer; the ticket is not sent there.
	ErrForeignAuthorizationServer = errors.New("uma: challenge names a foreign authorization server")
	// ErrMalformedChallenge: a WWW-Authenticate value could not be parsed, has
	// no UMA challenge, or has an invalid one.
	ErrMalformedChallenge = errors.New("uma: malformed WWW-Authenticate challenge")
)

// Error is an error answer of the authorization server in the RFC 6749 §5.2
// shape. Status is the HTTP status, Code the "error" value, Description and URI
// the optional "error_description" and "error_uri". Description and URI are
// server-provided text: Error() does not include them, and they must never be
// shown to end users (they can name internal hosts and realms). Code is kept
// only when it is a well-formed RFC 6749 error code of at most 64 characters.
//
// Match with [errors.As]; errors.Is matches the sentinel for the code
// (ErrAccessDenied, ErrInvalidTicket, …) and ErrUnavailable for 5xx, 429
// and 3xx statuses.
type Error struct {
	Status      int
	Code        string
	Description string
	URI         string
	// Endpoint names the endpoint that answered ("token", "permission",
	// "resource_set"), for diagnostics.
	Endpoint string
}

// Error implements error. It names the endpoint, status and code only.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("uma: ")
	if e.Endpoint != "" {
		b.WriteString(e.Endpoint)
		b.WriteString(" endpoint ")
	}
	fmt.Fprintf(&b, "answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	return b.String()
}

// Is maps the error code (and for access_denied the description) to the
// package sentinels.
func (e *Error) Is(target error) bool {
	// 5xx, 429 and (never followed) redirects mean no usable answer.
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests || (e.Status >= 300 && e.Status < 400) {
		if target == ErrUnavailable {
			return true
		}
	}
	switch target {
	case ErrAccessDenied:
		return e.Code == "access_denied" || e.Code == "request_denied" || e.Code == "request_submitted"
	case ErrRequestSubmitted:
		return e.Code == "request_submitted" || (e.Code == "access_denied" && e.Description == "request_submitted")
	case ErrInvalidTicket:
		return e.Code == "invalid_ticket"
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	case ErrNeedInfo:
		return e.Code == "need_info"
	case ErrInvalidClient:
		return e.Code == "invalid_client"
	case ErrInvalidRPT:
		return e.Code == "invalid_rpt"
	case ErrInvalidRequest:
		return e.Code == "invalid_request" || e.Code == "invalid_permission_request"
	case ErrInvalidResource:
		return e.Code == "invalid_resource"
	case ErrInvalidResourceID:
		return e.Code == "invalid_resource_id"
	case ErrInvalidScope:
		return e.Code == "invalid_scope"
	case ErrUnauthorizedClient:
		return e.Code == "unauthorized_client"
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// unavailableError is a transport-level failure: it matches ErrUnavailable
// and unwraps to its cause (context.DeadlineExceeded, a net.Error, …).
type unavailableError struct {
	op    string
	cause error
}

func (e *unavailableError) Error() string {
	if e.cause == nil {
		return "uma: " + e.op + ": authorization server unavailable"
	}
	return "uma: " + e.op + ": authorization server unavailable: " + e.cause.Error()
}

func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.cause}
}

func unavailable(op string, cause error) error { return &unavailableError{op: op, cause: cause} }

// malformed reports an answer that could not be decoded. The detail is fixed
// text chosen by this package, never server content.
func malformed(op, detail string) error {
	return &unavailableError{op: op, cause: errors.New("malformed answer: " + detail)}
}

// invalidRequest is a request this package refuses to send.
func invalidRequest(detail string) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, detail)
}

// sanitizeCode keeps an RFC 6749 error code (NQSCHAR minus space) of at most
// 64 characters; anything else becomes "".
func sanitizeCode(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return ""
		}
	}
	return s
}

// sanitizeText keeps at most maxLen bytes of printable text (control
// characters become spaces). It is used for error_description and error_uri,
// which stay in fields and are never formatted into error text.
func sanitizeText(s string, maxLen int) string {
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
