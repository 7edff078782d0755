package interop_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
)

// enforcerConfig is a Keycloak policy-enforcer document for the orders and
// reports resources the Node server grants permissions on. The resource ids
// are written in the configuration because the enforcer runs offline
// (oidc-provider has no UMA Protection API to resolve them).
const enforcerConfig = `{
  "enforcement-mode": "ENFORCING",
  "resource": "orders-api",
  "bearer-only": true,
  "paths": [
    {"name": "orders", "path": "/orders/*", "id": "` + ordersID + `",
     "methods": [
       {"method": "GET", "scopes": ["read"]},
       {"method": "POST", "scopes": ["write"]}
     ]},
    {"name": "reports", "path": "/reports/*", "id": "` + reportsID + `",
     "methods": [{"method": "GET", "scopes": ["read"]}]}
  ],
  "rptguard": {"permissions-source": "token"}
}`

func newEnforcer(tb testing.TB, v enforcer.TokenVerifier) *enforcer.Enforcer {
	tb.Helper()
	cfg, err := enforcer.ParseConfig([]byte(enforcerConfig))
	require.NoError(tb, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := enforcer.New(ctx, cfg, enforcer.WithVerifier(v), enforcer.WithoutServer())
	require.NoError(tb, err)
	tb.Cleanup(e.Close)
	return e
}

// TestEnforcerDecide runs the decision pipeline offline on oidc-provider's
// JWT access tokens verified by rpt.Verifier.
func TestEnforcerDecide(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	e := newEnforcer(t, newVerifier(t, verifierConfig(s)))
	frontend := s.token(t, clientFrontend, resourceOrdersJWT, "read write")
	readonly := s.token(t, clientReadonly, resourceOrdersJWT, "read")

	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		wantAllow  bool
		wantStatus int
		wantReason enforcer.Reason
	}{
		{name: "read with read permission", method: http.MethodGet, path: "/orders/42", token: readonly, wantAllow: true, wantStatus: 200, wantReason: enforcer.ReasonAllowed},
		{name: "write with read+write permission", method: http.MethodPost, path: "/orders/42", token: frontend, wantAllow: true, wantStatus: 200, wantReason: enforcer.ReasonAllowed},
		{name: "write with read permission only", method: http.MethodPost, path: "/orders/42", token: readonly, wantStatus: 403, wantReason: enforcer.ReasonForbidden},
		{name: "no permission for the resource", method: http.MethodGet, path: "/reports/1", token: frontend, wantStatus: 403, wantReason: enforcer.ReasonForbidden},
		{name: "no token", method: http.MethodGet, path: "/orders/42", wantStatus: 401, wantReason: enforcer.ReasonNoToken},
		{name: "tampered token", method: http.MethodGet, path: "/orders/42", token: tamper(frontend), wantStatus: 401, wantReason: enforcer.ReasonInvalidToken},
		{name: "unmapped path", method: http.MethodGet, path: "/admin", token: frontend, wantStatus: 403, wantReason: enforcer.ReasonUnmappedPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := e.Decide(context.Background(), enforcer.Request{Method: tt.method, Path: tt.path, Token: tt.token})
			require.NoError(t, err)
			assert.Equal(t, tt.wantAllow, d.Allowed)
			assert.Equal(t, tt.wantStatus, d.Status)
			assert.Equal(t, tt.wantReason, d.Reason)
			if tt.wantAllow {
				require.NotNil(t, d.Context)
				assert.True(t, d.Context.HasResourcePermission(ordersID))
				assert.Equal(t, s.Issuer, d.Context.Claims().Issuer)
			}
			if tt.wantStatus == 401 {
				assert.Contains(t, d.Challenge, "Bearer")
			}
		})
	}
}

// TestEnforcerMiddleware drives the net/http middleware over real HTTP with
// a token from oidc-provider.
func TestEnforcerMiddleware(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	e := newEnforcer(t, newVerifier(t, verifierConfig(s)))
	app := httptest.NewServer(e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ac, ok := enforcer.FromContext(r.Context())
		if !ok || !ac.HasPermission(ordersID, "read") {
			http.Error(w, "no authorization context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello "+ac.Claims().AuthorizedParty)
	})))
	t.Cleanup(app.Close)
	token := s.token(t, clientReadonly, resourceOrdersJWT, "read")

	get := func(path, bearer string) (int, string, http.Header) {
		req, err := http.NewRequest(http.MethodGet, app.URL+path, nil)
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := app.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body), resp.Header
	}

	status, body, _ := get("/orders/7", token)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello "+clientReadonly, body)

	status, body, hdr := get("/orders/7", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.NotContains(t, body, "hello")
	assert.True(t, strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer"), hdr.Get("WWW-Authenticate"))

	status, _, _ = get("/reports/7", token)
	assert.Equal(t, http.StatusForbidden, status)
}

// TestEnforcerIntrospection uses introspection.Client as the enforcer's
// verifier for oidc-provider's opaque tokens; revocation at the server
// turns an allowed request into 401.
func TestEnforcerIntrospection(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	e := newEnforcer(t, newIntrospector(t, introspectionConfig(s, clientOrders, clientOrders)))
	token := s.token(t, clientFrontend, resourceOrdersOpaque, "read write")
	ctx := context.Background()

	d, err := e.Decide(ctx, enforcer.Request{Method: http.MethodPost, Path: "/orders/1", Token: token})
	require.NoError(t, err)
	assert.True(t, d.Allowed, "reason %s", d.Reason)

	s.revoke(t, clientFrontend, token)
	d, err = e.Decide(ctx, enforcer.Request{Method: http.MethodPost, Path: "/orders/1", Token: token})
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Equal(t, http.StatusUnauthorized, d.Status)
	assert.Equal(t, enforcer.ReasonInvalidToken, d.Reason)

	// The introspection endpoint refusing our credentials is a 503, not 401.
	bad := introspectionConfig(s, clientOrders, clientOrders)
	bad.ClientSecret = "not-the-secret"
	e2 := newEnforcer(t, newIntrospector(t, bad))
	d, err = e2.Decide(ctx, enforcer.Request{Method: http.MethodGet, Path: "/orders/1", Token: s.token(t, clientFrontend, resourceOrdersOpaque, "read")})
	require.Error(t, err)
	assert.ErrorIs(t, err, enforcer.ErrUnavailable)
	assert.False(t, d.Allowed)
	assert.Equal(t, http.StatusServiceUnavailable, d.Status)
}
