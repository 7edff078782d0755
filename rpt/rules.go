package rpt

import (
	"fmt"
	"slices"
	"time"
)

// Defaults and bounds for [ClaimRules].
const (
	DefaultLeeway      = 60 * time.Second
	MaxLeeway          = 300 * time.Second
	DefaultMaxLifetime = 24 * time.Hour
)

// ClaimRules are the claim checks applied to a token after its signature
// verified (by [Verifier]) or to an active introspection response (by the
// introspection package). The zero value of each field is documented; the
// zero ClaimRules itself is invalid (no issuer, no audience).
//
// ClaimRules is plain data and safe for concurrent use once built.
type ClaimRules struct {
	// Issuer is compared with iss exactly (byte for byte, no normalization:
	// catalogue B12). Required.
	Issuer string `json:"issuer"`
	// IssuerOptional accepts a token or introspection response WITHOUT iss
	// (Keycloak's RPT introspection responses omit it). A present iss must
	// still equal Issuer. Default false: iss is required.
	IssuerOptional bool `json:"issuer-optional,omitempty"`
	// Audience: aud must contain at least one of these values. Required (an
	// audience is always configured: B8).
	Audience []string `json:"audience"`
	// AllowedAuthorizedParties, if non-empty, is an allow-list for azp; azp
	// must then be present and on the list (B11). Default: azp not checked.
	AllowedAuthorizedParties []string `json:"allowed-authorized-parties,omitempty"`
	// TokenTypes are the accepted values of Keycloak's "typ" claim, compared
	// exactly; a missing typ is rejected (B14, B15). Default ["Bearer"].
	TokenTypes []string `json:"token-types,omitempty"`
	// Leeway is the clock skew allowed for exp, nbf and iat. 0 means
	// [DefaultLeeway] (60 s); a negative value means no leeway; more than
	// [MaxLeeway] (300 s) is a configuration error.
	Leeway time.Duration `json:"leeway,omitempty"`
	// MaxLifetime caps exp − iat (B7, B20). 0 means [DefaultMaxLifetime]
	// (24 h); negative is a configuration error.
	MaxLifetime time.Duration `json:"max-lifetime,omitempty"`
	// MaxAge, if positive, rejects tokens whose iat is older than now −
	// MaxAge − Leeway (B5). Default 0: not checked.
	MaxAge time.Duration `json:"max-age,omitempty"`
	// SubjectOptional accepts tokens without a non-empty sub (B19).
	// Default false: sub is required. (Keycloak's RPT introspection responses
	// omit sub; set this for them.)
	SubjectOptional bool `json:"subject-optional,omitempty"`
}

// Check reports whether the rules are usable; errors match [ErrConfig].
func (r ClaimRules) Check() error {
	switch {
	case r.Issuer == "":
		return fmt.Errorf("%w: issuer is required", ErrConfig)
	case len(r.Audience) == 0 || slices.Contains(r.Audience, ""):
		return fmt.Errorf("%w: audience is required and must not contain empty values", ErrConfig)
	case r.Leeway > MaxLeeway:
		return fmt.Errorf("%w: leeway above %s", ErrConfig, MaxLeeway)
	case r.MaxLifetime < 0 || r.MaxAge < 0:
		return fmt.Errorf("%w: negative max lifetime or max age", ErrConfig)
	case slices.Contains(r.TokenTypes, ""):
		return fmt.Errorf("%w: empty token type", ErrConfig)
	}
	return nil
}

func (r ClaimRules) leeway() time.Duration {
	switch {
	case r.Leeway == 0:
		return DefaultLeeway
	case r.Leeway < 0:
		return 0
	default:
		return r.Leeway
	}
}

func (r ClaimRules) maxLifetime() time.Duration {
	if r.MaxLifetime == 0 {
		return DefaultMaxLifetime
	}
	return r.MaxLifetime
}

// Validate applies the rules to c at time now and returns nil or the first
// failure, wrapped around one of the rpt sentinels: [ErrIssuer],
// [ErrAudience], [ErrTokenType], [ErrClaims], an [*ExpiredError] (matches
// [ErrExpired]), [ErrNotYetValid] or [ErrIssuedAt]. Invalid rules give an
// error matching [ErrConfig]. Errors never contain claim values.
//
// Time rules: exp is required and the token is expired when now ≥ exp +
// leeway (so exp == now is expired without leeway: RFC 7519 §4.1.4); nbf, if
// present, must be ≤ now + leeway; iat is required, must be ≤ now + leeway
// and ≤ exp, and exp − iat must not exceed MaxLifetime. Values are already
// clamped by [ClaimsFromMap], so nothing here can overflow.
func (r ClaimRules) Validate(c *Claims, now time.Time) error {
	if err := r.Check(); err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("%w: no claims", ErrMalformed)
	}
	switch {
	case c.Issuer == "" && r.IssuerOptional:
	case c.Issuer != r.Issuer:
		return ErrIssuer
	}
	if !audienceMatches(c.Audience, r.Audience) {
		return ErrAudience
	}
	if len(r.AllowedAuthorizedParties) > 0 &&
		(c.AuthorizedParty == "" || !slices.Contains(r.AllowedAuthorizedParties, c.AuthorizedParty)) {
		return fmt.Errorf("%w: authorized party not allowed", ErrAudience)
	}
	types := r.TokenTypes
	if len(types) == 0 {
		types = defaultTokenTypes
	}
	if !slices.Contains(types, c.Type) {
		return ErrTokenType
	}
	leeway := r.leeway()
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: exp missing", ErrClaims)
	}
	if !now.Before(c.ExpiresAt.Add(leeway)) {
		return &ExpiredError{Expiry: c.ExpiresAt}
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(leeway)) {
		return ErrNotYetValid
	}
	switch {
	case c.IssuedAt.IsZero():
		return fmt.Errorf("%w: iat missing", ErrIssuedAt)
	case c.IssuedAt.After(now.Add(leeway)):
		return fmt.Errorf("%w: iat in the future", ErrIssuedAt)
	case c.IssuedAt.After(c.ExpiresAt):
		return fmt.Errorf("%w: iat after exp", ErrIssuedAt)
	case r.MaxAge > 0 && now.Sub(c.IssuedAt) > r.MaxAge+leeway:
		return fmt.Errorf("%w: token older than the maximum age", ErrIssuedAt)
	}
	if c.ExpiresAt.Sub(c.IssuedAt) > r.maxLifetime() {
		return fmt.Errorf("%w: lifetime above the maximum", ErrClaims)
	}
	if c.Subject == "" && !r.SubjectOptional {
		return fmt.Errorf("%w: sub missing", ErrClaims)
	}
	return nil
}

var defaultTokenTypes = []string{"Bearer"}

func audienceMatches(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}
