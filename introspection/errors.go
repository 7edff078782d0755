package introspection

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// sentinelError is the type of this package's sentinels. Each one also
// matches its parents with errors.Is, so a coarse check (rpt.ErrInvalidToken,
// rpt.ErrUnavailable) and a fine one (ErrInactive, ErrClientAuth) both work.
type sentinelError struct {
	msg     string
	parents []error
}

func (e *sentinelError) Error() string { return e.msg }

// Is reports whether target is one of the sentinel's parents (transitively).
func (e *sentinelError) Is(target error) bool {
	for _, p := range e.parents {
		if p == target || errors.Is(p, target) {
			return true
		}
	}
	return false
}

// The sentinels callers branch on with errors.Is. None of them, and no error
// this package returns, ever contains the token, the client secret or the
// authorization server's error body.
var (
	// ErrInactive: the authorization server answered {"active": false} — the
	// token is unknown, expired, revoked or was issued to someone else. It also
	// matches rpt.ErrInvalidToken (answer 401).
	ErrInactive error = &sentinelError{"introspection: token is not active", []error{rpt.ErrInvalidToken}}

	// ErrUnavailable: no decision could be made because the introspection
	// endpoint failed (5xx, timeout, refused connection, TLS failure, a
	// malformed answer, or it rejected our client credentials). It also
	// matches rpt.ErrUnavailable and never matches rpt.ErrInvalidToken
	// (answer 503, not 401). Errors carrying a Retry-After hint are
	// *UnavailableError values.
	ErrUnavailable error = &sentinelError{"introspection: authorization server unavailable", []error{rpt.ErrUnavailable}}

	// ErrClientAuth: the introspection endpoint rejected this client's own
	// authentication (HTTP 401 or 403): a wrong, rotated or expired client
	// secret or key, or a public client. It is an operator problem, not the
	// caller's: it matches ErrUnavailable (answer 503) and should alert.
	ErrClientAuth error = &sentinelError{
		"introspection: the authorization server rejected this client's credentials (check client id, secret or key, and that the client is confidential)",
		[]error{ErrUnavailable},
	}

	// ErrMalformedResponse: the endpoint answered 200 but not with a well-formed
	// RFC 7662 response (wrong content type, not strict JSON, duplicate keys,
	// trailing data, over the size cap, "active" missing or not a JSON
	// boolean). It matches ErrUnavailable: a malformed answer is never taken
	// as "inactive" and never cached as such.
	ErrMalformedResponse error = &sentinelError{"introspection: malformed response", []error{ErrUnavailable}}
)

// UnavailableError is returned when the introspection endpoint could not give
// an answer. It matches ErrUnavailable (and rpt.ErrUnavailable) with
// errors.Is; Err, when set, says why (ErrClientAuth, ErrMalformedResponse, a
// transport error) and is reachable through errors.Is/As.
//
// The error text names the HTTP status and the cause class only; the
// authorization server's body is never included.
type UnavailableError struct {
	// StatusCode is the HTTP status the endpoint answered with, or 0 when no
	// answer arrived (timeout, refused connection, TLS failure).
	StatusCode int
	// RetryAfter is how long the caller should wait before trying again: the
	// server's Retry-After header when present, otherwise the client's error
	// backoff. Never negative.
	RetryAfter time.Duration
	// Err is the cause; may be nil.
	Err error
}

// Error implements error. It never contains the token or the secret.
func (e *UnavailableError) Error() string {
	msg := "introspection: authorization server unavailable"
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + strings.TrimPrefix(e.Err.Error(), "introspection: ")
	}
	return msg
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes every *UnavailableError match ErrUnavailable and rpt.ErrUnavailable.
func (e *UnavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == rpt.ErrUnavailable
}

// errTimeout is the cause recorded when the endpoint did not answer within
// Config.Timeout. It deliberately does not wrap context.DeadlineExceeded, so
// callers do not mistake an upstream timeout for their own deadline.
var errTimeout = errors.New("introspection: request timed out")
