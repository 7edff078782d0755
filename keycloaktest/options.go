package keycloaktest

import (
	"context"
	"crypto"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// Default fixture values used when no option overrides them.
const (
	DefaultRealm         = "rptguard"
	DefaultClientID      = "rptguard-api"
	DefaultClientSecret  = "secret"
	DefaultTokenLifetime = 5 * time.Minute
)

// Option configures a [Server] at start-up.
type Option func(*config)

type config struct {
	realm      string
	tls        bool
	listenAddr string // WithListenAddr; "" = a random loopback port
	rsID       string
	rsSecret   string
	rsKey      crypto.PublicKey
	clients    []Client
	users      []User
	resources  []Resource
	grants     []Grant
	evaluator  Evaluator
	alg        string
	lifetime   time.Duration
	now        func() time.Time
	// Authorization settings (authz.go).
	authz       []byte
	authzSet    bool
	authzClient string
	rsExplicit  bool
}

func defaultConfig() *config {
	return &config{
		realm:    DefaultRealm,
		rsID:     DefaultClientID,
		rsSecret: DefaultClientSecret,
		alg:      "RS256",
		lifetime: DefaultTokenLifetime,
		now:      time.Now,
	}
}

// WithRealm sets the realm name (default "rptguard"). Every endpoint lives
// under /realms/{name}.
func WithRealm(name string) Option { return func(c *config) { c.realm = name } }

// WithTLS serves over HTTPS (httptest.NewTLSServer). [Server.HTTPClient]
// trusts the server's certificate.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithResourceServer sets the client_id and secret of the resource-server
// client (default "rptguard-api"/"secret"). It is confidential, has
// Authorization enabled and its service account holds the client role
// uma_protection.
func WithResourceServer(clientID, secret string) Option {
	return func(c *config) { c.rsID, c.rsSecret, c.rsExplicit = clientID, secret, true }
}

// WithResourceServerKey registers the public key the resource-server client
// authenticates with by private_key_jwt (see [Client.PublicKey]); its
// secret keeps working for the secret methods and client_secret_jwt.
// [Server.SetClientPublicKey] changes it later.
func WithResourceServerKey(key crypto.PublicKey) Option {
	return func(c *config) { c.rsKey = key }
}

// WithClient registers an extra client (public or confidential). Extra
// clients can authenticate and obtain tokens but are not resource servers.
func WithClient(cl Client) Option { return func(c *config) { c.clients = append(c.clients, cl) } }

// WithUser registers a user. A user with the username of a default user
// (alice, bob) replaces it.
func WithUser(u User) Option { return func(c *config) { c.users = append(c.users, u) } }

// WithResource registers a resource (owned by the resource server unless
// Resource.Owner says otherwise).
func WithResource(r Resource) Option { return func(c *config) { c.resources = append(c.resources, r) } }

// WithGrant adds an entry to the default grant table (see [Grant]).
func WithGrant(g Grant) Option { return func(c *config) { c.grants = append(c.grants, g) } }

// WithEvaluator replaces the grant table: every UMA grant decision is asked
// of e. Grants added with WithGrant/AddGrant are then ignored.
func WithEvaluator(e Evaluator) Option { return func(c *config) { c.evaluator = e } }

// WithSigningAlgorithm selects the realm key algorithm: "RS256" (default),
// "PS256", "ES256" or "EdDSA" (Ed25519). Unknown values make New/Start fail.
func WithSigningAlgorithm(alg string) Option { return func(c *config) { c.alg = alg } }

// WithTokenLifetime sets the access token lifespan (default 5m). Permission
// tickets expire with the PAT they were made with.
func WithTokenLifetime(d time.Duration) Option { return func(c *config) { c.lifetime = d } }

// WithClock sets the server's clock (default time.Now), used to issue and
// to check tokens.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Client is an OAuth client of the realm.
type Client struct {
	ID string // client_id
	// Secret is the client secret (client_secret_basic, client_secret_post)
	// and the HMAC key of client_secret_jwt assertions. Ignored for public
	// clients; if empty, the secret methods fail.
	Secret string
	Public bool // public clients authenticate with client_id only
	// PublicKey, when set, lets the client authenticate with private_key_jwt
	// (Keycloak's "Signed JWT" authenticator): an *rsa.PublicKey,
	// *ecdsa.PublicKey or ed25519.PublicKey verifying the RFC 7523
	// client_assertion. If nil, private_key_jwt fails for this client.
	PublicKey crypto.PublicKey
	// ServiceAccountRoles are realm roles of the client's service account
	// (confidential clients only), present in client_credentials tokens.
	ServiceAccountRoles []string
}

// User is a realm user.
type User struct {
	// ID defaults to a UUID-like string derived from Username.
	ID, Username, Password string
	RealmRoles             []string
	ClientRoles            map[string][]string // clientID → roles
	Groups                 []string            // group paths, e.g. "/staff/admins" (claim "groups")
	// Attributes become extra token claims (e.g. "email"): one value is
	// serialized as a string, several as an array.
	Attributes map[string][]string
}

// Resource is an authorization resource (Keycloak ResourceRepresentation).
type Resource struct {
	ID, Name, DisplayName, Type string // ID defaults to a UUID-like string
	URIs, Scopes                []string
	// Owner is a client_id or username; default: the resource server client.
	Owner              string
	OwnerManagedAccess bool
	Attributes         map[string][]string
	IconURI            string // icon_uri
}

// Grant is an entry of the default grant table.
type Grant struct {
	User     string              // username; "*" = any authenticated subject (service accounts included)
	Resource string              // resource name or id
	Scopes   []string            // scopes granted (subset of the resource's); empty = all of them
	Claims   map[string][]string // optional: grant only when the pushed claims contain these values
}

// Subject is the requesting party of a UMA grant.
type Subject struct {
	UserID, Username string
	ClientID         string         // the requesting client (azp)
	Claims           map[string]any // the subject token's claims
}

// RequestedPermission is one permission asked for in a UMA grant or a
// permission ticket. ResourceID "" asks for scopes only.
type RequestedPermission struct {
	ResourceID string
	Scopes     []string
}

// Evaluator decides UMA grants. The default is the grant table built from
// [WithGrant] and [Server.AddGrant].
//
// req is the list of requested permissions, each naming an existing resource
// id (or none, for a scope-only request); an empty req is an entitlement
// request: evaluate every resource. pushed holds the claims pushed with
// claim_token plus those of a permission ticket. The result lists the
// granted permissions (rsid, rsname, scopes); an empty result denies.
// Permissions returned without Claims get the pushed claims attached, as
// Keycloak does. Implementations must be safe for concurrent use.
type Evaluator interface {
	Evaluate(ctx context.Context, sub Subject, req []RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error)
}
