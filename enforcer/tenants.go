package enforcer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ErrUnknownTenant is returned by [Tenants.Decide] when no tenant matches
// the request (a token whose iss names no configured tenant, a resolver
// answering a name that does not exist). The decision is 401 invalid_token
// for requests with a token, 403 otherwise.
var ErrUnknownTenant = errors.New("enforcer: no tenant for the request")

// Tenant is one realm or resource server served by [Tenants].
type Tenant struct {
	// Name identifies the tenant for [ByRequest] resolvers and
	// [Tenants.Tenant]. Required, unique.
	Name string
	// Enforcer serves the tenant. It must be built for this tenant alone
	// (its own New call): its key set, verifier, UMA client and caches are
	// then its own, so no cache entry crosses tenants. Giving two tenants
	// the same verifier or UMA client through options would share them.
	Enforcer *Enforcer
	// Issuer is the tenant's token issuer (iss), used by [ByIssuer]. If
	// empty, the issuer discovered by the enforcer (the UMA client's) is
	// used, else auth-server-url + "/realms/" + realm from its
	// configuration.
	Issuer string
}

// TenantResolver selects the tenant for a request. Build one with
// [ByIssuer] or [ByRequest].
type TenantResolver struct {
	byIssuer bool
	fn       func(*http.Request) string
}

// ByIssuer selects the tenant whose issuer equals the bearer token's iss
// claim, read WITHOUT verification. This is safe because iss only chooses
// which tenant's verifier runs: the chosen tenant then verifies the token
// completely with its own keys (signature, exp, iss, aud, typ), exactly as
// if the request had been sent to it directly, which anyone can do anyway.
// A forged iss can only pick a tenant whose keys did not sign the token,
// and is rejected there (401); the kid is looked up in that tenant's key
// set only, so colliding kids across realms do not help. A token whose iss
// names no tenant, or that is not a JWT, is answered 401 invalid_token
// without any tenant seeing it. The unverified read is bounded by the
// largest max-token-size of the tenants and decodes only the payload's iss.
//
// Requests without a token go to the default tenant ([WithDefaultTenant]),
// or are answered 401 when there is none.
func ByIssuer() TenantResolver { return TenantResolver{byIssuer: true} }

// ByRequest selects the tenant named by f (for example from r.Host or a
// path prefix). f must not read the body. An empty or unknown name denies
// (401 for requests with a token, 403 otherwise). For [Tenants.Decide], f
// sees a request built from [Request]: Method, URL (from Path), Header,
// Host (the Header's "Host" value) and RemoteAddr.
func ByRequest(f func(r *http.Request) string) TenantResolver {
	return TenantResolver{fn: f}
}

// TenantsOption configures [NewTenants].
type TenantsOption func(*tenantsOptions)

type tenantsOptions struct {
	defaultTenant string
	denyHandler   DenyHandler
}

// WithDefaultTenant names the tenant that decides anonymous requests under
// [ByIssuer] (public paths, 401 challenges with its realm). It is never used
// for a request that carries a token.
func WithDefaultTenant(name string) TenantsOption {
	return func(o *tenantsOptions) { o.defaultTenant = name }
}

// WithTenantDenyHandler sets the writer of the denials Tenants produces
// itself (no tenant chosen). Denials of a tenant are written by that
// tenant's own handler. If nil or not given, the default ([WriteDenial]).
func WithTenantDenyHandler(h DenyHandler) TenantsOption {
	return func(o *tenantsOptions) { o.denyHandler = h }
}

// Tenants serves several realms or resource servers in one process: each
// request is decided by exactly one tenant's [Enforcer], chosen by a
// [TenantResolver]. Tenants share nothing: keys, verifiers, caches, UMA
// clients and the path cache belong to each Enforcer. Reload a tenant with
// Tenant(name).Reload. Tenants is safe for concurrent use.
type Tenants struct {
	byName    map[string]*Enforcer
	byIssuer  map[string]*Enforcer
	resolver  TenantResolver
	def       *Enforcer
	maxToken  int
	deny      DenyHandler
	closeOnce sync.Once
}

// NewTenants combines the tenants under resolver. Names and issuers must be
// unique and every Enforcer distinct. Tenants takes ownership: Close closes
// every Enforcer.
func NewTenants(resolver TenantResolver, tenants []Tenant, opts ...TenantsOption) (*Tenants, error) {
	var o tenantsOptions
	for _, opt := range opts {
		opt(&o)
	}
	if !resolver.byIssuer && resolver.fn == nil {
		return nil, errors.New("enforcer: tenants: a resolver (ByIssuer or ByRequest) is required")
	}
	if len(tenants) == 0 {
		return nil, errors.New("enforcer: tenants: at least one tenant is required")
	}
	t := &Tenants{byName: map[string]*Enforcer{}, byIssuer: map[string]*Enforcer{}, resolver: resolver, deny: o.denyHandler}
	if t.deny == nil {
		t.deny = defaultDeny{}
	}
	seen := map[*Enforcer]bool{}
	for i, tn := range tenants {
		switch {
		case tn.Name == "":
			return nil, fmt.Errorf("enforcer: tenants[%d]: name is required", i)
		case tn.Enforcer == nil:
			return nil, fmt.Errorf("enforcer: tenant %q: enforcer is nil", tn.Name)
		case t.byName[tn.Name] != nil:
			return nil, fmt.Errorf("enforcer: tenant %q listed twice", tn.Name)
		case seen[tn.Enforcer]:
			return nil, fmt.Errorf("enforcer: tenant %q: enforcer shared with another tenant", tn.Name)
		}
		seen[tn.Enforcer] = true
		t.byName[tn.Name] = tn.Enforcer
		t.maxToken = max(t.maxToken, tn.Enforcer.st.Load().maxToken)
		if resolver.byIssuer {
			iss := tn.Issuer
			if iss == "" {
				iss = tn.Enforcer.issuer()
			}
			if iss == "" {
				return nil, fmt.Errorf("enforcer: tenant %q: issuer unknown; set Tenant.Issuer", tn.Name)
			}
			if t.byIssuer[iss] != nil {
				return nil, fmt.Errorf("enforcer: tenant %q: issuer shared with another tenant", tn.Name)
			}
			t.byIssuer[iss] = tn.Enforcer
		}
	}
	if o.defaultTenant != "" {
		if t.def = t.byName[o.defaultTenant]; t.def == nil {
			return nil, fmt.Errorf("enforcer: default tenant %q is not a tenant", o.defaultTenant)
		}
	}
	return t, nil
}

// issuer is the issuer the enforcer's verifiers expect: the UMA client's
// (discovered), else the one derived from the configuration.
func (e *Enforcer) issuer() string {
	if d := e.deps.Load(); d != nil && d.uma != nil {
		if iss := d.uma.Issuer(); iss != "" {
			return iss
		}
	}
	cfg := e.st.Load().cfg
	if cfg.AuthServerURL == "" || cfg.Realm == "" {
		return ""
	}
	return strings.TrimRight(cfg.AuthServerURL, "/") + "/realms/" + url.PathEscape(cfg.Realm)
}

// Tenant returns the named tenant's Enforcer.
func (t *Tenants) Tenant(name string) (*Enforcer, bool) {
	e, ok := t.byName[name]
	return e, ok
}

// Close closes every tenant's Enforcer. It is idempotent.
func (t *Tenants) Close() {
	t.closeOnce.Do(func() {
		for _, e := range t.byName {
			e.Close()
		}
	})
}

// Ready reports whether every tenant is ready.
func (t *Tenants) Ready() bool {
	for _, e := range t.byName {
		if !e.Ready() {
			return false
		}
	}
	return true
}

// resolve picks the enforcer for a request: token is the bearer token ("" if
// none), hr the HTTP request (built for Decide).
func (t *Tenants) resolve(hr func() *http.Request, token string) *Enforcer {
	if !t.resolver.byIssuer {
		return t.byName[t.resolver.fn(hr())]
	}
	if token == "" {
		return t.def
	}
	iss, ok := unverifiedIssuer(token, t.maxToken)
	if !ok {
		return nil
	}
	return t.byIssuer[iss]
}

// unverifiedIssuer reads the iss claim of a compact JWS without verifying
// anything. It is used only to choose the tenant that will verify.
func unverifiedIssuer(token string, maxSize int) (string, bool) {
	if maxSize <= 0 {
		maxSize = DefaultMaxTokenSize
	}
	if len(token) > maxSize {
		return "", false
	}
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return "", false
	}
	var c struct {
		Iss *string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil || c.Iss == nil || *c.Iss == "" {
		return "", false
	}
	return *c.Iss, true
}

// noTenant is the decision when no tenant matches.
func noTenant(hasToken bool) Decision {
	if hasToken {
		_, invalid, _, _ := bearerChallenges("")
		return Decision{Status: statusFor(ReasonInvalidToken, false), Reason: ReasonInvalidToken, Challenge: invalid, Err: ErrUnknownTenant}
	}
	plain, _, _, _ := bearerChallenges("")
	return Decision{Status: statusFor(ReasonNoToken, false), Reason: ReasonNoToken, Challenge: plain, Err: ErrUnknownTenant}
}

// Middleware routes each request to its tenant's [Enforcer.Middleware]
// (same pipeline, same guarantees). Requests with no tenant are denied:
// 401 Bearer error="invalid_token" when they carry a token, 401 Bearer
// otherwise; ambiguous or malformed credentials under [ByIssuer] are 400
// invalid_request. The handler is safe for concurrent use.
func (t *Tenants) Middleware(next http.Handler) http.Handler {
	handlers := make(map[*Enforcer]http.Handler, len(t.byName))
	for _, e := range t.byName {
		handlers[e] = e.Middleware(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := ""
		if t.resolver.byIssuer {
			var err error
			tok, err = extractBearer(r.Header, r.URL.RawQuery, t.maxToken)
			if errors.Is(err, errAmbiguousCredentials) {
				_, _, invalidReq, _ := bearerChallenges("")
				t.deny.ServeDenial(w, r, Decision{Status: statusFor(ReasonInvalidRequest, false), Reason: ReasonInvalidRequest, Challenge: invalidReq})
				return
			}
			if err != nil { // too large: like any invalid token
				t.deny.ServeDenial(w, r, noTenant(true))
				return
			}
		} else {
			tok = r.Header.Get("Authorization")
		}
		e := t.resolve(func() *http.Request { return r }, tok)
		if e == nil {
			t.deny.ServeDenial(w, r, noTenant(tok != ""))
			return
		}
		handlers[e].ServeHTTP(w, r)
	})
}

// Decide runs the chosen tenant's [Enforcer.Decide]. When no tenant
// matches, the Decision denies (401) and err matches [ErrUnknownTenant].
func (t *Tenants) Decide(ctx context.Context, r Request) (Decision, error) {
	e := t.resolve(func() *http.Request { return requestFor(ctx, r) }, r.Token)
	if e == nil {
		d := noTenant(r.Token != "")
		return d, d.Err
	}
	return e.Decide(ctx, r)
}

// requestFor builds the *http.Request a ByRequest resolver sees for Decide.
func requestFor(ctx context.Context, r Request) *http.Request {
	h := r.Header
	if h == nil {
		h = http.Header{}
	}
	u, err := url.ParseRequestURI(r.Path)
	if err != nil {
		u = &url.URL{}
	}
	hr := &http.Request{Method: r.Method, URL: u, RequestURI: r.Path, Header: h, Host: h.Get("Host"),
		RemoteAddr: r.RemoteAddr, Body: http.NoBody}
	return hr.WithContext(ctx)
}
