package enforcer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
)

// offlineExport is a realm export written for rptguard with every policy
// type (a copy of policies/keycloak/testdata/rptguard-all-policies-realm.json).
const offlineExport = "testdata/offline/all-policies-realm.json"

// offlineNow is in March, in business hours: "Business Hours" (9–17)
// permits, "Not In March" denies Public.
var offlineNow = time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC)

const offlinePaths = `"paths":[
	{"path":"/orders/*","methods":[
		{"method":"GET","scopes":["read"]},{"method":"POST","scopes":["write"]},{"method":"DELETE","scopes":["delete"]}]},
	{"path":"/reports","name":"Reports","methods":[{"method":"GET","scopes":["read"]},{"method":"POST","scopes":["export"]}]},
	{"path":"/archive","name":"Archive","scopes":["read"]},
	{"path":"/public/*"}]`

func offlineServer(tb testing.TB, now time.Time) *keycloaktest.Server {
	tb.Helper()
	export, err := os.ReadFile(offlineExport)
	require.NoError(tb, err)
	return keycloaktest.New(tb,
		keycloaktest.WithAuthorizationSettings(export),
		keycloaktest.WithAuthorizationClient("orders-api"),
		keycloaktest.WithClock(func() time.Time { return now }))
}

// newOfflineEnv builds an enforcer (and middleware server) for doc against kc.
func newOfflineEnv(tb testing.TB, kc *keycloaktest.Server, doc string, now time.Time, opts ...enforcer.Option) *env {
	tb.Helper()
	cfg := parseConfig(tb, kc, doc)
	opts = append([]enforcer.Option{enforcer.WithHTTPClient(kc.HTTPClient()), enforcer.WithClock(func() time.Time { return now })}, opts...)
	e, err := enforcer.New(context.Background(), cfg, opts...)
	require.NoError(tb, err)
	tb.Cleanup(e.Close)
	return &env{kc: kc, e: e, srv: newMiddlewareServer(tb, e)}
}

// TestOfflineMatchesUMA: for several users, paths and methods, the offline
// decision (Keycloak's policies translated to Rego, a plain access token)
// equals the decision of an enforcer asking keycloaktest, loaded from the
// same export, for an RPT over HTTP; and offline decisions make no call to
// the token endpoint or the Protection API.
func TestOfflineMatchesUMA(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	off := newOfflineEnv(t, kc, `{`+offlinePaths+`,"rptguard":{"permissions-source":"offline",
		"authorization-settings":"`+offlineExport+`","authorization-client":"orders-api"}}`, offlineNow)
	require.Zero(t, kc.Requests(keycloaktest.EndpointToken), "offline start-up needs no PAT")
	require.Zero(t, kc.Requests(keycloaktest.EndpointResourceSet), "offline paths are bound from the export")
	uma := newOfflineEnv(t, kc, `{`+offlinePaths+`,"rptguard":{"permissions-source":"uma"}}`, offlineNow)

	users := []struct{ name, azp string }{
		{"alice", "web-app"}, {"bob", "cli"}, {"carol", "cli"}, {"dave", "cli"}, {"erin", "cli"},
	}
	requests := []struct{ method, path string }{
		{"GET", "/orders/1"}, {"POST", "/orders/1"}, {"DELETE", "/orders/1"},
		{"GET", "/reports"}, {"POST", "/reports"}, {"GET", "/archive"}, {"GET", "/public/x"},
	}
	want := map[string]int{ // spot checks, worked out in policies/keycloak's decision tables
		"bob POST /orders/1": 200, "alice GET /orders/1": 200, "alice DELETE /orders/1": 403,
		"dave GET /orders/1": 403, "alice GET /reports": 200, "carol GET /reports": 403,
		"erin GET /archive": 200, "alice GET /public/x": 403,
	}
	allowed, denied := 0, 0
	for _, u := range users {
		token := kc.AccessToken(u.name, keycloaktest.WithAuthorizedParty(u.azp), keycloaktest.WithClaim("scope", "openid orders.read"))
		for _, r := range requests {
			name := u.name + " " + r.method + " " + r.path
			before := serverCalls(kc)
			got := off.do(t, r.method, r.path, token)
			assert.Equal(t, before, serverCalls(kc), "%s: offline called the server", name)
			ref := uma.do(t, r.method, r.path, token)
			assert.Equal(t, ref.status, got.status, "%s: offline and UMA disagree", name)
			if w, ok := want[name]; ok {
				assert.Equal(t, w, got.status, name)
			}
			if got.status == http.StatusOK {
				allowed++
			} else {
				denied++
				assert.Equal(t, `Bearer realm="`+kc.Realm()+`", error="insufficient_scope"`, got.header.Get("WWW-Authenticate"), name)
			}
		}
	}
	assert.Positive(t, allowed)
	assert.Positive(t, denied)
	assert.Positive(t, kc.Requests(keycloaktest.EndpointToken), "the UMA reference did ask the server")
}

// serverCalls counts the calls to the endpoints that decide permissions or
// resolve resources: token (UMA grant, PAT), permission, resource_set.
func serverCalls(kc *keycloaktest.Server) [3]int {
	return [3]int{kc.Requests(keycloaktest.EndpointToken), kc.Requests(keycloaktest.EndpointPermission), kc.Requests(keycloaktest.EndpointResourceSet)}
}

func newMiddlewareServer(tb testing.TB, e *enforcer.Enforcer) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(e.Middleware(echo))
	tb.Cleanup(srv.Close)
	return srv
}

// TestOfflineExportPaths: with the global source offline and no configured
// paths, the paths are the export's resource URIs; nothing is asked of the
// server after start-up (no token, no Protection API).
func TestOfflineExportPaths(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	v := newOfflineEnv(t, kc, `{"rptguard":{"permissions-source":"offline",
		"authorization-settings":"`+offlineExport+`","authorization-client":"orders-api"}}`, offlineNow)
	alice := kc.AccessToken("alice", keycloaktest.WithAuthorizedParty("web-app"))
	dave := kc.AccessToken("dave")
	tests := []struct {
		name, path, token string
		want              int
	}{
		{name: "granted read", path: "/orders/7", token: alice, want: 200},
		{name: "no role", path: "/orders/7", token: dave, want: 403},
		{name: "public denied in march", path: "/public/x", token: alice, want: 403},
		{name: "unmapped", path: "/nowhere", token: alice, want: 403},
		{name: "anonymous", path: "/orders/7", want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.do(t, http.MethodGet, tt.path, tt.token)
			assert.Equal(t, tt.want, got.status)
		})
	}
	assert.Zero(t, kc.Requests(keycloaktest.EndpointToken))
	assert.Zero(t, kc.Requests(keycloaktest.EndpointResourceSet))
	assert.Zero(t, kc.Requests(keycloaktest.EndpointPermission))
}

// TestOfflineUserManagedAccess: an offline path never asks for a
// permission ticket (the RPT it leads to would be ignored).
func TestOfflineUserManagedAccess(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	v := newOfflineEnv(t, kc, `{`+offlinePaths+`,"user-managed-access":{},"rptguard":{"permissions-source":"offline",
		"authorization-settings":"`+offlineExport+`","authorization-client":"orders-api"}}`, offlineNow)
	assert.Equal(t, http.StatusUnauthorized, v.do(t, "GET", "/orders/1", "").status)
	assert.Equal(t, http.StatusForbidden, v.do(t, "DELETE", "/orders/1", kc.AccessToken("alice")).status)
	assert.Zero(t, kc.Requests(keycloaktest.EndpointPermission))
}

// TestOfflineClock: time policies read the enforcer's clock, never a time
// pushed by the request ("Business Hours" is 9–17 UTC).
func TestOfflineClock(t *testing.T) {
	t.Parallel()
	export, err := os.ReadFile(offlineExport)
	require.NoError(t, err)
	s, err := keycloak.Parse(export, keycloak.WithClientID("orders-api"))
	require.NoError(t, err)
	res, err := keycloak.Translate(s)
	require.NoError(t, err)
	bob := &rpt.Claims{Raw: map[string]any{
		"sub": "bob-id", "preferred_username": "bob", "azp": "cli",
		"realm_access":    map[string]any{"roles": []any{"user", "admin"}},
		"resource_access": map[string]any{"orders-api": map[string]any{"roles": []any{"manager"}}},
	}}
	verifier := enforcer.TokenVerifierFunc(func(context.Context, string) (*rpt.Claims, error) { return bob, nil })
	doc := `{` + offlinePaths + `,"claim-information-point":{"claims":{"kc.time.date_time":"{request.header['X-Time']}"}},
		"rptguard":{"permissions-source":"offline"}}`
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{name: "business hours", now: offlineNow, want: true},
		{name: "evening", now: time.Date(2026, 3, 18, 20, 30, 0, 0, time.UTC), want: false},
		{name: "early morning", now: time.Date(2026, 3, 18, 8, 59, 0, 0, time.UTC), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := parseConfig(t, nil, doc)
			e, err := enforcer.New(context.Background(), cfg, enforcer.WithoutServer(), enforcer.WithVerifier(verifier),
				enforcer.WithAuthorizationSettings(res), enforcer.WithClock(func() time.Time { return tt.now }))
			require.NoError(t, err)
			defer e.Close()
			// The request claims it is business hours: ignored.
			d, err := e.Decide(context.Background(), enforcer.Request{Method: "POST", Path: "/orders/1", Token: "t",
				Header: http.Header{"X-Time": {"2026-03-18 10:30:00"}}})
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Allowed, "reason %s", d.Reason)
			assert.Equal(t, "Orders", d.Resource.Name, "bound from the export by URI")
		})
	}
}

// jsExport is a standalone export with a JavaScript policy.
const jsExport = `{
  "policyEnforcementMode": "ENFORCING", "decisionStrategy": "UNANIMOUS",
  "resources": [{"name": "Docs", "uris": ["/docs/*"], "scopes": [{"name": "read"}]}],
  "scopes": [{"name": "read"}],
  "policies": [
    {"name": "Only Owner", "type": "js", "config": {"code": "$evaluation.grant();"}},
    {"name": "Docs Permission", "type": "resource", "config": {"resources": "[\"Docs\"]", "applyPolicies": "[\"Only Owner\"]"}}
  ]
}`

// TestOfflineUnsupportedPolicy: a JavaScript policy without a mapping makes
// New fail naming it; mapped, it decides as mapped; Reload re-translates.
func TestOfflineUnsupportedPolicy(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "export.json")
	require.NoError(t, os.WriteFile(file, []byte(jsExport), 0o600))
	claims := &rpt.Claims{Raw: map[string]any{"sub": "u", "preferred_username": "u"}}
	verifier := enforcer.TokenVerifierFunc(func(context.Context, string) (*rpt.Claims, error) { return claims, nil })
	doc := func(mappings string) string {
		return `{"paths":[{"path":"/docs/*","scopes":["read"]}],"rptguard":{"permissions-source":"offline",
			"authorization-settings":` + jsonString(file) + mappings + `}}`
	}
	newEnf := func(t *testing.T, mappings string) (*enforcer.Enforcer, error) {
		e, err := enforcer.New(context.Background(), parseConfig(t, nil, doc(mappings)), enforcer.WithoutServer(), enforcer.WithVerifier(verifier))
		if e != nil {
			t.Cleanup(e.Close)
		}
		return e, err
	}
	decide := func(t *testing.T, e *enforcer.Enforcer) bool {
		d, err := e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/docs/a", Token: "t"})
		require.NoError(t, err)
		return d.Allowed
	}
	tests := []struct {
		name      string
		mappings  string
		wantErr   bool
		wantAllow bool
	}{
		{name: "unmapped", wantErr: true},
		{name: "mapped to deny", mappings: `,"policy-mappings":{"Only Owner":"deny"}`},
		{name: "mapped to allow", mappings: `,"policy-mappings":{"Only Owner":"allow"}`, wantAllow: true},
		{name: "mapping another name", mappings: `,"policy-mappings":{"Someone Else":"allow"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := newEnf(t, tt.mappings)
			if tt.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, enforcer.ErrInvalidConfig)
				assert.ErrorIs(t, err, keycloak.ErrUnsupportedPolicy)
				assert.Contains(t, err.Error(), "Only Owner")
				assert.Contains(t, err.Error(), "rptguard.authorization-settings")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantAllow, decide(t, e))
		})
	}
	t.Run("reload re-translates", func(t *testing.T) {
		t.Parallel()
		e, err := newEnf(t, `,"policy-mappings":{"Only Owner":"deny"}`)
		require.NoError(t, err)
		assert.False(t, decide(t, e))
		require.NoError(t, e.Reload(parseConfig(t, nil, doc(`,"policy-mappings":{"Only Owner":"allow"}`))))
		assert.True(t, decide(t, e))
		err = e.Reload(parseConfig(t, nil, doc("")))
		require.ErrorIs(t, err, keycloak.ErrUnsupportedPolicy)
		assert.True(t, decide(t, e), "a failed reload keeps the current policies")
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestOfflineConfig covers parsing and validation of the offline keys.
func TestOfflineConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rptguard  string
		wantErr   bool
		wantField string
	}{
		{name: "complete", rptguard: `"authorization-settings":"x.json","authorization-client":"api","policy-mappings":{"A":"allow","B":"deny","C":"data.rptguard.rules.owner.ok"}`},
		{name: "client without settings", rptguard: `"authorization-client":"api"`, wantErr: true, wantField: "rptguard.authorization-client"},
		{name: "mappings without settings", rptguard: `"policy-mappings":{"A":"allow"}`, wantErr: true, wantField: "rptguard.policy-mappings"},
		{name: "bad mapping", rptguard: `"authorization-settings":"x.json","policy-mappings":{"A":"yes"}`, wantErr: true, wantField: "rptguard.policy-mappings.A"},
		{name: "mapping not a string", rptguard: `"authorization-settings":"x.json","policy-mappings":{"A":true}`, wantErr: true, wantField: "rptguard.policy-mappings.A"},
		{name: "duplicate mapping", rptguard: `"authorization-settings":"x.json","policy-mappings":{"A":"allow","A":"deny"}`, wantErr: true, wantField: "rptguard.policy-mappings.A"},
		{name: "unknown key", rptguard: `"authorization-export":"x.json"`, wantErr: true, wantField: "rptguard.authorization-export"},
		{name: "settings with control character", rptguard: `"authorization-settings":"x\u0001.json"`, wantErr: true, wantField: "rptguard.authorization-settings"},
		{name: "settings not a string", rptguard: `"authorization-settings":1`, wantErr: true, wantField: "rptguard.authorization-settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := enforcer.ParseConfig([]byte(`{"paths":[{"path":"/a"}],"rptguard":{` + tt.rptguard + `}}`))
			if tt.wantErr {
				require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
				var ce *enforcer.ConfigError
				require.True(t, errors.As(err, &ce), "%v", err)
				assert.Equal(t, tt.wantField, ce.Field)
				return
			}
			require.NoError(t, err)
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			again, err := enforcer.ParseConfig(b)
			require.NoError(t, err)
			assert.Equal(t, cfg, again, "round trip")
		})
	}
}

// TestOfflineWildcardNoLazyLookup: with lazy-load-paths on and a global
// source that is not offline, a wildcard path whose own source is offline is
// still bound to the export and never looked up on the server (regression
// test: such paths used to go through the matchingUri lookup).
func TestOfflineWildcardNoLazyLookup(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	v := newOfflineEnv(t, kc, `{"lazy-load-paths":true,"paths":[
		{"path":"/orders/*","methods":[{"method":"GET","scopes":["read"]}],"rptguard":{"permissions-source":"offline"}}],
		"rptguard":{"permissions-source":"uma","authorization-settings":"`+offlineExport+`","authorization-client":"orders-api"}}`, offlineNow)
	token := kc.AccessToken("alice", keycloaktest.WithAuthorizedParty("web-app"), keycloaktest.WithClaim("scope", "openid orders.read"))
	before := kc.Requests(keycloaktest.EndpointResourceSet)
	assert.Equal(t, http.StatusOK, v.do(t, "GET", "/orders/1", token).status)
	assert.Equal(t, before, kc.Requests(keycloaktest.EndpointResourceSet), "an offline path asked the server for its resource")
}
