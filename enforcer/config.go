package enforcer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rptguard/rptguard/internal/pathmatch"
)

// ErrInvalidConfig is matched (with errors.Is) by every error ParseConfig,
// LoadConfig, ParseConfigStrict and [Config.Validate] return for a bad
// configuration. The concrete error is a [*ConfigError] (or several of them
// joined with errors.Join) naming the offending field.
var ErrInvalidConfig = errors.New("enforcer: invalid config")

// ErrUnknownKey is wrapped by the [*ConfigError] that [ParseConfigStrict]
// returns for a key Keycloak's own parser would reject, and by the error for
// an unknown key inside an "rptguard" object (always rejected).
var ErrUnknownKey = errors.New("unknown key")

// ConfigError names the configuration field that failed to parse or validate.
// Field is a path in the JSON document, for example
// "paths[3].methods[0].scopes-enforcement-mode". The error text never contains
// a credential.
type ConfigError struct {
	Field string
	Err   error
}

// Error returns "enforcer: invalid config: <field>: <problem>".
func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "enforcer: invalid config: " + e.Err.Error()
	}
	return "enforcer: invalid config: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the underlying cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is makes every ConfigError match [ErrInvalidConfig].
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func cfgErr(field string, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// prefixErr prepends prefix to the Field of every *ConfigError in err.
func prefixErr(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = prefixErr(prefix, e)
		}
		return errors.Join(out...)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		f := prefix
		switch {
		case ce.Field == "":
		case strings.HasPrefix(ce.Field, "["):
			f += ce.Field
		default:
			f += "." + ce.Field
		}
		return &ConfigError{Field: f, Err: ce.Err}
	}
	return &ConfigError{Field: prefix, Err: err}
}

// Limits applied while parsing.
const (
	// MaxConfigSize is the largest configuration document ParseConfig and
	// LoadConfig accept (16 MiB).
	MaxConfigSize = 16 << 20
	// DefaultPathCacheMaxEntries is Keycloak's default path-cache max-entries.
	DefaultPathCacheMaxEntries = 1000
	// DefaultPathCacheLifespan is Keycloak's default path-cache lifespan in
	// milliseconds.
	DefaultPathCacheLifespan = 30000
	// DefaultMaxBodyBytes is the default for [Settings.MaxBodyBytes]: how much
	// of a request body a claim information point may buffer (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxTokenSize is the default for [Settings.MaxTokenSize] (16 KiB).
	DefaultMaxTokenSize = 16 << 10
	// DefaultIntrospectionInterval is the default for
	// [Settings.IntrospectionInterval] in hybrid mode.
	DefaultIntrospectionInterval = time.Minute

	maxLeeway          = 300 * time.Second
	maxCacheEntries    = 10_000_000
	maxCacheTTL        = 24 * time.Hour
	maxStaleness       = 24 * time.Hour
	maxLifespanMillis  = 30 * 24 * 3600 * 1000
	maxTimeoutMillis   = 10 * 60 * 1000
	maxTokenMinTTL     = 24 * 3600
	maxTokenSizeCap    = 1 << 20
	minTokenSizeCap    = 1 << 10
	maxBodyBytesCap    = 64 << 20
	maxStringFieldSize = 4096
)

// ---------------------------------------------------------------------------
// Keycloak enums

// EnforcementMode is Keycloak's enforcement-mode (global and per path). The
// zero value is EnforcementEnforcing, Keycloak's default.
type EnforcementMode int

// Enforcement modes (SPEC §1.2, §1.3).
const (
	// EnforcementEnforcing denies requests to unconfigured paths (global) or
	// requires a permission (per path). Default.
	EnforcementEnforcing EnforcementMode = iota
	// EnforcementPermissive grants authenticated requests to unconfigured
	// paths (global), or grants a path when the token holds no permission for
	// its resource at all (per path). Never use in production without a reason.
	EnforcementPermissive
	// EnforcementDisabled switches enforcement off (global) or makes a path
	// public, anonymous requests included (per path).
	EnforcementDisabled
)

var enforcementModeNames = [...]string{"ENFORCING", "PERMISSIVE", "DISABLED"}

// String returns the Keycloak spelling ("ENFORCING", "PERMISSIVE", "DISABLED").
func (m EnforcementMode) String() string {
	if m >= 0 && int(m) < len(enforcementModeNames) {
		return enforcementModeNames[m]
	}
	return "EnforcementMode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalJSON writes the Keycloak spelling.
func (m EnforcementMode) MarshalJSON() ([]byte, error) {
	if m < 0 || int(m) >= len(enforcementModeNames) {
		return nil, fmt.Errorf("enforcer: invalid enforcement mode %d", int(m))
	}
	return json.Marshal(m.String())
}

// UnmarshalJSON accepts exactly "ENFORCING", "PERMISSIVE" or "DISABLED"
// (case-sensitive, as Keycloak's Jackson parser). Anything else is an error:
// a misspelled mode never falls back silently (security catalogue H11).
func (m *EnforcementMode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a string")
	}
	for i, n := range enforcementModeNames {
		if s == n {
			*m = EnforcementMode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown value %s (want ENFORCING, PERMISSIVE or DISABLED)", quoteTrunc(s))
}

// ScopesEnforcementMode is a method's scopes-enforcement-mode. The zero value
// is ScopesAll, Keycloak's default for configured methods.
type ScopesEnforcementMode int

// Scopes enforcement modes (SPEC §1.4).
const (
	// ScopesAll: the permission must grant every listed scope. Default.
	ScopesAll ScopesEnforcementMode = iota
	// ScopesAny: at least one listed scope.
	ScopesAny
	// ScopesDisabled: the method is granted even without permission, after
	// the normal check (and an RPT request) failed.
	ScopesDisabled
)

var scopesModeNames = [...]string{"ALL", "ANY", "DISABLED"}

// String returns the Keycloak spelling ("ALL", "ANY", "DISABLED").
func (m ScopesEnforcementMode) String() string {
	if m >= 0 && int(m) < len(scopesModeNames) {
		return scopesModeNames[m]
	}
	return "ScopesEnforcementMode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalJSON writes the Keycloak spelling.
func (m ScopesEnforcementMode) MarshalJSON() ([]byte, error) {
	if m < 0 || int(m) >= len(scopesModeNames) {
		return nil, fmt.Errorf("enforcer: invalid scopes enforcement mode %d", int(m))
	}
	return json.Marshal(m.String())
}

// UnmarshalJSON accepts exactly "ALL", "ANY" or "DISABLED" (case-sensitive).
func (m *ScopesEnforcementMode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a string")
	}
	for i, n := range scopesModeNames {
		if s == n {
			*m = ScopesEnforcementMode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown value %s (want ALL, ANY or DISABLED)", quoteTrunc(s))
}

// ---------------------------------------------------------------------------
// Config model

// Config is Keycloak's policy-enforcer configuration (PolicyEnforcerConfig plus
// the connection fields and the adapter keys rptguard honours), with rptguard's
// own settings under the extension key "rptguard". JSON tags are Keycloak's
// keys, so an existing policy-enforcer.json loads unchanged through
// [ParseConfig] or [LoadConfig].
//
// Config is plain data. Build it by hand or parse it; call [Config.Validate]
// before using a hand-built value (ParseConfig already does). A Config must
// not be modified while an enforcer built from it is running.
type Config struct {
	// EnforcementMode is the global mode. The zero value is ENFORCING.
	EnforcementMode EnforcementMode `json:"enforcement-mode"`
	// Paths are the statically configured paths, in configuration order.
	// ParseConfig merges entries with the same Path (Keycloak §1.3). If empty,
	// paths are discovered from the server.
	Paths []PathConfig `json:"paths,omitempty"`
	// PathCache configures the path cache. Its presence also switches on
	// server lookups for unmatched and wildcard paths (SPEC §2.6). If nil,
	// the cache uses Keycloak's defaults (1000 entries, 30 s) and no such
	// lookups happen.
	PathCache *PathCacheConfig `json:"path-cache,omitempty"`
	// LazyLoadPaths resolves paths on demand instead of loading all resources
	// at start-up. If false, Keycloak's start-up loading rules apply (§1.6).
	LazyLoadPaths bool `json:"lazy-load-paths,omitempty"`
	// OnDenyRedirectTo, if set, makes denials of non-bearer requests answer
	// 302 to this location. It must be a relative path starting with a single
	// '/' (no scheme, host, backslash, whitespace or control characters;
	// security catalogue I7). The request whose canonical path equals it
	// exactly is the deny page (F18). If empty, denials answer 403.
	OnDenyRedirectTo string `json:"on-deny-redirect-to,omitempty"`
	// UserManagedAccess, if non-nil, enables the UMA flow: no RPT is fetched
	// and bearer denials answer 401 with a permission ticket. If nil, the
	// enforcer requests RPTs itself.
	UserManagedAccess *UserManagedAccessConfig `json:"user-managed-access,omitempty"`
	// ClaimInformationPoint is the global claim information point, provider
	// name → provider configuration (built-in providers "claims" and "http",
	// SPEC §7). Unknown provider names are ignored, as in Keycloak. If nil,
	// no global claims are pushed. Values are stored as compact JSON.
	ClaimInformationPoint map[string]json.RawMessage `json:"claim-information-point,omitempty"`
	// HTTPMethodAsScope, when a path has no method config for the request
	// method, requires a scope named like the method (GET, POST, …). If
	// false, the path's scopes are required (ANY).
	HTTPMethodAsScope bool `json:"http-method-as-scope,omitempty"`

	// Realm is the realm name. If empty, the enforcer must be given the
	// issuer by other means.
	Realm string `json:"realm,omitempty"`
	// AuthServerURL is the server root, e.g. "https://kc.example.com" (old
	// servers: ".../auth"). It must be an absolute https URL; plain http is
	// accepted for loopback hosts, or anywhere with
	// [Settings.InsecureAllowHTTP]. If empty, the enforcer must be given the
	// server by other means.
	AuthServerURL string `json:"auth-server-url,omitempty"`
	// Resource is the client_id of the resource server, also the default
	// expected audience. If empty, audience checks need [Settings.Audience].
	Resource string `json:"resource,omitempty"`
	// Credentials authenticate the resource server at the token endpoint. If
	// zero, the client is treated as public.
	Credentials Credentials `json:"credentials,omitzero"`

	// BearerOnly treats every request as a bearer request (no redirects). If
	// false, only requests with an Authorization: Bearer header are.
	BearerOnly bool `json:"bearer-only,omitempty"`
	// PublicClient sends client_id as a form parameter instead of
	// authenticating. If false, Credentials are used.
	PublicClient bool `json:"public-client,omitempty"`
	// SSLRequired is Keycloak's ssl-required ("external", "all" or "none",
	// case-insensitive, stored lower-case). If empty, "external".
	SSLRequired string `json:"ssl-required,omitempty"`
	// VerifyTokenAudience requires the token's aud to contain Resource (or
	// [Settings.Audience]). If false, Keycloak's adapter skips the check;
	// rptguard's verifier may still enforce an audience it is given.
	VerifyTokenAudience bool `json:"verify-token-audience,omitempty"`
	// ConnectionTimeoutMillis bounds connection set-up to the server. If 0 or
	// -1 (Keycloak's "unset"), the HTTP client's own timeouts apply.
	ConnectionTimeoutMillis int64 `json:"connection-timeout-millis,omitempty"`
	// SocketTimeoutMillis bounds each outbound request. If 0 or -1, the HTTP
	// client's own timeouts apply.
	SocketTimeoutMillis int64 `json:"socket-timeout-millis,omitempty"`
	// TokenMinimumTimeToLive is subtracted (in seconds) from the PAT's expiry
	// before reuse. If 0, the PAT is reused until it expires.
	TokenMinimumTimeToLive int64 `json:"token-minimum-time-to-live,omitempty"`

	// RPTGuard holds rptguard's own settings (key "rptguard", ignored by
	// Keycloak). The zero value selects every default.
	RPTGuard Settings `json:"rptguard,omitzero"`
}

// PathConfig is one entry of "paths" (Keycloak PathConfig, SPEC §1.3).
type PathConfig struct {
	// Name binds the path to the server resource of that name. If empty, the
	// resource is looked up by URI.
	Name string `json:"name,omitempty"`
	// Path is the pattern relative to the application root (required; syntax
	// of SPEC §2.3, checked by the path matcher).
	Path string `json:"path"`
	// Type is informational. If empty, none.
	Type string `json:"type,omitempty"`
	// Methods are per-method scope requirements, searched in order. If empty,
	// an implicit method config is built per request (§1.4).
	Methods []MethodConfig `json:"methods,omitempty"`
	// Scopes are the path's default scopes, used with ANY semantics for
	// methods without a method config. If empty, none.
	Scopes []string `json:"scopes,omitempty"`
	// EnforcementMode for this path. The zero value is ENFORCING.
	EnforcementMode EnforcementMode `json:"enforcement-mode"`
	// ClaimInformationPoint is the per-path CIP, resolved after the global one
	// (same claim name: the path's wins). If nil, none.
	ClaimInformationPoint map[string]json.RawMessage `json:"claim-information-point,omitempty"`
	// ID is the resolved resource id. If empty, resolved at start-up.
	ID string `json:"id,omitempty"`
	// RPTGuard holds rptguard's per-path settings (key "rptguard"). The zero
	// value inherits the global [Settings].
	RPTGuard PathSettings `json:"rptguard,omitzero"`
}

// MethodConfig is one entry of a path's "methods" (SPEC §1.4).
type MethodConfig struct {
	// Method is the HTTP method, compared case-sensitively with the request
	// method; it must be an upper-case token (required).
	Method string `json:"method"`
	// Scopes are the scopes required for this method. If empty, any
	// permission for the resource suffices.
	Scopes []string `json:"scopes,omitempty"`
	// ScopesEnforcementMode is how Scopes are checked. The zero value is ALL.
	ScopesEnforcementMode ScopesEnforcementMode `json:"scopes-enforcement-mode"`
}

// PathCacheConfig is Keycloak's "path-cache". ParseConfig fills Keycloak's
// defaults for absent keys (max-entries 1000, lifespan 30000); in a
// hand-built value the zero values mean what they mean in Keycloak, so
// PathCacheConfig{} is a disabled cache.
type PathCacheConfig struct {
	// MaxEntries bounds the cache (1 to 10,000,000).
	MaxEntries int `json:"max-entries"`
	// Lifespan is the per-entry lifetime in milliseconds: -1 never expires, 0
	// disables the cache, otherwise 1 ms to 30 days. Keycloak also treats
	// values below -1 as "disabled"; rptguard rejects them as likely typos.
	Lifespan int64 `json:"lifespan"`
}

// TTL reports the entry lifetime and whether the cache is enabled. A zero ttl
// with enabled true means entries never expire.
func (p PathCacheConfig) TTL() (ttl time.Duration, enabled bool) {
	switch {
	case p.Lifespan == -1:
		return 0, p.MaxEntries > 0
	case p.Lifespan <= 0 || p.MaxEntries <= 0:
		return 0, false
	default:
		return time.Duration(p.Lifespan) * time.Millisecond, true
	}
}

// UserManagedAccessConfig is Keycloak's "user-managed-access" object. It has
// no fields: its presence enables the UMA flow. Keys inside it are ignored.
type UserManagedAccessConfig struct{}

// Secret is a credential value. It formats as "[redacted]" with fmt and slog
// so a logged Config never shows it; JSON encoding writes the real value.
type Secret string

// String returns "[redacted]" (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString returns a redacted Go syntax representation.
func (s Secret) GoString() string { return `enforcer.Secret("` + s.String() + `")` }

// Credentials is Keycloak's "credentials" map. Keys are matched
// case-insensitively, as Keycloak does. At most one of Secret, JWT and
// SecretJWT is normally set.
type Credentials struct {
	// Secret is the client secret for HTTP Basic authentication
	// (client_secret_basic, RFC 6749 §2.3.1 encoding). If empty, not used.
	// With several of Secret, JWT and SecretJWT set, Other["provider"]
	// (Keycloak's "provider" key) must name the one to use.
	Secret Secret
	// JWT configures private_key_jwt. If nil, not used.
	JWT *JWTCredentials
	// SecretJWT configures client_secret_jwt. If nil, not used.
	SecretJWT *SecretJWTCredentials
	// Other holds any other authenticator entries, by lower-cased key, as
	// compact JSON. If nil, none. rptguard does not use them.
	Other map[string]json.RawMessage
}

// JWTCredentials is the "jwt" credential (private_key_jwt).
// Fields mirror Keycloak's keys; empty fields are absent.
//
// rptguard reads the key from a PEM file only (no JKS or PKCS#12 keystore:
// the enforcer fails to start with a *ConfigError naming the field; convert
// with keytool/openssl, see credentials.go). The alias and the passwords are
// then unused. Assertions carry Keycloak's key id, base64url(SHA-256 of the
// public key's SubjectPublicKeyInfo).
type JWTCredentials struct {
	// ClientKeystoreFile is the path of the signing key: a PEM file with one
	// unencrypted PKCS#8, PKCS#1 (RSA) or SEC 1 (EC) private key, optionally
	// with certificates. "classpath:" locations are not supported.
	ClientKeystoreFile string `json:"client-keystore-file,omitempty"`
	// ClientKeystoreType is the keystore format. If empty (Keycloak: JKS),
	// the file must be PEM. "PEM" is an rptguard extension; "JKS" and
	// "PKCS12" are refused.
	ClientKeystoreType string `json:"client-keystore-type,omitempty"`
	// ClientKeystorePassword unlocks the keystore.
	ClientKeystorePassword Secret `json:"client-keystore-password,omitempty"`
	// ClientKeyAlias names the key. If empty, the resource (client id).
	ClientKeyAlias string `json:"client-key-alias,omitempty"`
	// ClientKeyPassword unlocks the key.
	ClientKeyPassword Secret `json:"client-key-password,omitempty"`
	// TokenExpiration is the assertion lifetime in seconds ("token-expiration"
	// or its alias "token-timeout"). If 0, 10 seconds.
	TokenExpiration int64 `json:"token-expiration,omitempty"`
	// Algorithm signs the assertion. If empty, by key type: RS256 (RSA),
	// ES256/ES384/ES512 (EC, by curve) or EdDSA (Ed25519).
	Algorithm string `json:"algorithm,omitempty"`
}

// SecretJWTCredentials is the "secret-jwt" credential (client_secret_jwt).
type SecretJWTCredentials struct {
	// Secret is the HMAC key (the client secret).
	Secret Secret `json:"secret,omitempty"`
	// Algorithm signs the assertion. If empty, HS256.
	Algorithm string `json:"algorithm,omitempty"`
}

// MarshalJSON writes the canonical lower-case keys.
func (c Credentials) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 3+len(c.Other))
	for k, v := range c.Other {
		m[k] = v
	}
	if c.Secret != "" {
		m["secret"] = string(c.Secret)
	}
	if c.JWT != nil {
		m["jwt"] = c.JWT
	}
	if c.SecretJWT != nil {
		m["secret-jwt"] = c.SecretJWT
	}
	return json.Marshal(m)
}

// ---------------------------------------------------------------------------
// rptguard settings

// PathCanonicalization selects how request paths are canonicalised.
type PathCanonicalization string

// Path canonicalization modes.
const (
	// CanonicalizationStrict rejects every ambiguous request path with 400.
	CanonicalizationStrict PathCanonicalization = "strict"
	// CanonicalizationKeycloak normalises like Keycloak 26.x and rewrites the
	// request path to the normalised one.
	CanonicalizationKeycloak PathCanonicalization = "keycloak"
)

// TokenVerification selects how bearer tokens are verified.
type TokenVerification string

// Token verification modes.
const (
	// VerifyLocal checks the JWT signature and claims against the realm JWKS.
	VerifyLocal TokenVerification = "local"
	// VerifyIntrospection asks the server (RFC 7662) for every new token.
	VerifyIntrospection TokenVerification = "introspection"
	// VerifyHybrid verifies locally and re-introspects every
	// [Settings.IntrospectionInterval] to notice revocation.
	VerifyHybrid TokenVerification = "hybrid"
)

// PermissionsSource selects where permissions come from when the token's
// own permissions do not cover the request.
type PermissionsSource string

// Permission sources.
const (
	// PermissionsToken uses only the permissions in the presented token.
	PermissionsToken PermissionsSource = "token"
	// PermissionsUMA exchanges the token for an RPT through the UMA grant
	// (Keycloak's behaviour).
	PermissionsUMA PermissionsSource = "uma"
	// PermissionsOffline computes permissions from imported Keycloak
	// policies in Rego, without a round trip.
	PermissionsOffline PermissionsSource = "offline"
)

// OutageBehavior selects what happens when a dependency is down.
type OutageBehavior string

// Outage behaviours.
const (
	// OutageDeny answers 503: fail closed.
	OutageDeny OutageBehavior = "deny"
	// OutageStaleOK reuses a cached answer no older than MaxStaleness, else 503.
	OutageStaleOK OutageBehavior = "stale-ok"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("30s", "5m"). Negative durations are rejected.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %s", quoteTrunc(s))
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", quoteTrunc(s))
	}
	*d = Duration(v)
	return nil
}

// CacheConfig bounds one of rptguard's caches.
type CacheConfig struct {
	// MaxEntries bounds the number of entries: 0 selects the cache's default,
	// -1 disables the cache, otherwise 1 to 10,000,000.
	MaxEntries int `json:"max-entries,omitempty"`
	// MaxTTL caps an entry's lifetime (entries never outlive their token). If
	// zero, the cache's default; at most 24h.
	MaxTTL Duration `json:"max-ttl,omitempty"`
}

// Settings are rptguard's global settings, under the top-level key
// "rptguard". Keys are kebab-case like Keycloak's; unknown keys are an error.
// The zero value selects every default.
type Settings struct {
	// PathCanonicalization: "strict" or "keycloak". If empty, strict.
	PathCanonicalization PathCanonicalization `json:"path-canonicalization,omitempty"`
	// TokenVerification: "local", "introspection" or "hybrid". If empty, local.
	TokenVerification TokenVerification `json:"token-verification,omitempty"`
	// IntrospectionInterval is how often a locally verified token is
	// re-introspected in hybrid mode. If zero, [DefaultIntrospectionInterval].
	IntrospectionInterval Duration `json:"introspection-interval,omitempty"`
	// Leeway is the clock skew allowed on exp/nbf/iat, at most 300s. If zero,
	// no leeway.
	Leeway Duration `json:"leeway,omitempty"`
	// AllowedAlgorithms is the JWS algorithm allow-list (asymmetric algorithms
	// only: RS*, PS*, ES*, EdDSA). If empty, RS256.
	AllowedAlgorithms []string `json:"allowed-algorithms,omitempty"`
	// Audience overrides the accepted audiences. If empty, Resource.
	Audience []string `json:"audience,omitempty"`
	// MaxTokenSize rejects longer bearer tokens (1 KiB to 1 MiB). If zero,
	// [DefaultMaxTokenSize].
	MaxTokenSize int `json:"max-token-size,omitempty"`
	// TokenCache bounds the verified-token cache.
	TokenCache CacheConfig `json:"token-cache,omitzero"`
	// IntrospectionCache bounds the introspection result cache.
	IntrospectionCache CacheConfig `json:"introspection-cache,omitzero"`
	// UMACache bounds the RPT cache (per token, resource, scopes and claims).
	UMACache CacheConfig `json:"uma-cache,omitzero"`
	// Policies lists Rego files, directories or bundle locations to load. If
	// empty, only the built-in Keycloak-semantics policy is used.
	Policies []string `json:"policies,omitempty"`
	// DecisionRule is the default Rego rule (dotted name) deciding requests.
	// If empty, the built-in rule.
	DecisionRule string `json:"decision-rule,omitempty"`
	// PermissionsSource: "token", "uma" or "offline". If empty, uma.
	PermissionsSource PermissionsSource `json:"permissions-source,omitempty"`
	// OnOutage: "deny" or "stale-ok". If empty, deny.
	OnOutage OutageBehavior `json:"on-outage,omitempty"`
	// MaxStaleness bounds cached answers used under "stale-ok" (required
	// then, at most 24h). Must be zero otherwise.
	MaxStaleness Duration `json:"max-staleness,omitempty"`
	// AllowMethodOverride honours X-HTTP-Method-Override when choosing the
	// method config. If false, the header is ignored. Enabling it is only
	// safe when the application honours the same header.
	AllowMethodOverride bool `json:"allow-method-override,omitempty"`
	// MaxBodyBytes bounds how much of a request body a claim information
	// point buffers (up to 64 MiB). If zero, [DefaultMaxBodyBytes]. Larger
	// bodies are refused with 413, never evaluated truncated.
	MaxBodyBytes int64 `json:"max-body-bytes,omitempty"`
	// InsecureAllowHTTP permits plain-http URLs to non-loopback hosts for the
	// authorization server and HTTP claim information points. It MUST NOT be
	// set in production: tokens and secrets would cross the network in clear.
	InsecureAllowHTTP bool `json:"insecure-allow-http,omitempty"`
	// AuthorizationSettings is the file of a Keycloak authorization-settings
	// export (the client's Authorization > Export settings, a client export
	// or a realm export) whose policies decide paths with permissions-source
	// "offline". It is translated to Rego at start-up and on Reload (package
	// policies/keycloak) and its resources bind paths without a server
	// lookup. If empty, offline paths need the translated Rego among
	// Policies (rptguard import) or [WithAuthorizationSettings].
	AuthorizationSettings string `json:"authorization-settings,omitempty"`
	// AuthorizationClient selects the resource-server client of a realm
	// export. If empty, the export's only client with authorization settings.
	AuthorizationClient string `json:"authorization-client,omitempty"`
	// PolicyMappings maps policies that cannot be evaluated offline
	// (JavaScript, script-*, uma) by name to "allow", "deny" or a Rego rule
	// reference "data.<pkg>.<rule>". An unmapped one makes New fail naming
	// it: such policies are never silently allowed.
	PolicyMappings map[string]string `json:"policy-mappings,omitempty"`
	// OfflineShadow, if set, checks a sample of the offline decisions
	// against the authorization server in the background and reports
	// disagreements, without changing any answer ([ShadowConfig]). If nil,
	// off.
	OfflineShadow *ShadowConfig `json:"offline-shadow,omitempty"`
}

// PathSettings are rptguard's per-path settings, under the key "rptguard" of
// a path entry. Zero fields inherit the global [Settings].
type PathSettings struct {
	// DecisionRule is the Rego rule deciding requests to this path. If empty,
	// [Settings.DecisionRule].
	DecisionRule string `json:"decision-rule,omitempty"`
	// PermissionsSource for this path. If empty, the global one.
	PermissionsSource PermissionsSource `json:"permissions-source,omitempty"`
	// TokenVerification for this path (for example "introspection" on a few
	// sensitive paths). If empty, the global one.
	TokenVerification TokenVerification `json:"token-verification,omitempty"`
	// OnOutage for this path. If empty, the global one.
	OnOutage OutageBehavior `json:"on-outage,omitempty"`
	// MaxStaleness for this path under "stale-ok". If zero, the global one.
	MaxStaleness Duration `json:"max-staleness,omitempty"`
	// MaxBodyBytes for this path's claim information point. If zero, the
	// global one.
	MaxBodyBytes int64 `json:"max-body-bytes,omitempty"`
	// FreshIntrospection makes every request to this path introspect its
	// token without using a cached active answer (the introspection
	// package's OnDemand freshness), so a revoked token stops working at
	// once there. It needs token-verification "hybrid" (on the path or
	// globally). If false, the mode's normal caching applies.
	FreshIntrospection bool `json:"fresh-introspection,omitempty"`
}

// ---------------------------------------------------------------------------
// Loading and parsing

// LoadConfig reads and parses the file at path with [ParseConfig].
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("enforcer: load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("enforcer: load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("enforcer: load config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses and validates a Keycloak policy-enforcer configuration.
// It accepts both a standalone policy-enforcer.json (top-level
// enforcement-mode, paths, …, plus realm, auth-server-url, resource,
// credentials) and a legacy keycloak.json with the enforcer object under
// "policy-enforcer"; the form is detected by the presence of that key. In the
// legacy form the connection fields of the outer object take precedence over
// those of the inner one, as in Keycloak's builder.
//
// Unknown Keycloak keys are tolerated (Keycloak's Jackson parser would reject
// them; rptguard prefers to load configs written for newer Keycloak versions)
// and reported by [ParseConfigStrict]. Keys inside "rptguard" objects are
// always checked strictly. Always rejected: malformed JSON, duplicate keys in
// an object, and keys that differ only in case from a known key (Go's
// case-insensitive matching would otherwise apply them where Keycloak does
// not). Paths listed more than once are merged as Keycloak does.
//
// Errors match [ErrInvalidConfig] and carry a [*ConfigError] naming the field.
func ParseConfig(data []byte) (Config, error) {
	cfg, _, err := parseConfig(data)
	return cfg, err
}

// ParseConfigStrict is [ParseConfig] that also fails on every key Keycloak's
// parser does not know (for example a misspelled "enforcment-mode" or an
// unknown claim-information-point provider), reporting all of them joined.
// Each such error wraps [ErrUnknownKey].
func ParseConfigStrict(data []byte) (Config, error) {
	cfg, unknown, err := parseConfig(data)
	if err != nil {
		return Config{}, err
	}
	if len(unknown) > 0 {
		errs := make([]error, len(unknown))
		for i, f := range unknown {
			errs[i] = &ConfigError{Field: f, Err: ErrUnknownKey}
		}
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

func parseConfig(data []byte) (Config, []string, error) {
	if len(data) > MaxConfigSize {
		return Config{}, nil, cfgErr("", "document larger than %d bytes", MaxConfigSize)
	}
	if err := checkJSON(data); err != nil {
		return Config{}, nil, &ConfigError{Err: err}
	}
	p := &parser{}
	top, err := p.object("", data)
	if err != nil {
		return Config{}, nil, err
	}
	var cfg Config
	if inner, ok := top.take("policy-enforcer"); ok && !isNull(inner) {
		// Legacy keycloak.json: enforcer from the inner object, connection
		// fields from the outer one (outer wins, inner fills gaps).
		in, err := p.object("policy-enforcer", inner)
		if err != nil {
			return Config{}, nil, err
		}
		if err := p.decodeEnforcer(in, &cfg); err != nil {
			return Config{}, nil, err
		}
		var outer Config
		if err := p.decodeConnection(top, &outer); err != nil {
			return Config{}, nil, err
		}
		if err := p.decodeSettings(top, &outer.RPTGuard); err != nil {
			return Config{}, nil, err
		}
		if !isZeroSettings(outer.RPTGuard) {
			if !isZeroSettings(cfg.RPTGuard) {
				return Config{}, nil, cfgErr("rptguard", "set both in the outer object and in policy-enforcer")
			}
			cfg.RPTGuard = outer.RPTGuard
		}
		mergeConnection(&cfg, &outer)
		top.ignore(adapterKeys...)
		if err := checkCase(top, adapterKeys, keycloakJSONKeys); err != nil {
			return Config{}, nil, err
		}
		p.unknownKeys(top, keycloakJSONKeys)
	} else {
		if err := p.decodeEnforcer(top, &cfg); err != nil {
			return Config{}, nil, err
		}
	}
	if err := mergeDuplicatePaths(&cfg); err != nil {
		return Config{}, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, err
	}
	sort.Strings(p.unknown)
	return cfg, p.unknown, nil
}

func isZeroSettings(s Settings) bool {
	return s.PathCanonicalization == "" && s.TokenVerification == "" && s.IntrospectionInterval == 0 &&
		s.Leeway == 0 && len(s.AllowedAlgorithms) == 0 && len(s.Audience) == 0 && s.MaxTokenSize == 0 &&
		s.TokenCache == (CacheConfig{}) && s.IntrospectionCache == (CacheConfig{}) && s.UMACache == (CacheConfig{}) &&
		len(s.Policies) == 0 && s.DecisionRule == "" && s.PermissionsSource == "" && s.OnOutage == "" &&
		s.MaxStaleness == 0 && !s.AllowMethodOverride && s.MaxBodyBytes == 0 && !s.InsecureAllowHTTP &&
		s.AuthorizationSettings == "" && s.AuthorizationClient == "" && len(s.PolicyMappings) == 0 &&
		s.OfflineShadow == nil
}

func mergeConnection(dst, outer *Config) {
	if outer.Realm != "" {
		dst.Realm = outer.Realm
	}
	if outer.AuthServerURL != "" {
		dst.AuthServerURL = outer.AuthServerURL
	}
	if outer.Resource != "" {
		dst.Resource = outer.Resource
	}
	if !isZeroCredentials(outer.Credentials) {
		dst.Credentials = outer.Credentials
	}
	dst.BearerOnly = dst.BearerOnly || outer.BearerOnly
	dst.PublicClient = dst.PublicClient || outer.PublicClient
	dst.VerifyTokenAudience = dst.VerifyTokenAudience || outer.VerifyTokenAudience
	if outer.SSLRequired != "" {
		dst.SSLRequired = outer.SSLRequired
	}
	if outer.ConnectionTimeoutMillis != 0 {
		dst.ConnectionTimeoutMillis = outer.ConnectionTimeoutMillis
	}
	if outer.SocketTimeoutMillis != 0 {
		dst.SocketTimeoutMillis = outer.SocketTimeoutMillis
	}
	if outer.TokenMinimumTimeToLive != 0 {
		dst.TokenMinimumTimeToLive = outer.TokenMinimumTimeToLive
	}
}

func isZeroCredentials(c Credentials) bool {
	return c.Secret == "" && c.JWT == nil && c.SecretJWT == nil && len(c.Other) == 0
}

// mergeDuplicatePaths merges entries with the same path string into the first
// one (Keycloak appends methods and scopes). Entries that disagree on a
// security-relevant setting (enforcement-mode, claim-information-point,
// rptguard) are rejected rather than silently dropped.
func mergeDuplicatePaths(cfg *Config) error {
	if len(cfg.Paths) < 2 {
		return nil
	}
	first := make(map[string]int, len(cfg.Paths))
	out := cfg.Paths[:0:0]
	for i, pc := range cfg.Paths {
		j, dup := first[pc.Path]
		if !dup {
			first[pc.Path] = len(out)
			out = append(out, pc)
			continue
		}
		dst := &out[j]
		field := fmt.Sprintf("paths[%d]", i)
		if pc.EnforcementMode != dst.EnforcementMode {
			return cfgErr(field+".enforcement-mode", "path %s listed again with a different enforcement-mode", quoteTrunc(pc.Path))
		}
		if !equalRawMaps(pc.ClaimInformationPoint, dst.ClaimInformationPoint) && pc.ClaimInformationPoint != nil {
			return cfgErr(field+".claim-information-point", "path %s listed again with a different claim-information-point", quoteTrunc(pc.Path))
		}
		if !isZeroPathSettings(pc.RPTGuard) && !equalPathSettings(pc.RPTGuard, dst.RPTGuard) {
			return cfgErr(field+".rptguard", "path %s listed again with different rptguard settings", quoteTrunc(pc.Path))
		}
		dst.Methods = append(dst.Methods, pc.Methods...)
		dst.Scopes = append(dst.Scopes, pc.Scopes...)
	}
	cfg.Paths = out
	return nil
}

func isZeroPathSettings(s PathSettings) bool { return s == PathSettings{} }

func equalPathSettings(a, b PathSettings) bool { return a == b }

func equalRawMaps(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Key-exact object decoding

// Known keys, for strict-mode reporting and case-variant detection.
var (
	enforcerKeys = []string{
		"enforcement-mode", "paths", "path-cache", "lazy-load-paths", "on-deny-redirect-to",
		"user-managed-access", "claim-information-point", "http-method-as-scope",
		"realm", "auth-server-url", "resource", "credentials", "rptguard",
	}
	// adapterKeys are the keycloak.json keys rptguard honours.
	adapterKeys = []string{
		"realm", "auth-server-url", "resource", "credentials", "bearer-only", "public-client",
		"ssl-required", "verify-token-audience", "connection-timeout-millis",
		"socket-timeout-millis", "token-minimum-time-to-live", "rptguard",
	}
	// keycloakJSONKeys are the other AdapterConfig keys: accepted, ignored.
	keycloakJSONKeys = []string{
		"realm-public-key", "confidential-port", "use-resource-role-mappings", "enable-cors",
		"cors-max-age", "cors-allowed-methods", "cors-allowed-headers", "cors-exposed-headers",
		"expose-token", "autodetect-bearer-only", "enable-basic-auth", "redirect-rewrite-rules",
		"allow-any-hostname", "disable-trust-manager", "truststore", "truststore-password",
		"client-keystore", "client-keystore-password", "client-key-password",
		"always-refresh-token", "register-node-at-startup", "register-node-period",
		"token-store", "token-cookie-path", "adapter-state-cookie-path", "principal-attribute",
		"turn-off-change-session-id-on-login", "min-time-between-jwks-requests",
		"public-key-cache-ttl", "ignore-oauth-query-parameter", "connection-pool-size",
		"connection-ttl-millis", "proxy-url", "enable-pkce", "pkce", "policy-enforcer",
		"verify-token-audience", "bearer-only", "public-client", "ssl-required",
		"socket-timeout-millis", "connection-timeout-millis", "token-minimum-time-to-live",
	}
	pathKeys   = []string{"name", "path", "type", "methods", "scopes", "enforcement-mode", "claim-information-point", "id", "invalidated", "static", "rptguard"}
	methodKeys = []string{"method", "scopes", "scopes-enforcement-mode"}
	cacheKeys  = []string{"max-entries", "lifespan"}
)

type parser struct {
	unknown []string
}

// object is one JSON object with exact, duplicate-free keys.
type object struct {
	path string
	keys []string
	vals map[string]json.RawMessage
	used map[string]bool
}

func (p *parser) object(path string, raw json.RawMessage) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, cfgErr(path, "malformed JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, cfgErr(path, "want an object")
	}
	o := &object{path: path, vals: map[string]json.RawMessage{}, used: map[string]bool{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, cfgErr(path, "malformed JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return nil, cfgErr(path, "malformed JSON")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, cfgErr(join(path, key), "malformed JSON")
		}
		if _, dup := o.vals[key]; dup {
			return nil, cfgErr(join(path, key), "duplicate key")
		}
		o.keys = append(o.keys, key)
		o.vals[key] = v
	}
	return o, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (o *object) field(key string) string { return join(o.path, key) }

// take returns the value for key (exact match) and marks it used. A JSON null
// counts as absent.
func (o *object) take(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	if !ok {
		return nil, false
	}
	o.used[key] = true
	if isNull(v) {
		return nil, false
	}
	return v, true
}

func (o *object) ignore(keys ...string) {
	for _, k := range keys {
		if _, ok := o.vals[k]; ok {
			o.used[k] = true
		}
	}
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// unknownKeys records unused keys of o. A key that equals a known key except
// for case is an error (recorded as unknown with a note in strict mode, and
// returned as an error by checkCase).
func (p *parser) unknownKeys(o *object, extra []string) {
	for _, k := range o.keys {
		if o.used[k] || contains(extra, k) {
			continue
		}
		p.unknown = append(p.unknown, o.field(k))
	}
}

// checkCase rejects keys that differ only by case from a known key.
func checkCase(o *object, known ...[]string) error {
	for _, k := range o.keys {
		if o.used[k] {
			continue
		}
		for _, list := range known {
			for _, kk := range list {
				if k != kk && strings.EqualFold(k, kk) {
					return cfgErr(o.field(k), "unknown key; did you mean %q? (keys are case-sensitive)", kk)
				}
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (o *object) str(key string, dst *string) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return cfgErr(o.field(key), "want a string")
	}
	return nil
}

func (o *object) boolean(key string, dst *bool) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return cfgErr(o.field(key), "want true or false")
	}
	return nil
}

func (o *object) integer(key string, dst *int64) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return cfgErr(o.field(key), "want an integer")
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return cfgErr(o.field(key), "want an integer, got %s", quoteTrunc(n.String()))
	}
	*dst = i
	return nil
}

func (o *object) intField(key string, dst *int) error {
	if _, ok := o.vals[key]; !ok || isNull(o.vals[key]) {
		o.take(key)
		return nil
	}
	var v int64
	if err := o.integer(key, &v); err != nil {
		return err
	}
	if v < -1<<31 || v > 1<<31-1 {
		return cfgErr(o.field(key), "out of range")
	}
	*dst = int(v)
	return nil
}

func (o *object) strings(key string, dst *[]string) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	var s []string
	if err := json.Unmarshal(v, &s); err != nil {
		return cfgErr(o.field(key), "want an array of strings")
	}
	if len(s) == 0 {
		s = nil
	}
	*dst = s
	return nil
}

// unmarshal decodes key into dst (a type with its own UnmarshalJSON).
func (o *object) unmarshal(key string, dst any) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return cfgErr(o.field(key), "malformed JSON")
		}
		return &ConfigError{Field: o.field(key), Err: err}
	}
	return nil
}

// rawMap decodes an object of provider name → raw JSON (claim information
// points), storing values as compact, HTML-escaped JSON so that a re-marshal
// produces identical bytes.
func (p *parser) rawMap(o *object, key string) (map[string]json.RawMessage, error) {
	v, ok := o.take(key)
	if !ok {
		return nil, nil
	}
	m, err := p.object(o.field(key), v)
	if err != nil {
		return nil, err
	}
	if len(m.keys) == 0 {
		return nil, nil
	}
	out := make(map[string]json.RawMessage, len(m.keys))
	for _, k := range m.keys {
		v := m.vals[k]
		out[k] = normalizeRaw(v)
		switch k {
		case cipClaimsProvider:
		case cipHTTPProvider:
			// Keycloak ignores unknown keys of the http provider; report them.
			if ho, err := p.object(m.field(k), v); err == nil {
				ho.ignore(httpProviderKeys...)
				p.unknownKeys(ho, nil)
			}
		default:
			// Keycloak ignores unknown providers (ServiceLoader miss).
			p.unknown = append(p.unknown, m.field(k))
		}
	}
	return out, nil
}

func normalizeRaw(v json.RawMessage) json.RawMessage {
	var c bytes.Buffer
	if err := json.Compact(&c, v); err != nil {
		return append(json.RawMessage(nil), v...)
	}
	var h bytes.Buffer
	json.HTMLEscape(&h, c.Bytes())
	return json.RawMessage(h.Bytes())
}

func (p *parser) decodeEnforcer(o *object, cfg *Config) error {
	steps := []error{
		o.unmarshal("enforcement-mode", &cfg.EnforcementMode),
		o.boolean("lazy-load-paths", &cfg.LazyLoadPaths),
		o.str("on-deny-redirect-to", &cfg.OnDenyRedirectTo),
		o.boolean("http-method-as-scope", &cfg.HTTPMethodAsScope),
	}
	if err := firstErr(steps); err != nil {
		return err
	}
	if v, ok := o.take("path-cache"); ok {
		pc, err := p.object(o.field("path-cache"), v)
		if err != nil {
			return err
		}
		c := PathCacheConfig{MaxEntries: DefaultPathCacheMaxEntries, Lifespan: DefaultPathCacheLifespan}
		if err := pc.intField("max-entries", &c.MaxEntries); err != nil {
			return err
		}
		if err := pc.integer("lifespan", &c.Lifespan); err != nil {
			return err
		}
		if err := checkCase(pc, cacheKeys); err != nil {
			return err
		}
		p.unknownKeys(pc, nil)
		cfg.PathCache = &c
	}
	if v, ok := o.take("user-managed-access"); ok {
		if _, err := p.object(o.field("user-managed-access"), v); err != nil {
			return err
		}
		cfg.UserManagedAccess = &UserManagedAccessConfig{}
	}
	cip, err := p.rawMap(o, "claim-information-point")
	if err != nil {
		return err
	}
	cfg.ClaimInformationPoint = cip
	if v, ok := o.take("paths"); ok {
		var raws []json.RawMessage
		if err := json.Unmarshal(v, &raws); err != nil {
			return cfgErr(o.field("paths"), "want an array of objects")
		}
		for i, raw := range raws {
			pc, err := p.decodePath(fmt.Sprintf("%s[%d]", o.field("paths"), i), raw)
			if err != nil {
				return err
			}
			cfg.Paths = append(cfg.Paths, pc)
		}
	}
	if err := p.decodeConnection(o, cfg); err != nil {
		return err
	}
	if err := p.decodeSettings(o, &cfg.RPTGuard); err != nil {
		return err
	}
	// Adapter keys are honoured in the standalone form too.
	if err := checkCase(o, enforcerKeys, adapterKeys); err != nil {
		return err
	}
	p.unknownKeys(o, nil)
	return nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (p *parser) decodeConnection(o *object, cfg *Config) error {
	steps := []error{
		o.str("realm", &cfg.Realm),
		o.str("auth-server-url", &cfg.AuthServerURL),
		o.str("resource", &cfg.Resource),
		o.boolean("bearer-only", &cfg.BearerOnly),
		o.boolean("public-client", &cfg.PublicClient),
		o.str("ssl-required", &cfg.SSLRequired),
		o.boolean("verify-token-audience", &cfg.VerifyTokenAudience),
		o.integer("connection-timeout-millis", &cfg.ConnectionTimeoutMillis),
		o.integer("socket-timeout-millis", &cfg.SocketTimeoutMillis),
		o.integer("token-minimum-time-to-live", &cfg.TokenMinimumTimeToLive),
	}
	if err := firstErr(steps); err != nil {
		return err
	}
	cfg.SSLRequired = strings.ToLower(cfg.SSLRequired)
	if v, ok := o.take("credentials"); ok {
		c, err := p.decodeCredentials(o.field("credentials"), v)
		if err != nil {
			return err
		}
		cfg.Credentials = c
	}
	return nil
}

func (p *parser) decodeCredentials(field string, raw json.RawMessage) (Credentials, error) {
	var c Credentials
	o, err := p.object(field, raw)
	if err != nil {
		return c, err
	}
	seen := map[string]string{}
	for _, k := range o.keys {
		lk := strings.ToLower(k)
		if prev, dup := seen[lk]; dup {
			return c, cfgErr(join(field, k), "duplicate of %q (keys are case-insensitive)", prev)
		}
		seen[lk] = k
		v := o.vals[k]
		if isNull(v) {
			continue
		}
		switch lk {
		case "secret":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return c, cfgErr(join(field, k), "want a string")
			}
			c.Secret = Secret(s)
		case "jwt":
			jo, err := p.object(join(field, k), v)
			if err != nil {
				return c, err
			}
			j := &JWTCredentials{}
			var pw1, pw2 string
			steps := []error{
				jo.str("client-keystore-file", &j.ClientKeystoreFile),
				jo.str("client-keystore-type", &j.ClientKeystoreType),
				jo.str("client-keystore-password", &pw1),
				jo.str("client-key-alias", &j.ClientKeyAlias),
				jo.str("client-key-password", &pw2),
				jo.integer("token-timeout", &j.TokenExpiration),
				jo.integer("token-expiration", &j.TokenExpiration),
				jo.str("algorithm", &j.Algorithm),
			}
			if err := firstErr(steps); err != nil {
				return c, err
			}
			j.ClientKeystorePassword, j.ClientKeyPassword = Secret(pw1), Secret(pw2)
			p.unknownKeys(jo, nil)
			c.JWT = j
		case "secret-jwt":
			so, err := p.object(join(field, k), v)
			if err != nil {
				return c, err
			}
			s := &SecretJWTCredentials{}
			var sec string
			if err := firstErr([]error{so.str("secret", &sec), so.str("algorithm", &s.Algorithm)}); err != nil {
				return c, err
			}
			s.Secret = Secret(sec)
			p.unknownKeys(so, nil)
			c.SecretJWT = s
		default:
			if c.Other == nil {
				c.Other = map[string]json.RawMessage{}
			}
			c.Other[lk] = normalizeRaw(v)
		}
	}
	return c, nil
}

func (p *parser) decodePath(field string, raw json.RawMessage) (PathConfig, error) {
	var pc PathConfig
	o, err := p.object(field, raw)
	if err != nil {
		return pc, err
	}
	pathRaw, ok := o.take("path")
	if !ok {
		return pc, cfgErr(join(field, "path"), "required")
	}
	if err := json.Unmarshal(pathRaw, &pc.Path); err != nil {
		return pc, cfgErr(join(field, "path"), "want a string")
	}
	steps := []error{
		o.str("name", &pc.Name),
		o.str("type", &pc.Type),
		o.strings("scopes", &pc.Scopes),
		o.unmarshal("enforcement-mode", &pc.EnforcementMode),
		o.str("id", &pc.ID),
	}
	if err := firstErr(steps); err != nil {
		return pc, err
	}
	o.ignore("invalidated", "static") // Keycloak's internal state, if a dump is loaded
	if v, ok := o.take("methods"); ok {
		var raws []json.RawMessage
		if err := json.Unmarshal(v, &raws); err != nil {
			return pc, cfgErr(o.field("methods"), "want an array of objects")
		}
		for i, mraw := range raws {
			mf := fmt.Sprintf("%s[%d]", o.field("methods"), i)
			mo, err := p.object(mf, mraw)
			if err != nil {
				return pc, err
			}
			var mc MethodConfig
			steps := []error{
				mo.str("method", &mc.Method),
				mo.strings("scopes", &mc.Scopes),
				mo.unmarshal("scopes-enforcement-mode", &mc.ScopesEnforcementMode),
			}
			if err := firstErr(steps); err != nil {
				return pc, err
			}
			if err := checkCase(mo, methodKeys); err != nil {
				return pc, err
			}
			p.unknownKeys(mo, nil)
			pc.Methods = append(pc.Methods, mc)
		}
	}
	cip, err := p.rawMap(o, "claim-information-point")
	if err != nil {
		return pc, err
	}
	pc.ClaimInformationPoint = cip
	if v, ok := o.take("rptguard"); ok {
		so, err := p.object(o.field("rptguard"), v)
		if err != nil {
			return pc, err
		}
		s := &pc.RPTGuard
		steps := []error{
			so.str("decision-rule", &s.DecisionRule),
			so.unmarshal("permissions-source", (*stringEnum)(&s.PermissionsSource)),
			so.unmarshal("token-verification", (*stringEnum)(&s.TokenVerification)),
			so.unmarshal("on-outage", (*stringEnum)(&s.OnOutage)),
			so.unmarshal("max-staleness", &s.MaxStaleness),
			so.integer("max-body-bytes", &s.MaxBodyBytes),
			so.boolean("fresh-introspection", &s.FreshIntrospection),
		}
		if err := firstErr(steps); err != nil {
			return pc, err
		}
		if err := strictRest(so); err != nil {
			return pc, err
		}
	}
	if err := checkCase(o, pathKeys); err != nil {
		return pc, err
	}
	p.unknownKeys(o, nil)
	return pc, nil
}

// stringEnum decodes a JSON string into a named string type (validated later).
type stringEnum string

func (s *stringEnum) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("want a string")
	}
	*s = stringEnum(v)
	return nil
}

func (p *parser) decodeSettings(o *object, s *Settings) error {
	v, ok := o.take("rptguard")
	if !ok {
		return nil
	}
	so, err := p.object(o.field("rptguard"), v)
	if err != nil {
		return err
	}
	steps := []error{
		so.unmarshal("path-canonicalization", (*stringEnum)(&s.PathCanonicalization)),
		so.unmarshal("token-verification", (*stringEnum)(&s.TokenVerification)),
		so.unmarshal("introspection-interval", &s.IntrospectionInterval),
		so.unmarshal("leeway", &s.Leeway),
		so.strings("allowed-algorithms", &s.AllowedAlgorithms),
		so.strings("audience", &s.Audience),
		so.intField("max-token-size", &s.MaxTokenSize),
		p.cacheConfig(so, "token-cache", &s.TokenCache),
		p.cacheConfig(so, "introspection-cache", &s.IntrospectionCache),
		p.cacheConfig(so, "uma-cache", &s.UMACache),
		so.strings("policies", &s.Policies),
		so.str("decision-rule", &s.DecisionRule),
		so.unmarshal("permissions-source", (*stringEnum)(&s.PermissionsSource)),
		so.unmarshal("on-outage", (*stringEnum)(&s.OnOutage)),
		so.unmarshal("max-staleness", &s.MaxStaleness),
		so.boolean("allow-method-override", &s.AllowMethodOverride),
		so.integer("max-body-bytes", &s.MaxBodyBytes),
		so.boolean("insecure-allow-http", &s.InsecureAllowHTTP),
		so.str("authorization-settings", &s.AuthorizationSettings),
		so.str("authorization-client", &s.AuthorizationClient),
		p.stringMap(so, "policy-mappings", &s.PolicyMappings),
		p.shadowConfig(so, "offline-shadow", &s.OfflineShadow), // shadow.go
	}
	if err := firstErr(steps); err != nil {
		return err
	}
	return strictRest(so)
}

func (p *parser) cacheConfig(o *object, key string, dst *CacheConfig) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	co, err := p.object(o.field(key), v)
	if err != nil {
		return err
	}
	if err := firstErr([]error{co.intField("max-entries", &dst.MaxEntries), co.unmarshal("max-ttl", &dst.MaxTTL)}); err != nil {
		return err
	}
	return strictRest(co)
}

// strictRest fails on any unused key of an rptguard-owned object.
func strictRest(o *object) error {
	for _, k := range o.keys {
		if !o.used[k] {
			return &ConfigError{Field: o.field(k), Err: ErrUnknownKey}
		}
	}
	return nil
}

// checkJSON reports malformed JSON with its byte offset (never its content).
func checkJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v json.RawMessage
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at offset %d", se.Offset)
	}
	return errors.New("malformed JSON")
}

// ---------------------------------------------------------------------------
// Validation

var (
	ruleNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	allowedAlgs = map[string]bool{
		"RS256": true, "RS384": true, "RS512": true,
		"PS256": true, "PS384": true, "PS512": true,
		"ES256": true, "ES384": true, "ES512": true,
		"EdDSA": true,
	}
)

// Validate checks c and returns every problem found, joined, each a
// [*ConfigError] naming its field (errors.Is(err, [ErrInvalidConfig]) holds).
// It checks path templates with the path matcher, method tokens, enum
// values, ranges and durations, the deny redirect, URLs, and compiles every
// claim information point. Paths listed twice are an error here; ParseConfig
// merges them before validating. Validate does not modify c.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.EnforcementMode < EnforcementEnforcing || c.EnforcementMode > EnforcementDisabled {
		add(cfgErr("enforcement-mode", "unknown value %d", int(c.EnforcementMode)))
	}
	if c.PathCache != nil {
		if c.PathCache.MaxEntries < 1 || c.PathCache.MaxEntries > maxCacheEntries {
			add(cfgErr("path-cache.max-entries", "must be between 1 and %d, got %d", maxCacheEntries, c.PathCache.MaxEntries))
		}
		if l := c.PathCache.Lifespan; l < -1 || l > maxLifespanMillis {
			add(cfgErr("path-cache.lifespan", "must be -1 (never expire), 0 (disabled) or 1 to %d ms, got %d", maxLifespanMillis, l))
		}
	}
	if c.OnDenyRedirectTo != "" {
		add(validateRedirect(c.OnDenyRedirectTo))
	}
	if c.AuthServerURL != "" {
		add(validateURL("auth-server-url", c.AuthServerURL, c.RPTGuard.InsecureAllowHTTP))
	}
	for _, f := range []struct{ name, v string }{{"realm", c.Realm}, {"resource", c.Resource}} {
		if err := checkText(f.v); err != nil {
			add(&ConfigError{Field: f.name, Err: err})
		}
	}
	switch c.SSLRequired {
	case "", "external", "all", "none":
	default:
		add(cfgErr("ssl-required", "unknown value %s (want external, all or none)", quoteTrunc(c.SSLRequired)))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"connection-timeout-millis", c.ConnectionTimeoutMillis}, {"socket-timeout-millis", c.SocketTimeoutMillis}} {
		if f.v < -1 || f.v > maxTimeoutMillis {
			add(cfgErr(f.name, "must be -1, 0 or up to %d ms, got %d", maxTimeoutMillis, f.v))
		}
	}
	if c.TokenMinimumTimeToLive < 0 || c.TokenMinimumTimeToLive > maxTokenMinTTL {
		add(cfgErr("token-minimum-time-to-live", "must be between 0 and %d seconds, got %d", maxTokenMinTTL, c.TokenMinimumTimeToLive))
	}
	if j := c.Credentials.JWT; j != nil && j.TokenExpiration < 0 {
		add(cfgErr("credentials.jwt.token-expiration", "must not be negative"))
	}
	add(prefixErr("rptguard", c.RPTGuard.validate()))
	add(c.validateShadow()) // shadow.go
	cipOpts := cipOptions{allowInsecureHTTP: c.RPTGuard.InsecureAllowHTTP}
	if _, err := compileCIP(c.ClaimInformationPoint, cipOpts); err != nil {
		add(prefixErr("claim-information-point", err))
	}
	mode := pathmatch.ModeStrict
	if c.RPTGuard.PathCanonicalization == CanonicalizationKeycloak {
		mode = pathmatch.ModeKeycloak
	}
	seen := make(map[string]int, len(c.Paths))
	for i := range c.Paths {
		field := fmt.Sprintf("paths[%d]", i)
		pc := &c.Paths[i]
		if j, dup := seen[pc.Path]; dup {
			add(cfgErr(field+".path", "duplicate of paths[%d]", j))
		} else {
			seen[pc.Path] = i
		}
		add(prefixErr(field, pc.validate(cipOpts, mode)))
		if pc.RPTGuard.FreshIntrospection && pathVerification(pc.RPTGuard.TokenVerification, c.RPTGuard.TokenVerification) != VerifyHybrid {
			add(cfgErr(field+".rptguard.fresh-introspection", "needs token-verification hybrid"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

func (pc *PathConfig) validate(cipOpts cipOptions, mode pathmatch.Mode) error {
	var errs []error
	if pc.Path == "" {
		errs = append(errs, cfgErr("path", "required"))
	} else if err := pathmatch.ValidateTemplateMode(pc.Path, mode); err != nil {
		errs = append(errs, &ConfigError{Field: "path", Err: err})
	}
	if pc.EnforcementMode < EnforcementEnforcing || pc.EnforcementMode > EnforcementDisabled {
		errs = append(errs, cfgErr("enforcement-mode", "unknown value %d", int(pc.EnforcementMode)))
	}
	for _, f := range []struct{ name, v string }{{"name", pc.Name}, {"type", pc.Type}, {"id", pc.ID}} {
		if err := checkText(f.v); err != nil {
			errs = append(errs, &ConfigError{Field: f.name, Err: err})
		}
	}
	errs = append(errs, validateScopes("scopes", pc.Scopes))
	for i, m := range pc.Methods {
		f := fmt.Sprintf("methods[%d]", i)
		if err := validateMethod(m.Method); err != nil {
			errs = append(errs, &ConfigError{Field: f + ".method", Err: err})
		}
		errs = append(errs, validateScopes(f+".scopes", m.Scopes))
		if m.ScopesEnforcementMode < ScopesAll || m.ScopesEnforcementMode > ScopesDisabled {
			errs = append(errs, cfgErr(f+".scopes-enforcement-mode", "unknown value %d", int(m.ScopesEnforcementMode)))
		}
	}
	o := cipOpts
	if pc.RPTGuard.MaxBodyBytes > 0 {
		o.maxBodyBytes = pc.RPTGuard.MaxBodyBytes
	}
	if _, err := compileCIP(pc.ClaimInformationPoint, o); err != nil {
		errs = append(errs, prefixErr("claim-information-point", err))
	}
	errs = append(errs, prefixErr("rptguard", pc.RPTGuard.validate()))
	return errors.Join(errs...)
}

func (s *Settings) validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch s.PathCanonicalization {
	case "", CanonicalizationStrict, CanonicalizationKeycloak:
	default:
		add(cfgErr("path-canonicalization", "unknown value %s (want strict or keycloak)", quoteTrunc(string(s.PathCanonicalization))))
	}
	add(validateTokenVerification("token-verification", s.TokenVerification))
	if s.IntrospectionInterval != 0 {
		if s.TokenVerification != VerifyHybrid {
			add(cfgErr("introspection-interval", "only valid with token-verification hybrid"))
		} else if d := time.Duration(s.IntrospectionInterval); d < time.Second || d > maxCacheTTL {
			add(cfgErr("introspection-interval", "must be between 1s and 24h, got %s", d))
		}
	}
	if d := time.Duration(s.Leeway); d > maxLeeway {
		add(cfgErr("leeway", "must be at most %s, got %s", maxLeeway, d))
	}
	for i, a := range s.AllowedAlgorithms {
		if !allowedAlgs[a] {
			add(cfgErr(fmt.Sprintf("allowed-algorithms[%d]", i), "unsupported algorithm %s (want RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA)", quoteTrunc(a)))
		}
	}
	for i, a := range s.Audience {
		if a == "" || checkText(a) != nil {
			add(cfgErr(fmt.Sprintf("audience[%d]", i), "must be a non-empty string without control characters"))
		}
	}
	if s.MaxTokenSize != 0 && (s.MaxTokenSize < minTokenSizeCap || s.MaxTokenSize > maxTokenSizeCap) {
		add(cfgErr("max-token-size", "must be between %d and %d bytes, got %d", minTokenSizeCap, maxTokenSizeCap, s.MaxTokenSize))
	}
	add(s.TokenCache.validate("token-cache"))
	add(s.IntrospectionCache.validate("introspection-cache"))
	add(s.UMACache.validate("uma-cache"))
	for i, p := range s.Policies {
		if p == "" || checkText(p) != nil {
			add(cfgErr(fmt.Sprintf("policies[%d]", i), "must be a non-empty path or URL"))
		}
	}
	add(validateRule("decision-rule", s.DecisionRule))
	add(validatePermissionsSource("permissions-source", s.PermissionsSource))
	add(validateOutage(s.OnOutage, s.MaxStaleness, true))
	add(validateBodyBytes(s.MaxBodyBytes))
	add(s.validateOffline())
	return errors.Join(errs...)
}

func (s PathSettings) validate() error {
	return errors.Join(
		validateRule("decision-rule", s.DecisionRule),
		validatePermissionsSource("permissions-source", s.PermissionsSource),
		validateTokenVerification("token-verification", s.TokenVerification),
		validateOutage(s.OnOutage, s.MaxStaleness, false),
		validateBodyBytes(s.MaxBodyBytes),
	)
}

func (c CacheConfig) validate(field string) error {
	var errs []error
	if c.MaxEntries < -1 || c.MaxEntries > maxCacheEntries {
		errs = append(errs, cfgErr(field+".max-entries", "must be -1 (disabled), 0 (default) or up to %d, got %d", maxCacheEntries, c.MaxEntries))
	}
	if d := time.Duration(c.MaxTTL); d > maxCacheTTL {
		errs = append(errs, cfgErr(field+".max-ttl", "must be at most %s, got %s", maxCacheTTL, d))
	}
	return errors.Join(errs...)
}

func validateTokenVerification(field string, v TokenVerification) error {
	switch v {
	case "", VerifyLocal, VerifyIntrospection, VerifyHybrid:
		return nil
	}
	return cfgErr(field, "unknown value %s (want local, introspection or hybrid)", quoteTrunc(string(v)))
}

func validatePermissionsSource(field string, v PermissionsSource) error {
	switch v {
	case "", PermissionsToken, PermissionsUMA, PermissionsOffline:
		return nil
	}
	return cfgErr(field, "unknown value %s (want token, uma or offline)", quoteTrunc(string(v)))
}

func validateRule(field, v string) error {
	if v == "" || (len(v) <= 256 && ruleNameRE.MatchString(v)) {
		return nil
	}
	return cfgErr(field, "invalid Rego rule name %s", quoteTrunc(v))
}

// validateOutage checks on-outage and max-staleness together. A path may set
// max-staleness alone (it refines an inherited stale-ok).
func validateOutage(mode OutageBehavior, staleness Duration, global bool) error {
	d := time.Duration(staleness)
	if d > maxStaleness {
		return cfgErr("max-staleness", "must be at most %s, got %s", maxStaleness, d)
	}
	switch mode {
	case "", OutageDeny:
		if mode == OutageDeny && d != 0 {
			return cfgErr("max-staleness", "only valid with on-outage stale-ok")
		}
		if global && mode == "" && d != 0 {
			return cfgErr("max-staleness", "only valid with on-outage stale-ok")
		}
	case OutageStaleOK:
		if global && d == 0 {
			return cfgErr("max-staleness", "required with on-outage stale-ok")
		}
	default:
		return cfgErr("on-outage", "unknown value %s (want deny or stale-ok)", quoteTrunc(string(mode)))
	}
	return nil
}

func validateBodyBytes(n int64) error {
	if n < 0 || n > maxBodyBytesCap {
		return cfgErr("max-body-bytes", "must be between 0 (default) and %d, got %d", maxBodyBytesCap, n)
	}
	return nil
}

// validateMethod requires an RFC 9110 token without lower-case letters:
// Keycloak compares methods case-sensitively, so "get" would never match.
func validateMethod(m string) error {
	if m == "" {
		return errors.New("required")
	}
	if len(m) > 32 {
		return errors.New("too long")
	}
	for i := 0; i < len(m); i++ {
		ch := m[i]
		switch {
		case ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case ch >= 'a' && ch <= 'z':
			return fmt.Errorf("%s must be upper-case (methods are compared case-sensitively)", quoteTrunc(m))
		case strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0:
		default:
			return fmt.Errorf("%s is not an HTTP method token", quoteTrunc(m))
		}
	}
	return nil
}

func validateScopes(field string, scopes []string) error {
	for i, s := range scopes {
		if s == "" {
			return cfgErr(fmt.Sprintf("%s[%d]", field, i), "empty scope name")
		}
		if err := checkText(s); err != nil {
			return &ConfigError{Field: fmt.Sprintf("%s[%d]", field, i), Err: err}
		}
	}
	return nil
}

// checkText rejects control characters and overlong values in names.
func checkText(s string) error {
	if len(s) > maxStringFieldSize {
		return fmt.Errorf("longer than %d bytes", maxStringFieldSize)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// validateRedirect enforces security catalogue I7: a configured relative
// path, never something a browser could read as another origin.
func validateRedirect(v string) error {
	const f = "on-deny-redirect-to"
	if len(v) > maxStringFieldSize {
		return cfgErr(f, "longer than %d bytes", maxStringFieldSize)
	}
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") {
		return cfgErr(f, "must be a relative path starting with a single '/'")
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch <= 0x20 || ch == 0x7f || ch == '\\' || ch >= 0x80 {
			return cfgErr(f, "must not contain whitespace, control characters, backslashes or non-ASCII bytes")
		}
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return cfgErr(f, "must be a relative path starting with a single '/'")
	}
	path := v
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "." || seg == ".." {
			return cfgErr(f, "must not contain dot segments")
		}
	}
	return nil
}

// validateURL checks an absolute http(s) URL; plain http only for loopback
// hosts unless insecure is set.
func validateURL(field, v string, insecure bool) error {
	if checkText(v) != nil {
		return cfgErr(field, "must not contain control characters")
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return cfgErr(field, "must be an absolute http(s) URL")
	}
	if u.User != nil {
		return cfgErr(field, "must not contain user info")
	}
	if u.Fragment != "" {
		return cfgErr(field, "must not contain a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return cfgErr(field, "plain http is only allowed for loopback hosts (set rptguard.insecure-allow-http to override)")
		}
	default:
		return cfgErr(field, "scheme must be http or https")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// quoteTrunc quotes a config value for an error message, truncated to 64
// bytes. Never use it for credentials or request data.
func quoteTrunc(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}
