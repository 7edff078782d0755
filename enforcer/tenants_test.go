package enforcer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

const tenantDoc = `{"paths":[{"path":"/api/orders","name":"Orders"},{"path":"/public/*","enforcement-mode":"DISABLED"}],
	"rptguard":{"permissions-source":"token"}}`

// twoRealms builds enforcers for realms "a" and "b" on two servers.
func twoRealms(tb testing.TB) (a, b *env) {
	tb.Helper()
	a = newEnv(tb, tenantDoc, append(shopServer(), keycloaktest.WithRealm("a")))
	b = newEnv(tb, tenantDoc, append(shopServer(), keycloaktest.WithRealm("b")))
	return a, b
}

// forgedFor signs, with from's key, a token claiming to come from to's
// realm, with to's current kid in the header (colliding kids, G4).
func forgedFor(from, to *env) string {
	now := time.Now()
	return from.kc.SignToken(map[string]any{
		"iss": to.kc.Issuer(), "sub": "mallory", "aud": to.kc.ClientID(), "azp": to.kc.ClientID(), "typ": "Bearer",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "forged",
		"authorization": map[string]any{"permissions": []any{map[string]any{"rsid": to.kc.ResourceID("Orders"), "rsname": "Orders"}}},
	}, keycloaktest.WithKeyID(to.kc.SigningKeyID()))
}

func TestTenantsByIssuer(t *testing.T) {
	t.Parallel()
	a, b := twoRealms(t)
	ts, err := enforcer.NewTenants(enforcer.ByIssuer(), []enforcer.Tenant{
		{Name: "a", Enforcer: a.e}, {Name: "b", Enforcer: b.e},
	}, enforcer.WithDefaultTenant("a"))
	require.NoError(t, err)
	t.Cleanup(ts.Close)
	require.True(t, ts.Ready())

	tokA := a.kc.IssueRPT("alice", perm(a.kc, "Orders"))
	tokB := b.kc.IssueRPT("alice", perm(b.kc, "Orders"))
	unknown := keycloaktest.New(t, keycloaktest.WithRealm("c"))
	tests := []struct {
		name, path, token string
		want              int
		wantReason        enforcer.Reason
	}{
		{"realm a", "/api/orders", tokA, 200, enforcer.ReasonAllowed},
		{"realm b", "/api/orders", tokB, 200, enforcer.ReasonAllowed},
		{"b's key, a's iss and kid", "/api/orders", forgedFor(b, a), 401, enforcer.ReasonInvalidToken},
		{"a's key, b's iss and kid", "/api/orders", forgedFor(a, b), 401, enforcer.ReasonInvalidToken},
		{"unknown issuer", "/api/orders", unknown.AccessToken("alice"), 401, enforcer.ReasonInvalidToken},
		{"not a JWT", "/api/orders", "opaque-token", 401, enforcer.ReasonInvalidToken},
		{"anonymous goes to the default tenant", "/public/x", "", 200, enforcer.ReasonPathDisabled},
		{"anonymous protected", "/api/orders", "", 401, enforcer.ReasonNoToken},
	}
	srv := httptest.NewServer(ts.Middleware(echo))
	t.Cleanup(srv.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, _ := ts.Decide(t.Context(), enforcer.Request{Method: "GET", Path: tt.path, Token: tt.token})
			assert.Equal(t, tt.want, d.Status)
			assert.Equal(t, tt.wantReason, d.Reason)

			req, err := http.NewRequest("GET", srv.URL+tt.path, nil)
			require.NoError(t, err)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			assert.Equal(t, tt.want, res.StatusCode)
		})
	}

	t.Run("unknown tenant error", func(t *testing.T) {
		t.Parallel()
		d, err := ts.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: unknown.AccessToken("bob")})
		require.ErrorIs(t, err, enforcer.ErrUnknownTenant)
		assert.Equal(t, `Bearer error="invalid_token"`, d.Challenge)
	})
	t.Run("anonymous challenge names the default tenant's realm", func(t *testing.T) {
		t.Parallel()
		d, _ := ts.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders"})
		assert.Contains(t, d.Challenge, `realm="a"`)
	})
}

// TestTenantsIsolation: decisions and caches never cross tenants, even for
// a token the other tenant has just accepted and cached.
func TestTenantsIsolation(t *testing.T) {
	t.Parallel()
	a, b := twoRealms(t)
	ts, err := enforcer.NewTenants(enforcer.ByRequest(func(r *http.Request) string { return r.Header.Get("X-Tenant") }),
		[]enforcer.Tenant{{Name: "a", Enforcer: a.e}, {Name: "b", Enforcer: b.e}})
	require.NoError(t, err)
	t.Cleanup(ts.Close)

	tokA := a.kc.IssueRPT("alice", perm(a.kc, "Orders"))
	forged := forgedFor(b, a)
	at := func(tenant, tok string) enforcer.Decision {
		d, _ := ts.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok, Header: http.Header{"X-Tenant": {tenant}}})
		return d
	}
	for range 3 { // warm every cache of tenant a, then ask b again
		assert.True(t, at("a", tokA).Allowed)
		d := at("b", tokA)
		assert.Equal(t, 401, d.Status, "a's token at tenant b")
		assert.Equal(t, enforcer.ReasonInvalidToken, d.Reason)
		assert.Equal(t, 401, at("a", forged).Status, "b's key with a's kid at tenant a")
	}
	assert.Equal(t, 401, at("", tokA).Status, "no tenant, with a token")
	d := at("nope", "")
	assert.Equal(t, 401, d.Status, "no tenant, anonymous")

	ea, ok := ts.Tenant("a")
	require.True(t, ok)
	assert.Same(t, a.e, ea)

	// Middleware routes by the same resolver.
	srv := httptest.NewServer(ts.Middleware(echo))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		tenant string
		want   int
	}{{"a", 200}, {"b", 401}, {"", 401}} {
		req, err := http.NewRequest("GET", srv.URL+"/api/orders", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tokA)
		req.Header.Set("X-Tenant", tt.tenant)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, tt.want, res.StatusCode, tt.tenant)
	}
}

func TestNewTenantsErrors(t *testing.T) {
	t.Parallel()
	a, _ := twoRealms(t)
	tests := []struct {
		name     string
		resolver enforcer.TenantResolver
		tenants  []enforcer.Tenant
		opts     []enforcer.TenantsOption
	}{
		{"no resolver", enforcer.TenantResolver{}, []enforcer.Tenant{{Name: "a", Enforcer: a.e}}, nil},
		{"no tenants", enforcer.ByIssuer(), nil, nil},
		{"empty name", enforcer.ByIssuer(), []enforcer.Tenant{{Enforcer: a.e}}, nil},
		{"nil enforcer", enforcer.ByIssuer(), []enforcer.Tenant{{Name: "a"}}, nil},
		{"shared enforcer", enforcer.ByIssuer(), []enforcer.Tenant{{Name: "a", Enforcer: a.e}, {Name: "b", Enforcer: a.e}}, nil},
		{"duplicate name", enforcer.ByIssuer(), []enforcer.Tenant{{Name: "a", Enforcer: a.e}, {Name: "a", Enforcer: a.e}}, nil},
		{"unknown default", enforcer.ByIssuer(), []enforcer.Tenant{{Name: "a", Enforcer: a.e}}, []enforcer.TenantsOption{enforcer.WithDefaultTenant("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := enforcer.NewTenants(tt.resolver, tt.tenants, tt.opts...)
			require.Error(t, err)
		})
	}
}
