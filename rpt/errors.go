package rpt

import (
	"errors"
	"time"
)

// ErrInvalidToken is matched (with errors.Is) by every error that means "this
// token must not be accepted": malformed input, an unsupported algorithm, an
// unknown key, a bad signature, or a failed claim check. Callers that only need
// to tell "reject with 401" from "dependency down, answer 503" branch on
// ErrInvalidToken versus [ErrUnavailable].
var ErrInvalidToken = errors.New("rpt: invalid token")

// tokenError is the type of the sentinels below. Each one also matches
// ErrInvalidToken, so the coarse and the fine check both work with errors.Is.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// Is makes every token sentinel match ErrInvalidToken.
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }

// The sentinels callers branch on. They are immutable; functions wrap them
// with %w to add detail, and the detail never contains token material.
var (
	// ErrMalformed: not a compact JWS, bad base64url, bad JSON, wrong claim types,
	// duplicate or case-variant keys, over the size cap.
	ErrMalformed error = &tokenError{"rpt: malformed token"}
	// ErrUnsupportedAlg: the header's alg is not on the configured allow-list, or
	// does not fit the selected key.
	ErrUnsupportedAlg error = &tokenError{"rpt: unsupported signing algorithm"}
	// ErrKeyNotFound: no usable key for the token's kid, even after a refresh.
	ErrKeyNotFound error = &tokenError{"rpt: signing key not found"}
	// ErrSignatureInvalid: the signature does not verify with the selected key.
	ErrSignatureInvalid error = &tokenError{"rpt: signature invalid"}
	// ErrExpired: exp is at or before now minus the leeway.
	ErrExpired error = &tokenError{"rpt: token expired"}
	// ErrNotYetValid: nbf is after now plus the leeway.
	ErrNotYetValid error = &tokenError{"rpt: token not valid yet"}
	// ErrIssuedAt: iat missing, in the future, or older than the maximum age.
	ErrIssuedAt error = &tokenError{"rpt: token issued-at invalid"}
	// ErrIssuer: iss differs from the configured issuer (exact comparison).
	ErrIssuer error = &tokenError{"rpt: token issuer mismatch"}
	// ErrAudience: aud does not name the resource server, or azp is not allowed.
	ErrAudience error = &tokenError{"rpt: token audience mismatch"}
	// ErrTokenType: the Keycloak typ claim (or the typ header) is not accepted,
	// for example an ID or refresh token presented as an access token.
	ErrTokenType error = &tokenError{"rpt: token type not accepted"}
	// ErrClaims: any other failed claim rule (missing sub, lifetime above the
	// maximum, too many permissions).
	ErrClaims error = &tokenError{"rpt: token claims invalid"}
)

// ErrUnavailable means no decision could be made because a dependency (the
// JWKS endpoint) is unreachable and no usable cached keys exist. It does NOT
// match ErrInvalidToken: the right answer is 503, not 401.
var ErrUnavailable = errors.New("rpt: verification keys unavailable")

// ErrConfig reports an invalid [Config] or [ClaimRules] (for example a
// leeway above 300 s, an HS* algorithm with JWKS keys, or no audience). It
// does not match ErrInvalidToken.
var ErrConfig = errors.New("rpt: invalid configuration")

// ErrDiscovery reports a failed or inconsistent provider discovery
// ([Discover]): unreachable endpoint, malformed document, or an issuer that
// differs from the expected one (security catalogue H6).
var ErrDiscovery = errors.New("rpt: discovery failed")

// ExpiredError is returned when exp is at or before now minus the leeway. It
// matches [ErrExpired] (and so [ErrInvalidToken]) with errors.Is; use
// errors.As to read Expiry.
type ExpiredError struct {
	Expiry time.Time // the token's exp
}

func (e *ExpiredError) Error() string { return ErrExpired.Error() }

// Is reports whether target is ErrExpired or ErrInvalidToken.
func (e *ExpiredError) Is(target error) bool {
	return target == ErrExpired || target == ErrInvalidToken
}
