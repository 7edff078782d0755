package enforcer_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF, shopServer())
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Items", "view"))
	tests := []struct {
		name       string
		req        enforcer.Request
		allowed    bool
		status     int
		reason     enforcer.Reason
		template   string
		wantScopes []string
	}{
		{"allowed", enforcer.Request{Method: "GET", Path: "/api/7", Token: tok}, true, 200, enforcer.ReasonAllowed, "/api/{id}", []string{"view"}},
		{"anonymous", enforcer.Request{Method: "GET", Path: "/api/7"}, false, 401, enforcer.ReasonNoToken, "/api/{id}", []string{"view"}},
		{"public", enforcer.Request{Method: "GET", Path: "/public/x"}, true, 200, enforcer.ReasonPathDisabled, "/public/*", nil},
		{"forbidden", enforcer.Request{Method: "GET", Path: "/admin/x", Token: tok}, false, 403, enforcer.ReasonForbidden, "/admin/*", nil},
		{"unmapped", enforcer.Request{Method: "GET", Path: "/zzz", Token: tok}, false, 403, enforcer.ReasonUnmappedPath, "", nil},
		{"invalid token", enforcer.Request{Method: "GET", Path: "/api/7", Token: "x.y.z"}, false, 401, enforcer.ReasonInvalidToken, "/api/{id}", []string{"view"}},
		{"bad path", enforcer.Request{Method: "GET", Path: "/a/../b"}, false, 400, enforcer.ReasonBadRequest, "", nil},
		{"too long", enforcer.Request{Method: "GET", Path: "/" + string(make([]byte, 0)) + longPath()}, false, 414, enforcer.ReasonPathTooLong, "", nil},
		{"trace", enforcer.Request{Method: "TRACE", Path: "/api/7"}, false, 405, enforcer.ReasonMethodNotAllowed, "", nil},
		{"override header", enforcer.Request{Method: "POST", Path: "/api/7", Header: http.Header{"X-Http-Method-Override": {"GET"}}}, false, 400, enforcer.ReasonBadRequest, "", nil},
		{"options asterisk", enforcer.Request{Method: "OPTIONS", Path: "*"}, false, 403, enforcer.ReasonUnmappedPath, "", nil},
		{"asterisk with GET", enforcer.Request{Method: "GET", Path: "*"}, false, 400, enforcer.ReasonBadRequest, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := v.e.Decide(context.Background(), tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.allowed, d.Allowed)
			assert.Equal(t, tt.status, d.Status)
			assert.Equal(t, tt.reason, d.Reason)
			assert.Equal(t, tt.template, d.Template)
			assert.Equal(t, tt.wantScopes, d.RequiredScopes)
			assert.Equal(t, tt.allowed, d.Context != nil)
		})
	}
	d, err := v.e.Decide(context.Background(), enforcer.Request{Method: "TRACE", Path: "/x"})
	require.NoError(t, err)
	assert.Equal(t, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT", d.Allow)
}

func longPath() string {
	b := make([]byte, 9<<10)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestFromContext(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, shopServer()...)
	cfg := parseConfig(t, kc, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`)
	e, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
	require.NoError(t, err)
	defer e.Close()
	var got *enforcer.AuthorizationContext
	h := e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = enforcer.FromContext(r.Context())
	}))
	req, _ := http.NewRequest("GET", "/api/orders", nil)
	req.RequestURI = "/api/orders"
	req.Header.Set("Authorization", "Bearer "+kc.IssueRPT("alice", perm(kc, "Orders", "view")))
	rec := newRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.NotNil(t, got)
	assert.True(t, got.Granted())
	assert.True(t, got.HasPermission("orders", "view"))
	assert.False(t, got.HasPermission("Orders", "edit"))
	assert.True(t, got.HasScopePermission("view"))
	assert.Equal(t, "/api/orders", got.Template())
	assert.Equal(t, "Orders", got.Resource().Name)
	assert.Equal(t, "alice", got.Claims().PreferredUsername)
	_, ok := enforcer.FromContext(context.Background())
	assert.False(t, ok)
}

func TestReload(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`, shopServer())
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"), perm(v.kc, "Admin"))
	assert.Equal(t, 403, v.do(t, "GET", "/admin/x", tok).status)

	good := parseConfig(t, v.kc, `{"paths":[{"path":"/api/orders","name":"Orders"},{"path":"/admin/*","name":"Admin"}],"rptguard":{"permissions-source":"token"}}`)
	require.NoError(t, v.e.Reload(good))
	assert.Equal(t, 200, v.do(t, "GET", "/admin/x", tok).status)

	bad := good
	bad.Paths = append([]enforcer.PathConfig(nil), good.Paths...)
	bad.Paths[1].Path = "/admin/*/x"
	require.ErrorIs(t, v.e.Reload(bad), enforcer.ErrInvalidConfig)
	assert.Equal(t, 200, v.do(t, "GET", "/admin/x", tok).status, "the old configuration stays")

	other := good
	other.Resource = "another-client"
	require.Error(t, v.e.Reload(other))
	assert.Equal(t, 200, v.do(t, "GET", "/admin/x", tok).status)

	v.kc.Fail(keycloaktest.EndpointResourceSet, 500)
	unresolvable := good
	unresolvable.Paths = append(append([]enforcer.PathConfig(nil), good.Paths...), enforcer.PathConfig{Path: "/new"})
	require.Error(t, v.e.Reload(unresolvable))
	assert.Equal(t, 200, v.do(t, "GET", "/admin/x", tok).status)
}

// TestKeycloakDownAtStart: H1 — fail fast, or start not ready (503) and
// recover in the background; never allow.
func TestKeycloakDownAtStart(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, shopServer()...)
	kc.SetReady(false)
	cfg := parseConfig(t, kc, `{"paths":[{"path":"/api/orders","name":"Orders"},{"path":"/health","enforcement-mode":"DISABLED"}],"rptguard":{"permissions-source":"token"}}`)
	_, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
	require.Error(t, err)

	e, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()),
		enforcer.WithStartNotReady(), enforcer.WithRetryInterval(10*time.Millisecond, 50*time.Millisecond))
	require.NoError(t, err)
	defer e.Close()
	assert.False(t, e.Ready())
	tok := kc.IssueRPT("alice", perm(kc, "Orders"))
	d, err := e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
	require.ErrorIs(t, err, enforcer.ErrUnavailable)
	assert.Equal(t, 503, d.Status)
	assert.Positive(t, d.RetryAfter)
	d, err = e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/health"})
	require.NoError(t, err)
	assert.True(t, d.Allowed)

	kc.SetReady(true)
	require.Eventually(t, e.Ready, 5*time.Second, 10*time.Millisecond)
	d, err = e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
	require.NoError(t, err)
	assert.True(t, d.Allowed)
}

// TestDependencyDownWhileRunning: H2 — JWKS past its maximum age and
// introspection down give 503, never an allow; cached keys keep working.
func TestDependencyDownWhileRunning(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	opts := append(shopServer(), keycloaktest.WithClock(clock))
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"},
		{"path":"/fresh","name":"Admin","rptguard":{"token-verification":"introspection"}}],
		"rptguard":{"permissions-source":"token","introspection-cache":{"max-entries":-1}}}`, opts, enforcer.WithClock(clock))
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"), perm(v.kc, "Admin"))
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status)
	v.kc.Fail(keycloaktest.EndpointJWKS, 500)
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status, "cached keys keep working")

	v.kc.Fail(keycloaktest.EndpointIntrospection, 503)
	r := v.do(t, "GET", "/fresh", v.kc.IssueRPT("alice", perm(v.kc, "Admin")))
	assert.Equal(t, 503, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	now.Add(int64(11 * time.Minute)) // past the key set's maximum age
	r = v.do(t, "GET", "/api/orders", v.kc.IssueRPT("alice", perm(v.kc, "Orders")))
	assert.Equal(t, 503, r.status)
}

// TestPolicyFailures: evaluation errors and panics deny (H9).
func TestPolicyFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		ev     enforcer.EvaluatorFunc
		status int
		err    error
	}{
		{"error", func(context.Context, policies.Input) (policies.Decision, error) {
			return policies.Decision{Allow: true}, errors.New("boom")
		}, 500, enforcer.ErrPolicy},
		{"panic", func(context.Context, policies.Input) (policies.Decision, error) { panic("boom") }, 500, enforcer.ErrInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`, shopServer(), enforcer.WithEvaluator(tt.ev))
			tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))
			assert.Equal(t, tt.status, v.do(t, "GET", "/api/orders", tok).status)
			d, err := v.e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
			require.ErrorIs(t, err, tt.err)
			assert.False(t, d.Allowed)
		})
	}
}

// TestOffline: WithoutServer makes no outbound call at all.
func TestOffline(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, shopServer()...)
	ver, err := rpt.New(t.Context(), rpt.Config{ClaimRules: rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}},
		JWKSURL: kc.JWKSURL(), InsecureAllowHTTP: true}, rpt.WithHTTPClient(kc.HTTPClient()))
	require.NoError(t, err)
	defer ver.Close()
	cfg := parseConfig(t, nil, `{"paths":[{"path":"/api/orders","id":"orders-id","methods":[{"method":"GET","scopes":["view"]}]}],
		"user-managed-access":{}}`)
	e, err := enforcer.New(t.Context(), cfg, enforcer.WithoutServer(), enforcer.WithVerifier(ver))
	require.NoError(t, err)
	defer e.Close()
	kc.ResetCounters()
	ok := kc.IssueRPT("alice", rpt.Permission{ResourceID: "orders-id", Scopes: []string{"view"}})
	d, err := e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: ok})
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	d, err = e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: kc.AccessToken("alice")})
	require.NoError(t, err)
	assert.Equal(t, 403, d.Status, "no ticket can be made offline")
	for _, ep := range []keycloaktest.Endpoint{keycloaktest.EndpointToken, keycloaktest.EndpointPermission, keycloaktest.EndpointResourceSet, keycloaktest.EndpointUMADiscovery} {
		assert.Zero(t, kc.Requests(ep), ep)
	}
	_, err = enforcer.New(t.Context(), cfg, enforcer.WithoutServer())
	require.Error(t, err, "offline needs a verifier")
	_, err = enforcer.New(t.Context(), enforcer.Config{})
	require.ErrorIs(t, err, enforcer.ErrMissingServer)
}

// TestCloseIdempotent: Close twice, and concurrent decisions under -race.
func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`, shopServer())
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				d, _ := v.e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
				assert.True(t, d.Allowed)
			}
		})
	}
	wg.Wait()
	v.e.Close()
	v.e.Close()
}
