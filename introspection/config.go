package introspection

import (
	"crypto"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// AuthMethod is how the client authenticates to the introspection endpoint
// (RFC 7662 §2.1 requires client authentication; the names are the OAuth
// token_endpoint_auth_method values).
type AuthMethod string

// Supported client authentication methods.
const (
	// ClientSecretBasic sends Authorization: Basic base64(urlencode(id) ":" urlencode(secret)),
	// form-urlencoding both parts first as RFC 6749 §2.3.1 requires. The default,
	// and what Keycloak adapters do for credentials {"secret": …}.
	ClientSecretBasic AuthMethod = "client_secret_basic"
	// ClientSecretPost sends client_id and client_secret as form parameters.
	ClientSecretPost AuthMethod = "client_secret_post"
	// PrivateKeyJWT sends an RFC 7523 client assertion signed with
	// Config.PrivateKey (Keycloak credentials {"jwt": …}).
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// ClientSecretJWT sends an RFC 7523 client assertion MACed with the client
	// secret (Keycloak credentials {"secret-jwt": …}).
	ClientSecretJWT AuthMethod = "client_secret_jwt"
)

// DefaultTokenTypeHint is the token_type_hint sent unless
// Config.OmitTokenTypeHint is set: Keycloak then answers with its RPT
// introspection shape (SPEC §4.3).
const DefaultTokenTypeHint = "requesting_party_token"

// Defaults applied to zero Config fields.
const (
	DefaultCacheTTL         = 60 * time.Second
	DefaultNegativeCacheTTL = 5 * time.Second
	DefaultErrorBackoff     = 1 * time.Second
	DefaultMaxEntries       = 10_000
	DefaultMaxResponseBytes = 64 << 10
	DefaultTimeout          = 5 * time.Second
	DefaultAssertionTTL     = 60 * time.Second
)

// maxTokenBytes bounds the token accepted for introspection; longer input is
// rejected without a network call.
const maxTokenBytes = 64 << 10

// Config is the introspection client's configuration. It is plain data: the
// zero value of every field has a documented meaning. Formatting a Config
// with fmt or slog redacts the secret and the private key.
type Config struct {
	// Endpoint is the RFC 7662 introspection endpoint, e.g.
	// https://kc.example.com/realms/acme/protocol/openid-connect/token/introspect.
	// Required. It must be https unless InsecureAllowHTTP is set, and must not
	// carry user information (id:secret@), a query or a fragment. To find it
	// from the realm, use rpt.Discover and its IntrospectionEndpoint.
	Endpoint string `json:"introspection-endpoint,omitempty"`

	// ClientID is the resource server's client id. Required.
	ClientID string `json:"resource,omitempty"`

	// ClientSecret authenticates ClientSecretBasic, ClientSecretPost and
	// ClientSecretJWT. It never appears in an error, a log line or fmt output.
	ClientSecret string `json:"-"`

	// AuthMethod selects client authentication. If empty, ClientSecretBasic.
	AuthMethod AuthMethod `json:"auth-method,omitempty"`

	// PrivateKey signs PrivateKeyJWT client assertions: an *rsa.PrivateKey,
	// *ecdsa.PrivateKey or ed25519.PrivateKey. Required for PrivateKeyJWT.
	PrivateKey crypto.Signer `json:"-"`

	// KeyID is the "kid" header of client assertions. Optional.
	KeyID string `json:"key-id,omitempty"`

	// AssertionAlgorithm is the JWS algorithm of client assertions. If empty:
	// HS256 for ClientSecretJWT; RS256, ES256/ES384/ES512 (by curve) or EdDSA
	// for PrivateKeyJWT, by key type.
	AssertionAlgorithm string `json:"algorithm,omitempty"`

	// AssertionAudience is the "aud" of client assertions. If empty,
	// Rules.Issuer (the realm issuer, which Keycloak accepts).
	AssertionAudience string `json:"assertion-audience,omitempty"`

	// AssertionTTL is the lifetime of a client assertion. If zero,
	// DefaultAssertionTTL (60 s). Every request gets a fresh assertion with a
	// new jti.
	AssertionTTL time.Duration `json:"-"`

	// TokenTypeHint is the token_type_hint form parameter. If empty,
	// DefaultTokenTypeHint ("requesting_party_token"). The server may ignore
	// it (RFC 7662 §2.1); the response is validated in full either way.
	TokenTypeHint string `json:"token-type-hint,omitempty"`

	// OmitTokenTypeHint, when true, sends no token_type_hint at all (Keycloak
	// then answers with the token's full claims instead of the RPT shape).
	OmitTokenTypeHint bool `json:"omit-token-type-hint,omitempty"`

	// Rules are the claim checks run on every active response — the same
	// rules local verification applies (exp, nbf, iat, iss, aud, azp,
	// Keycloak typ: refresh and ID tokens are rejected). Issuer and Audience
	// are required (see rpt.ClaimRules). With the default token_type_hint,
	// Keycloak's answer omits iss and sub: a missing iss is then taken to be
	// Rules.Issuer (a present one must still match) and sub is not required.
	Rules rpt.ClaimRules `json:"-"`

	// CacheTTL bounds how long an active answer is reused: an entry lives
	// min(CacheTTL, exp − now). A revoked token is accepted for at most this
	// long. If zero, DefaultCacheTTL (60 s); negative disables positive caching.
	CacheTTL time.Duration `json:"-"`

	// NegativeCacheTTL is how long an inactive answer (or an active one that
	// failed the claim checks) is reused. If zero, DefaultNegativeCacheTTL
	// (5 s); negative disables negative caching.
	NegativeCacheTTL time.Duration `json:"-"`

	// ErrorBackoff is how long a failure (5xx, timeout, malformed answer,
	// rejected client credentials) is remembered for a token, so a failing
	// endpoint is not hammered. It is never remembered as "inactive". If zero,
	// DefaultErrorBackoff (1 s); negative disables the backoff.
	ErrorBackoff time.Duration `json:"-"`

	// MaxEntries bounds the cache (least recently used entries are evicted).
	// If zero, DefaultMaxEntries.
	MaxEntries int `json:"-"`

	// MaxResponseBytes caps the response body; a longer body is a malformed
	// response. If zero, DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64 `json:"-"`

	// Timeout bounds one introspection call end to end (connect, TLS, request,
	// response). If zero, DefaultTimeout (5 s). A shorter Timeout on the
	// *http.Client given with WithHTTPClient also applies.
	Timeout time.Duration `json:"-"`

	// InsecureAllowHTTP allows an http:// endpoint. It exists for tests and
	// local development and MUST NOT be set in production: the token and the
	// client secret would cross the network in clear text (RFC 7662 §4).
	InsecureAllowHTTP bool `json:"-"`
}

const redacted = "[REDACTED]"

// String returns a description of c with the secret and the key redacted.
func (c Config) String() string {
	secret, key := "", ""
	if c.ClientSecret != "" {
		secret = redacted
	}
	if c.PrivateKey != nil {
		key = redacted
	}
	return fmt.Sprintf("introspection.Config{Endpoint:%q ClientID:%q AuthMethod:%q ClientSecret:%q PrivateKey:%q KeyID:%q}",
		c.Endpoint, c.ClientID, c.AuthMethod, secret, key, c.KeyID)
}

// GoString is String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb redacts the secret.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer without the secret and the key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("client_id", c.ClientID),
		slog.String("auth_method", string(c.AuthMethod)),
	)
}

// Option configures wiring that is not data: the HTTP client, the logger and
// the clock.
type Option func(*options)

type options struct {
	hc     *http.Client
	logger *slog.Logger
	now    func() time.Time
}

// WithHTTPClient sets the HTTP client used for introspection calls. Its
// Transport (TLS roots, proxy, connection pool) is used as is; redirects are
// never followed whatever its CheckRedirect says, and Config.Timeout bounds
// every call. If nil or not given, a client with rptguard's defaults
// (connect and TLS timeouts, no cookie jar) is used — never
// http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithLogger sets the logger. If nil or not given, nothing is logged. Log
// lines never contain the token, the secret or response bodies; a token is
// identified by a short SHA-256 fingerprint.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for claim checks and cache expiry (tests use
// it to step time). If nil or not given, time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}
