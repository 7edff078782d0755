package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// Configurations of the fault matrix. Every one adds a per-call timeout
// (3 s: generous, the CI machine may be loaded) so that slow and hung
// endpoints end in a bounded time.
const (
	faultLocal = `{"socket-timeout-millis":3000,"paths":[
		{"path":"/public/*","enforcement-mode":"DISABLED"},
		{"path":"/admin/*","name":"Admin"}],
		"rptguard":{"permissions-source":"token"}}`
	faultIntrospection = `{"socket-timeout-millis":3000,"paths":[
		{"path":"/public/*","enforcement-mode":"DISABLED"},
		{"path":"/admin/*","name":"Admin"}],
		"rptguard":{"permissions-source":"token","token-verification":"introspection","introspection-cache":{"max-ttl":"10s"}}}`
	faultHybrid = `{"socket-timeout-millis":3000,"paths":[
		{"path":"/admin/*","name":"Admin"}],
		"rptguard":{"permissions-source":"token","token-verification":"hybrid","introspection-interval":"10s"}}`
	faultUMA = `{"socket-timeout-millis":3000,"paths":[
		{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]}]}]}`
	faultLazy = `{"socket-timeout-millis":3000,"lazy-load-paths":true,"rptguard":{"permissions-source":"token"}}`
)

// faultRow is one cell of the fault matrix: a configuration, a token (made
// after the fault, or before it when warm), the fault (keycloaktest knobs and clock moves), and
// the exact answer. Denials are checked with the full response contract,
// so a wrong allow fails the row.
type faultRow struct {
	name   string
	doc    string
	token  func(v *env) string
	warm   bool // send the request once before the fault (caches warm)
	fault  func(v *env)
	path   string
	want   int
	ch     string
	kcOpts []keycloaktest.Option
}

func adminRPT(v *env) string { return v.kc.IssueRPT("bob", perm(v.kc, "Admin")) }

// TestFaults runs the fault matrix: JWKS, introspection (introspection and
// hybrid verification), the UMA token endpoint and the Protection API,
// each down, slow, or answering garbage or denials.
func TestFaults(t *testing.T) {
	t.Parallel()
	rotated := func(v *env) string { v.kc.RotateKey(); return adminRPT(v) }
	past := func(d time.Duration) func(v *env) { return func(v *env) { v.clock.Advance(d) } }
	both := func(fs ...func(v *env)) func(v *env) {
		return func(v *env) {
			for _, f := range fs {
				f(v)
			}
		}
	}
	failJWKS := func(status int) func(v *env) {
		return func(v *env) { v.kc.Fail(keycloaktest.EndpointJWKS, status) }
	}
	respondJWKS := func(ct, body string) func(v *env) {
		return func(v *env) { v.kc.Respond(keycloaktest.EndpointJWKS, 200, ct, body) }
	}
	on := func(e keycloaktest.Endpoint, status int, body string) func(v *env) {
		return func(v *env) { v.kc.Respond(e, status, "application/json", body) }
	}
	fail := func(e keycloaktest.Endpoint, status int) func(v *env) { return func(v *env) { v.kc.Fail(e, status) } }
	hang := func(e keycloaktest.Endpoint) func(v *env) { return func(v *env) { v.kc.Hang(e) } }
	slow := func(e keycloaktest.Endpoint) func(v *env) {
		return func(v *env) { v.kc.SetLatency(e, 10*time.Second) }
	}
	cooldown := past(11 * time.Second)
	bobToken := func(v *env) string { return v.kc.AccessToken("bob") }
	lazyRes := []keycloaktest.Option{keycloaktest.WithResource(keycloaktest.Resource{Name: "Lazy", URIs: []string{"/lazy/x"}})}
	lazyRPT := func(v *env) string { return v.kc.IssueRPT("bob", perm(v.kc, "Lazy")) }

	tests := []faultRow{
		// JWKS (local verification). Known keys keep working while they
		// are younger than the maximum key-set age (10 min, H2); an
		// unknown kid cannot be checked: 503, never an allow.
		{name: "JWKS down, known kid", doc: faultLocal, token: adminRPT, fault: both(failJWKS(500), past(6*time.Minute)), path: "/admin/x", want: 200, ch: chNone},
		{name: "JWKS down, forged token with a known kid", doc: faultLocal, token: func(v *env) string {
			return v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey())
		}, fault: both(failJWKS(500), cooldown), path: "/admin/x", want: 401, ch: chInvalidToken},
		{name: "JWKS down, rotated key", doc: faultLocal, token: rotated, fault: both(failJWKS(500), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS down beyond the maximum key-set age", doc: faultLocal, token: adminRPT, fault: both(failJWKS(503), past(11*time.Minute)), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS down, anonymous path unaffected", doc: faultLocal, token: func(*env) string { return "" }, fault: both(failJWKS(500), past(11*time.Minute)), path: "/public/x", want: 200, ch: chNone},
		{name: "JWKS slow, rotated key", doc: faultLocal, token: rotated, fault: both(slow(keycloaktest.EndpointJWKS), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS hangs, rotated key", doc: faultLocal, token: rotated, fault: both(hang(keycloaktest.EndpointJWKS), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS garbage, rotated key", doc: faultLocal, token: rotated, fault: both(respondJWKS("application/json", `{"keys":[{"kty":`), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS HTML, rotated key", doc: faultLocal, token: rotated, fault: both(respondJWKS("text/html", `<html></html>`), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS empty set, rotated key", doc: faultLocal, token: rotated, fault: both(respondJWKS("application/json", `{"keys":[]}`), cooldown), path: "/admin/x", want: 503, ch: chNone},
		{name: "JWKS empty set, known kid", doc: faultLocal, token: adminRPT, fault: both(respondJWKS("application/json", `{"keys":[]}`), past(6*time.Minute)), path: "/admin/x", want: 200, ch: chNone},
		{name: "JWKS rotated, healthy: one refresh", doc: faultLocal, token: rotated, fault: cooldown, path: "/admin/x", want: 200, ch: chNone},
		{name: "JWKS redirect not followed, rotated key", doc: faultLocal, token: rotated, fault: both(func(v *env) { v.kc.Respond(keycloaktest.EndpointJWKS, 302, "", "") }, cooldown), path: "/admin/x", want: 503, ch: chNone},

		// Introspection verification.
		{name: "introspection down", doc: faultIntrospection, token: adminRPT, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/admin/x", want: 503, ch: chNone},
		{name: "introspection not ready", doc: faultIntrospection, token: adminRPT, fault: func(v *env) { v.kc.SetReady(false) }, path: "/admin/x", want: 503, ch: chNone},
		{name: "introspection slow", doc: faultIntrospection, token: adminRPT, fault: slow(keycloaktest.EndpointIntrospection), path: "/admin/x", want: 503, ch: chNone},
		{name: "introspection malformed", doc: faultIntrospection, token: adminRPT, fault: on(keycloaktest.EndpointIntrospection, 200, `{"active":"yes"}`), path: "/admin/x", want: 503, ch: chNone},
		{name: "introspection down, cached answer", doc: faultIntrospection, token: adminRPT, warm: true, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/admin/x", want: 200, ch: chNone},
		{name: "introspection down, cache expired", doc: faultIntrospection, token: adminRPT, warm: true, fault: both(fail(keycloaktest.EndpointIntrospection, 500), past(11*time.Second)), path: "/admin/x", want: 503, ch: chNone},
		{name: "introspection revoked mid-way, within the cache TTL", doc: faultIntrospection, token: adminRPT, warm: true, fault: func(v *env) {}, path: "/admin/x", want: 200, ch: chNone},
		{name: "introspection down, anonymous path unaffected", doc: faultIntrospection, token: func(*env) string { return "" }, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/public/x", want: 200, ch: chNone},

		// Hybrid verification: local first, re-introspected every 10 s.
		{name: "hybrid: introspection down at first use", doc: faultHybrid, token: adminRPT, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/admin/x", want: 503, ch: chNone},
		{name: "hybrid: introspection down inside the interval", doc: faultHybrid, token: adminRPT, warm: true, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/admin/x", want: 200, ch: chNone},
		{name: "hybrid: introspection down after the interval", doc: faultHybrid, token: adminRPT, warm: true, fault: both(fail(keycloaktest.EndpointIntrospection, 500), past(11*time.Second)), path: "/admin/x", want: 503, ch: chNone},
		{name: "hybrid: forged token never reaches introspection", doc: faultHybrid, token: func(v *env) string {
			return v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey())
		}, fault: fail(keycloaktest.EndpointIntrospection, 500), path: "/admin/x", want: 401, ch: chInvalidToken},

		// UMA token endpoint (permissions-source uma: server-side RPT
		// exchange).
		{name: "token endpoint down", doc: faultUMA, token: bobToken, fault: fail(keycloaktest.EndpointToken, 500), path: "/api/orders", want: 503, ch: chNone},
		{name: "token endpoint slow", doc: faultUMA, token: bobToken, fault: slow(keycloaktest.EndpointToken), path: "/api/orders", want: 503, ch: chNone},
		{name: "token endpoint hangs", doc: faultUMA, token: bobToken, fault: hang(keycloaktest.EndpointToken), path: "/api/orders", want: 503, ch: chNone},
		{name: "token endpoint denies", doc: faultUMA, token: bobToken, fault: on(keycloaktest.EndpointToken, 403, `{"error":"access_denied","error_description":"not_authorized"}`), path: "/api/orders", want: 403, ch: chInsufficient},
		{name: "token endpoint garbage", doc: faultUMA, token: bobToken, fault: on(keycloaktest.EndpointToken, 200, `{"access_token":`), path: "/api/orders", want: 503, ch: chNone},
		{name: "token endpoint answers a forged RPT", doc: faultUMA, token: bobToken, fault: func(v *env) {
			forged := v.kc.SignToken(v.with("authorization", map[string]any{"permissions": []any{map[string]any{"rsid": v.kc.ResourceID("Orders"), "scopes": []string{"view"}}}}), keycloaktest.WithForeignKey())
			v.kc.Respond(keycloaktest.EndpointToken, 200, "application/json", `{"access_token":"`+forged+`","token_type":"Bearer","expires_in":300,"upgraded":false}`)
		}, path: "/api/orders", want: 403, ch: chInsufficient},
		{name: "token endpoint down, token holds the permission", doc: faultUMA, token: func(v *env) string {
			return v.kc.IssueRPT("bob", perm(v.kc, "Orders", "view"))
		}, fault: fail(keycloaktest.EndpointToken, 500), path: "/api/orders", want: 200, ch: chNone},
		{name: "token endpoint down, cached exchange", doc: faultUMA, token: bobToken, warm: true, fault: fail(keycloaktest.EndpointToken, 500), path: "/api/orders", want: 200, ch: chNone},

		// Protection API during lazy loading: a failed lookup is an
		// unmapped path (403, not cached; a documented difference from
		// Keycloak, which denies the same way for lazy lookups).
		{name: "resource_set down during lazy load", doc: faultLazy, kcOpts: lazyRes, token: lazyRPT, fault: fail(keycloaktest.EndpointResourceSet, 500), path: "/lazy/x", want: 403, ch: chInsufficient},
		{name: "resource_set hangs during lazy load", doc: faultLazy, kcOpts: lazyRes, token: lazyRPT, fault: hang(keycloaktest.EndpointResourceSet), path: "/lazy/x", want: 403, ch: chInsufficient},
		{name: "resource_set garbage during lazy load", doc: faultLazy, kcOpts: lazyRes, token: lazyRPT, fault: on(keycloaktest.EndpointResourceSet, 200, `[{"_id":`), path: "/lazy/x", want: 403, ch: chInsufficient},
		{name: "resource_set down, path already cached", doc: faultLazy, kcOpts: lazyRes, token: lazyRPT, warm: true, fault: fail(keycloaktest.EndpointResourceSet, 500), path: "/lazy/x", want: 200, ch: chNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, tt.doc, withKC(tt.kcOpts...))
			var tok string
			if tt.warm {
				tok = tt.token(v)
				check(t, v.do(t, http.MethodGet, tt.path, tok), 200, chNone, tok)
				if strings.Contains(tt.name, "revoked") {
					v.kc.Revoke(tok)
				}
				tt.fault(v)
			} else {
				// The token is issued after the clock moves, so that it is
				// fresh: only the fault can deny it.
				tt.fault(v)
				tok = tt.token(v)
			}
			check(t, v.do(t, http.MethodGet, tt.path, tok), tt.want, tt.ch, tok)
			v.kc.Heal("")
			v.kc.SetReady(true)
		})
	}
	t.Run("introspection revoked mid-way, after the cache TTL", func(t *testing.T) {
		t.Parallel()
		for _, doc := range []string{faultIntrospection, faultHybrid} {
			v := newEnv(t, doc)
			tok := adminRPT(v)
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
			v.kc.Revoke(tok)
			v.clock.Advance(11 * time.Second)
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		}
	})
	t.Run("lazy load recovers after resource_set heals", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, faultLazy, withKC(lazyRes...))
		tok := lazyRPT(v)
		v.kc.Fail(keycloaktest.EndpointResourceSet, 500)
		check(t, v.do(t, http.MethodGet, "/lazy/x", tok), 403, chInsufficient, tok)
		v.kc.Heal("")
		check(t, v.do(t, http.MethodGet, "/lazy/x", tok), 200, chNone, tok)
	})
}

// TestFaults_Startup: Keycloak down at start (H1, H10): New fails fast, or
// with WithStartNotReady answers 503 (DISABLED paths excepted) until a
// background retry reaches the server.
func TestFaults_Startup(t *testing.T) {
	t.Parallel()
	for _, ep := range []keycloaktest.Endpoint{"", keycloaktest.EndpointUMADiscovery, keycloaktest.EndpointJWKS, keycloaktest.EndpointResourceSet, keycloaktest.EndpointToken} {
		t.Run("New fails when down: "+string(ep), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			kc := newKC(t, clock)
			if ep == "" {
				kc.SetReady(false)
			} else {
				kc.Fail(ep, 503)
			}
			cfg := parseConfig(t, kc, faultLocal)
			e, err := enforcer.New(context.Background(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()), enforcer.WithClock(clock.Now))
			require.Error(t, err)
			assert.Nil(t, e)
			assert.NotContains(t, err.Error(), clientSecret)
		})
	}
	t.Run("WithStartNotReady: 503, then recovery", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		kc := newKC(t, clock)
		kc.SetReady(false)
		cfg := parseConfig(t, kc, faultLocal)
		e, err := enforcer.New(context.Background(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()), enforcer.WithClock(clock.Now),
			enforcer.WithStartNotReady(), enforcer.WithRetryInterval(20*time.Millisecond, 100*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(e.Close)
		v := &env{kc: kc, e: e, clock: clock}
		srv := newServer(t, v)
		tok := kc.IssueRPT("bob", perm(kc, "Admin"))
		forged := kc.SignToken(v.claims(), keycloaktest.WithForeignKey())
		assert.False(t, e.Ready())
		for range 3 {
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 503, chNone, tok)
			check(t, v.do(t, http.MethodGet, "/admin/x", forged), 503, chNone, forged)
			check(t, v.do(t, http.MethodGet, "/admin/x", ""), 503, chNone)
			check(t, v.do(t, http.MethodGet, "/nowhere", tok), 503, chNone, tok)
			check(t, v.do(t, http.MethodGet, "/public/x", ""), 200, chNone)
		}
		kc.SetReady(true)
		require.Eventually(t, e.Ready, 10*time.Second, 10*time.Millisecond)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		check(t, v.do(t, http.MethodGet, "/admin/x", forged), 401, chInvalidToken, forged)
		_ = srv
	})
	t.Run("H10 policy directory missing at start", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		kc := newKC(t, clock)
		cfg := parseConfig(t, kc, faultLocal)
		cfg.RPTGuard.Policies = []string{filepath.Join(t.TempDir(), "missing")}
		_, err := enforcer.New(context.Background(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
		require.Error(t, err)
	})
}

// newServer starts the middleware of v.e in front of v's handler.
func newServer(tb testing.TB, v *env) *env {
	tb.Helper()
	v.srv = httptestServer(tb, v.e.Middleware(v.handler()))
	return v
}

// TestFaults_PolicyReload: a policy bundle or directory broken on reload
// is refused and the old policy keeps deciding, in both directions.
func TestFaults_PolicyReload(t *testing.T) {
	t.Parallel()
	closed := writePolicyDir(t, "closed", denyItems)
	brokenDir := writePolicyDir(t, "broken", "package rptguard.user\n\ndeny contains x if {\n")
	typoDir := writePolicyDir(t, "typo", "package rptguard.user\n\ndeny contains \"t\" if input.toekn.sub == \"x\"\n")
	brokenBundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	require.NoError(t, os.WriteFile(brokenBundle, []byte("not a tarball"), 0o600))
	v := newEnv(t, fixtureF, withConfig(func(c *enforcer.Config) { c.RPTGuard.Policies = []string{closed} }))
	items := v.kc.IssueRPT("bob", perm(v.kc, "Items", "view"))
	admin := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
	decide := func() {
		t.Helper()
		check(t, v.do(t, http.MethodGet, "/api/7", items), 403, chInsufficient, items)
		check(t, v.do(t, http.MethodGet, "/admin/x", admin), 200, chNone, admin)
	}
	decide()
	for _, bad := range []string{brokenDir, typoDir, brokenBundle, filepath.Join(t.TempDir(), "gone")} {
		cfg := v.cfg
		cfg.RPTGuard.Policies = []string{bad}
		err := v.e.Reload(cfg)
		require.Error(t, err, bad)
		assert.False(t, errors.Is(err, context.Canceled))
		decide()
	}
	// A broken file dropped into the live directory is picked up only by
	// a Reload that changes rptguard.policies (documented); the engine
	// keeps the compiled policy until then.
	require.NoError(t, os.WriteFile(filepath.Join(closed, "zz_broken.rego"), []byte("package rptguard.user\n\ndeny contains"), 0o600))
	require.NoError(t, v.e.Reload(v.cfg))
	decide()
}
