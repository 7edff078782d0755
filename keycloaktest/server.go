package keycloaktest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is a Keycloak-compatible authorization server for one realm,
// running on an httptest server. All methods are safe for concurrent use.
//
// Security: every key, secret and password of a Server is a test value (the
// first RSA keys come from a pool embedded in this package). Never use it
// outside tests and local development.
type Server struct {
	cfg       *config
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once
	notReady  atomic.Bool
	counters  [numEndpoints]atomic.Int64

	mu              sync.RWMutex
	rsUUID          string
	clients         map[string]*Client // by client_id
	clientUUIDs     map[string]string  // client_id → internal id
	users           map[string]*User   // by username
	resources       []*resource        // insertion order
	grants          []Grant
	keys            []*signingKey // published keys
	signKID         string
	retired         *signingKey            // a retired key that still signs (until RotateKey)
	foreign         map[string]*signingKey // alg → key not in the JWKS
	jwksOverride    []byte
	revoked         map[string]bool // jti or token hash
	revokedSessions map[string]bool
	knobs           map[Endpoint]*knob
	last            map[Endpoint]*RecordedRequest
	authz           *authzState          // loaded authorization settings, or nil
	usedJTIs        map[string]time.Time // client id + jti of accepted client assertions → expiry
}

// resource is a stored Resource with its owner resolved.
type resource struct {
	Resource
	ownerID   string // internal id: client uuid or user id
	ownerName string // client_id or username
	ownerIsRS bool
}

// New starts a Server for a test, registers tb.Cleanup(s.Close) and fails tb
// if the options are invalid.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(opts...)
	if err != nil {
		tb.Fatalf("keycloaktest: %v", err)
		return nil
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server outside a test (for example the CLI's dev-keycloak).
// The caller must call [Server.Close].
func Start(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	if cfg.realm == "" || strings.ContainsAny(cfg.realm, "/?#") {
		return nil, fmt.Errorf("keycloaktest: invalid realm name %q", cfg.realm)
	}
	var authz *parsedExport
	if cfg.authzSet {
		pe, err := parseExport(cfg.authz, cfg.authzClient, cfg.rsID)
		if err != nil {
			return nil, err
		}
		pe.adoptResourceServer(cfg)
		authz = pe
	}
	if cfg.rsID == "" {
		return nil, fmt.Errorf("keycloaktest: empty resource server client id")
	}
	if cfg.now == nil {
		return nil, fmt.Errorf("keycloaktest: nil clock")
	}
	s := &Server{
		cfg:             cfg,
		closed:          make(chan struct{}),
		clients:         map[string]*Client{},
		clientUUIDs:     map[string]string{},
		users:           map[string]*User{},
		foreign:         map[string]*signingKey{},
		revoked:         map[string]bool{},
		revokedSessions: map[string]bool{},
		knobs:           map[Endpoint]*knob{},
		last:            map[Endpoint]*RecordedRequest{},
		usedJTIs:        map[string]time.Time{},
	}
	key, err := newSigningKey(cfg.alg, cfg.realm)
	if err != nil {
		return nil, err
	}
	s.keys = []*signingKey{key}
	s.signKID = key.kid

	s.addClientLocked(Client{ID: cfg.rsID, Secret: cfg.rsSecret, PublicKey: cfg.rsKey})
	s.rsUUID = s.clientUUIDs[cfg.rsID]
	for _, c := range cfg.clients {
		if c.ID == "" {
			return nil, fmt.Errorf("keycloaktest: client without id")
		}
		if c.ID == cfg.rsID {
			return nil, fmt.Errorf("keycloaktest: client %q is the resource server", c.ID)
		}
		s.addClientLocked(c)
	}
	s.addUserLocked(User{Username: "alice", Password: "alice", RealmRoles: []string{"user"}})
	s.addUserLocked(User{Username: "bob", Password: "bob", RealmRoles: []string{"user", "admin"}})
	for _, u := range cfg.users {
		if u.Username == "" {
			return nil, fmt.Errorf("keycloaktest: user without username")
		}
		s.addUserLocked(u)
	}
	for _, r := range cfg.resources {
		if _, err := s.addResourceLocked(r); err != nil {
			return nil, err
		}
	}
	s.grants = append(s.grants, cfg.grants...)
	if authz != nil {
		if err := s.applyAuthzLocked(authz, false); err != nil {
			return nil, err
		}
	}

	srv, err := startHTTP(cfg, s)
	if err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// Close stops the server. Requests held by [Server.Hang] or latency are
// released first. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// URL returns the server root ("auth-server-url"), e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.URL }

// Realm returns the realm name.
func (s *Server) Realm() string { return s.cfg.realm }

// Issuer returns URL()+"/realms/"+Realm(), the iss of every token.
func (s *Server) Issuer() string { return s.srv.URL + "/realms/" + s.cfg.realm }

// JWKSURL returns the certs endpoint.
func (s *Server) JWKSURL() string { return s.Issuer() + "/protocol/openid-connect/certs" }

// TokenURL returns the token endpoint.
func (s *Server) TokenURL() string { return s.Issuer() + "/protocol/openid-connect/token" }

// IntrospectionURL returns the RFC 7662 introspection endpoint.
func (s *Server) IntrospectionURL() string {
	return s.Issuer() + "/protocol/openid-connect/token/introspect"
}

// PermissionURL returns the UMA permission (ticket) endpoint.
func (s *Server) PermissionURL() string { return s.Issuer() + "/authz/protection/permission" }

// ResourceSetURL returns the Protection API resource_set endpoint.
func (s *Server) ResourceSetURL() string { return s.Issuer() + "/authz/protection/resource_set" }

// HTTPClient returns a client that trusts the server (TLS or not).
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// ClientID returns the resource-server client_id.
func (s *Server) ClientID() string { return s.cfg.rsID }

// ClientSecret returns the resource-server client secret.
func (s *Server) ClientSecret() string { return s.cfg.rsSecret }

// AddUser registers (or replaces, by username) a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(u)
}

// AddResource registers a resource and returns its id. A resource whose
// owner cannot be resolved, or whose name is empty or taken by the same
// owner, is not added and "" is returned.
func (s *Server) AddResource(r Resource) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.addResourceLocked(r)
	if err != nil {
		return ""
	}
	return id
}

// AddGrant adds an entry to the default grant table.
func (s *Server) AddGrant(g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants = append(s.grants, g)
}

// ResourceID returns the id of the resource with that name owned by the
// resource server (else the first of that name), or "".
func (s *Server) ResourceID(name string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var fallback string
	for _, r := range s.resources {
		if r.Name != name {
			continue
		}
		if r.ownerIsRS {
			return r.ID
		}
		if fallback == "" {
			fallback = r.ID
		}
	}
	return fallback
}

func (s *Server) addClientLocked(c Client) {
	cp := c
	cp.ServiceAccountRoles = slices.Clone(c.ServiceAccountRoles)
	s.clients[c.ID] = &cp
	s.clientUUIDs[c.ID] = derivedID(s.cfg.realm, "client", c.ID)
}

func (s *Server) addUserLocked(u User) {
	cp := u
	if cp.ID == "" {
		cp.ID = derivedID(s.cfg.realm, "user", u.Username)
	}
	cp.RealmRoles = slices.Clone(u.RealmRoles)
	cp.Groups = slices.Clone(u.Groups)
	cp.ClientRoles = cloneValues(u.ClientRoles)
	cp.Attributes = cloneValues(u.Attributes)
	s.users[u.Username] = &cp
}

func (s *Server) userByID(id string) *User {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// resolveOwnerLocked maps a client_id, username or internal id to an owner.
func (s *Server) resolveOwnerLocked(owner string) (id, name string, isRS, ok bool) {
	if owner == "" || owner == s.cfg.rsID || owner == s.rsUUID {
		return s.rsUUID, s.cfg.rsID, true, true
	}
	if uuid, found := s.clientUUIDs[owner]; found {
		return uuid, owner, false, true
	}
	for cid, uuid := range s.clientUUIDs {
		if uuid == owner {
			return uuid, cid, false, true
		}
	}
	if u, found := s.users[owner]; found {
		return u.ID, u.Username, false, true
	}
	if u := s.userByID(owner); u != nil {
		return u.ID, u.Username, false, true
	}
	return "", "", false, false
}

func (s *Server) addResourceLocked(r Resource) (string, error) {
	if strings.TrimSpace(r.Name) == "" {
		return "", fmt.Errorf("keycloaktest: resource without name")
	}
	oid, oname, isRS, ok := s.resolveOwnerLocked(r.Owner)
	if !ok {
		return "", fmt.Errorf("keycloaktest: resource %q: unknown owner", r.Name)
	}
	for _, x := range s.resources {
		if x.Name == r.Name && x.ownerID == oid {
			return "", fmt.Errorf("keycloaktest: resource %q already exists", r.Name)
		}
		if r.ID != "" && x.ID == r.ID {
			return "", fmt.Errorf("keycloaktest: resource id %q already exists", r.ID)
		}
	}
	st := &resource{Resource: cloneResource(r), ownerID: oid, ownerName: oname, ownerIsRS: isRS}
	if st.ID == "" {
		st.ID = randomUUID()
	}
	st.Owner = oname
	s.resources = append(s.resources, st)
	return st.ID, nil
}

func (s *Server) resourceByIDLocked(id string) *resource {
	for _, r := range s.resources {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func cloneResource(r Resource) Resource {
	cp := r
	cp.URIs = nonBlank(r.URIs)
	cp.Scopes = nonBlank(r.Scopes)
	cp.Attributes = cloneValues(r.Attributes)
	return cp
}

func nonBlank(in []string) []string {
	var out []string
	for _, v := range in {
		if strings.TrimSpace(v) != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func cloneValues(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// derivedID returns a stable UUID-like id for (realm, kind, name).
func derivedID(realm, kind, name string) string {
	sum := sha256.Sum256([]byte(realm + "\x00" + kind + "\x00" + name))
	return formatUUID(sum[:16])
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b[:])
}

func formatUUID(b []byte) string {
	u := make([]byte, 16)
	copy(u, b)
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP implements http.Handler: it routes /realms/{realm}/… to the
// endpoints, after counting, recording and applying the knobs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep, rest, ok := s.route(r.URL.Path)
	if ok {
		s.counters[ep.index()].Add(1)
	}
	if !s.record(ep, ok, w, r) {
		return
	}
	if !s.applyKnobs(w, r, ep, ok) {
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "Unable to find matching target resource method", "For more on this error consult the server log.")
		return
	}
	switch ep {
	case EndpointOIDCDiscovery:
		s.handleDiscovery(w, r, false)
	case EndpointUMADiscovery:
		s.handleDiscovery(w, r, true)
	case EndpointJWKS:
		s.handleJWKS(w, r)
	case EndpointToken:
		s.handleToken(w, r)
	case EndpointIntrospection:
		s.handleIntrospect(w, r)
	case EndpointPermission:
		s.handlePermission(w, r)
	case EndpointResourceSet:
		s.handleResourceSet(w, r, rest)
	}
}

func (s *Server) route(p string) (Endpoint, string, bool) {
	prefix := "/realms/" + s.cfg.realm
	rest, found := strings.CutPrefix(p, prefix)
	if !found {
		return "", "", false
	}
	switch rest {
	case "/.well-known/openid-configuration":
		return EndpointOIDCDiscovery, "", true
	case "/.well-known/uma2-configuration":
		return EndpointUMADiscovery, "", true
	case "/protocol/openid-connect/certs":
		return EndpointJWKS, "", true
	case "/protocol/openid-connect/token":
		return EndpointToken, "", true
	case "/protocol/openid-connect/token/introspect":
		return EndpointIntrospection, "", true
	case "/authz/protection/permission":
		return EndpointPermission, "", true
	case "/authz/protection/resource_set":
		return EndpointResourceSet, "", true
	}
	if id, ok := strings.CutPrefix(rest, "/authz/protection/resource_set/"); ok && id != "" && !strings.Contains(id, "/") {
		return EndpointResourceSet, id, true
	}
	return "", "", false
}

// errorBody is Keycloak's OAuth error JSON.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorBody{Error: code, Description: desc})
}

// noStore sets the cache headers Keycloak puts on token responses.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func methodNotAllowed(w http.ResponseWriter, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed", "")
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request, uma bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	iss := s.Issuer()
	algs := []string{"PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512", "PS256", "PS512", "RS512"}
	doc := map[string]any{
		"issuer":                 iss,
		"authorization_endpoint": iss + "/protocol/openid-connect/auth",
		"token_endpoint":         s.TokenURL(),
		"introspection_endpoint": s.IntrospectionURL(),
		"end_session_endpoint":   iss + "/protocol/openid-connect/logout",
		"jwks_uri":               s.JWKSURL(),
		"registration_endpoint":  iss + "/clients-registrations/openid-connect",
		"grant_types_supported": []string{"authorization_code", "client_credentials", "implicit", "password",
			"refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange",
			"urn:ietf:params:oauth:grant-type:uma-ticket", "urn:openid:params:grant-type:ciba"},
		"response_types_supported": []string{"code", "none", "id_token", "token", "id_token token", "code id_token",
			"code token", "code id_token token"},
		"response_modes_supported": []string{"query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"},
		"scopes_supported": []string{"openid", "profile", "email", "roles", "web-origins", "acr", "basic",
			"address", "phone", "offline_access", "microprofile-jwt", "organization"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic",
			"client_secret_post", "tls_client_auth", "client_secret_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": algs,
	}
	if uma {
		doc["resource_registration_endpoint"] = s.ResourceSetURL()
		doc["permission_endpoint"] = s.PermissionURL()
		doc["policy_endpoint"] = iss + "/authz/protection/uma-policy"
	} else {
		doc["userinfo_endpoint"] = iss + "/protocol/openid-connect/userinfo"
		doc["id_token_signing_alg_values_supported"] = algs
		doc["subject_types_supported"] = []string{"public", "pairwise"}
		doc["claims_parameter_supported"] = true
		doc["introspection_endpoint_auth_methods_supported"] = doc["token_endpoint_auth_methods_supported"]
		doc["code_challenge_methods_supported"] = []string{"plain", "S256"}
	}
	writeJSON(w, http.StatusOK, doc)
}
