package uma

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// Config describes one realm and one resource server (client). It is data:
// the JSON names of the connection fields follow Keycloak's adapter and
// policy-enforcer JSON ("auth-server-url", "realm", "resource",
// "credentials"), so those files load unchanged.
//
// Endpoints come either from discovery (AuthServerURL and Realm set,
// TokenEndpoint empty: {AuthServerURL}/realms/{Realm}/.well-known/
// uma2-configuration is fetched by [New], whose issuer must be
// {AuthServerURL}/realms/{Realm}), or explicitly (TokenEndpoint and Issuer set;
// PermissionEndpoint, ResourceRegistrationEndpoint and JWKSURL as needed).
type Config struct {
	// AuthServerURL is the server root, e.g. https://kc.example.com (old
	// servers: …/auth).
	AuthServerURL string `json:"auth-server-url,omitempty"`
	// Realm is the realm name. It is also the realm of UMA challenges built
	// by [Client.Challenge].
	Realm string `json:"realm,omitempty"`

	// Issuer is the realm issuer (explicit-endpoint mode). With discovery it is
	// taken from the discovery document after checking it.
	Issuer string `json:"issuer,omitempty"`
	// TokenEndpoint, if set, switches discovery off.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// PermissionEndpoint is …/authz/protection/permission. If empty (explicit
	// mode), CreateTicket fails.
	PermissionEndpoint string `json:"permission_endpoint,omitempty"`
	// ResourceRegistrationEndpoint is …/authz/protection/resource_set. If
	// empty (explicit mode), Resources calls fail.
	ResourceRegistrationEndpoint string `json:"resource_registration_endpoint,omitempty"`
	// JWKSURL is the realm's certs endpoint, used by the default RPT verifier.
	// Required in explicit mode unless WithVerifier is given.
	JWKSURL string `json:"jwks_uri,omitempty"`

	// ClientID is the resource server's client_id (Keycloak "resource").
	ClientID string `json:"resource"`
	// Credentials of ClientID. With AuthClientSecretBasic or
	// AuthClientSecretPost an empty secret makes the client public: it sends
	// client_id as a form parameter and cannot obtain a PAT. The secret is
	// also the HMAC key of AuthClientSecretJWT.
	Credentials Credentials `json:"credentials,omitempty"`
	// AuthMethod is the token-endpoint client authentication. If empty,
	// AuthClientSecretBasic.
	AuthMethod AuthMethod `json:"auth-method,omitempty"`
	// PrivateKey signs AuthPrivateKeyJWT client assertions: an
	// *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey. Required for
	// AuthPrivateKeyJWT. It never appears in an error, a log line or fmt
	// output of a Config.
	PrivateKey crypto.Signer `json:"-"`
	// KeyID is the "kid" header of client assertions. If empty, none is sent.
	KeyID string `json:"key-id,omitempty"`
	// AssertionAlgorithm is the JWS algorithm of client assertions. If empty:
	// HS256 for AuthClientSecretJWT; RS256, ES256/ES384/ES512 (by curve) or
	// EdDSA for AuthPrivateKeyJWT, by key type.
	AssertionAlgorithm string `json:"algorithm,omitempty"`
	// AssertionAudience is the "aud" of client assertions. If empty, the
	// realm issuer (which Keycloak accepts, as it does the token endpoint).
	AssertionAudience string `json:"assertion-audience,omitempty"`
	// AssertionTTL is the lifetime of a client assertion. If zero, 60
	// seconds. Every request gets a fresh assertion with a new jti.
	AssertionTTL time.Duration `json:"-"`
	// Audience is the resource server the UMA grant asks for when a request
	// names none. If empty, ClientID. The default verifier requires RPTs to
	// name it in aud.
	Audience string `json:"audience,omitempty"`
	// TokenMinimumTimeToLive (seconds, Keycloak "token-minimum-time-to-live")
	// is subtracted from the PAT's expiry before reuse. If 0, 10 seconds;
	// negative means 0. It is capped at half the PAT's lifetime.
	TokenMinimumTimeToLive int `json:"token-minimum-time-to-live,omitempty"`

	// Exchange configures the RPT exchange cache of [Client.Exchange].
	Exchange ExchangeConfig `json:"-"`

	// InsecureAllowHTTP permits http:// endpoints. It MUST NOT be set in
	// production: client secrets and tokens would travel in clear text.
	InsecureAllowHTTP bool `json:"-"`
}

// ExchangeConfig bounds the RPT exchange cache. Zero values take the
// documented defaults.
type ExchangeConfig struct {
	// MaxEntries bounds the LRU. If 0, 10000.
	MaxEntries int
	// MaxTTL caps an entry's lifetime (it is also capped by the RPT's exp and
	// the subject token's exp). If 0, 5 minutes.
	MaxTTL time.Duration
	// DenyTTL is how long a denial (ErrAccessDenied) is remembered. If 0, 2
	// seconds; negative disables denial caching.
	DenyTTL time.Duration
	// ErrorBackoff is how long any other failure (ErrUnavailable, invalid
	// subject token, …) is remembered so a flood does not hammer the server.
	// If 0, 1 second; negative disables it.
	ErrorBackoff time.Duration
	// Skew is subtracted from expiries before caching. If 0, 5 seconds.
	Skew time.Duration
	// Disabled turns the cache off: every Exchange asks the server
	// (concurrent identical exchanges are still collapsed into one call).
	Disabled bool
}

// AuthMethod is a token-endpoint client authentication method.
type AuthMethod string

// Supported client authentication methods (RFC 6749 §2.3.1, RFC 7523 §2.2;
// the names are OAuth token_endpoint_auth_method values).
const (
	// AuthClientSecretBasic: Authorization: Basic base64(urlencode(id):urlencode(secret)).
	// Keycloak credentials {"secret": …}.
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost: client_id and client_secret form parameters.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthPrivateKeyJWT: an RFC 7523 client assertion signed with
	// Config.PrivateKey (Keycloak credentials {"jwt": …}).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthClientSecretJWT: an RFC 7523 client assertion MACed with the client
	// secret (Keycloak credentials {"secret-jwt": …}).
	AuthClientSecretJWT AuthMethod = "client_secret_jwt"
)

// String describes c without the secret and the private key.
func (c Config) String() string {
	key := ""
	if c.PrivateKey != nil {
		key = "REDACTED"
	}
	return fmt.Sprintf("uma.Config{AuthServerURL:%q Realm:%q Issuer:%q TokenEndpoint:%q ClientID:%q AuthMethod:%q Secret:%q PrivateKey:%q KeyID:%q}",
		c.AuthServerURL, c.Realm, c.Issuer, c.TokenEndpoint, c.ClientID, c.AuthMethod, c.Credentials.Secret.String(), key, c.KeyID)
}

// GoString is String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String, so no verb
// reveals the secret or the key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer without the secret and the key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("realm", c.Realm),
		slog.String("client_id", c.ClientID),
		slog.String("auth_method", string(c.AuthMethod)),
	)
}

// Credentials holds the client secret ({"secret": "…"} in Keycloak JSON).
type Credentials struct {
	Secret Secret `json:"secret,omitempty"`
}

// Secret is a string that redacts itself when formatted or logged.
type Secret string

// String implements fmt.Stringer; it never reveals the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString implements fmt.GoStringer (%#v); it never reveals the secret.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue implements slog.LogValuer; it never reveals the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler, so JSON or YAML dumps of a
// Config never reveal the secret either. Unmarshalling still reads the
// real value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Verifier verifies a raw RPT (signature and claims) and returns its claims.
// *rpt.Verifier satisfies it; so does introspection.Client.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*rpt.Claims, error)
}

// VerifierFunc adapts a function to [Verifier].
type VerifierFunc func(ctx context.Context, raw string) (*rpt.Claims, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, raw string) (*rpt.Claims, error) {
	return f(ctx, raw)
}

// Option wires dependencies into [New].
type Option func(*options)

type options struct {
	hc       *http.Client
	logger   *slog.Logger
	now      func() time.Time
	verifier Verifier
}

// WithHTTPClient sets the HTTP client for every call (discovery, JWKS, token,
// Protection API). Redirects are never followed whatever its CheckRedirect
// says. If not given, a client with timeouts from internal/httpx is used.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithLogger sets the logger. If not given, nothing is logged. Tokens and
// secrets are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for PAT reuse and cache expiry. If not
// given, time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithVerifier sets the verifier for RPTs received from the token endpoint.
// If not given, [New] builds an rpt.Verifier from the realm's jwks_uri,
// issuer and Config.Audience, and [Client.Close] closes it.
func WithVerifier(v Verifier) Option { return func(o *options) { o.verifier = v } }
