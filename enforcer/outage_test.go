package enforcer_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// fakeClock is a settable clock shared by keycloaktest and the enforcer.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// recObserver records observer events.
type recObserver struct {
	mu    sync.Mutex
	cache map[string][2]int // name → [misses, hits]
	calls map[string]int
}

func newRecObserver() *recObserver {
	return &recObserver{cache: map[string][2]int{}, calls: map[string]int{}}
}

func (o *recObserver) Decision(enforcer.Reason, int, time.Duration) {}
func (o *recObserver) Cache(name string, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.cache[name]
	if hit {
		c[1]++
	} else {
		c[0]++
	}
	o.cache[name] = c
}
func (o *recObserver) Call(endpoint string, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[endpoint]++
}
func (o *recObserver) hits(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cache[name][1]
}
func (o *recObserver) callCount(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[name]
}

func decideGET(tb testing.TB, e *enforcer.Enforcer, method, path, tok string) enforcer.Decision {
	tb.Helper()
	d, _ := e.Decide(tb.Context(), enforcer.Request{Method: method, Path: path, Token: tok})
	return d
}

// TestOutageStaleToken: introspection down, stale-ok reuses the last good
// answer for the same token within max-staleness and the token's exp, and
// never otherwise.
func TestOutageStaleToken(t *testing.T) {
	t.Parallel()
	for _, knob := range []string{"fail", "hang"} {
		t.Run(knob, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			obs := newRecObserver()
			opts := append(shopServer(), keycloaktest.WithClock(clk.Now))
			v := newEnv(t, `{"socket-timeout-millis":300,
				"paths":[{"path":"/api/orders","name":"Orders"},
				{"path":"/admin/*","name":"Admin","rptguard":{"on-outage":"deny"}}],
				"rptguard":{"permissions-source":"token","token-verification":"introspection",
				"introspection-cache":{"max-ttl":"10s"},"on-outage":"stale-ok","max-staleness":"30s"}}`,
				opts, enforcer.WithClock(clk.Now), enforcer.WithObserver(obs))
			tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"), perm(v.kc, "Admin"))
			short := v.kc.AccessToken("alice", keycloaktest.WithLifetime(20*time.Second), keycloaktest.WithClaim("authorization",
				map[string]any{"permissions": []any{map[string]any{"rsid": v.kc.ResourceID("Orders"), "rsname": "Orders"}}}))
			revoked := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))
			unseen := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))

			for _, tk := range []string{tok, short, revoked} {
				d := decideGET(t, v.e, "GET", "/api/orders", tk)
				require.True(t, d.Allowed, d.Reason)
				assert.False(t, d.Stale)
			}
			require.True(t, decideGET(t, v.e, "GET", "/admin/x", tok).Allowed)
			v.kc.Revoke(revoked)
			clk.Advance(11 * time.Second) // normal cache expired
			d := decideGET(t, v.e, "GET", "/api/orders", revoked)
			assert.Equal(t, 401, d.Status, "revocation seen before the outage")

			if knob == "fail" {
				v.kc.Fail(keycloaktest.EndpointIntrospection, 502)
			} else {
				v.kc.Hang(keycloaktest.EndpointIntrospection)
			}
			d = decideGET(t, v.e, "GET", "/api/orders", tok)
			assert.True(t, d.Allowed, d.Reason)
			assert.True(t, d.Stale)
			assert.Equal(t, 1, obs.hits("stale_token"))

			assert.Equal(t, 503, decideGET(t, v.e, "GET", "/admin/x", tok).Status, "path with on-outage deny")
			assert.Equal(t, 503, decideGET(t, v.e, "GET", "/api/orders", unseen).Status, "never verified: nothing to reuse")
			d = decideGET(t, v.e, "GET", "/api/orders", revoked)
			assert.False(t, d.Allowed, "a revoked token is never resurrected")
			assert.False(t, d.Stale)
			forged := tok[:len(tok)-4] + "AAAA"
			assert.False(t, decideGET(t, v.e, "GET", "/api/orders", forged).Allowed, "other bytes, other token")

			clk.Advance(10 * time.Second) // short has expired (20 s), staleness 21 s
			d = decideGET(t, v.e, "GET", "/api/orders", short)
			assert.False(t, d.Allowed, "never an allow with an expired token")
			assert.True(t, decideGET(t, v.e, "GET", "/api/orders", tok).Allowed, "21 s stale, within 30 s")
			d = decideGET(t, v.e, "GET", "/api/orders", revoked)
			assert.Equal(t, 503, d.Status, "negative answer expired; the stale active answer was dropped")

			clk.Advance(10 * time.Second) // 31 s since the last good answer
			d = decideGET(t, v.e, "GET", "/api/orders", tok)
			assert.Equal(t, 503, d.Status, "beyond max-staleness")
			assert.False(t, d.Stale)

			v.kc.Heal("")
			clk.Advance(2 * time.Second) // past the introspection error backoff
			d = decideGET(t, v.e, "GET", "/api/orders", tok)
			assert.True(t, d.Allowed)
			assert.False(t, d.Stale)
			assert.Positive(t, obs.callCount("verify"), "verification latency is reported")
		})
	}
}

// TestOutageStaleLocalMode: in local mode an unknown key is never replaced
// by a stale answer (signature verification is never skipped).
func TestOutageStaleLocalMode(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	opts := append(shopServer(), keycloaktest.WithClock(clk.Now))
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}],
		"rptguard":{"permissions-source":"token","on-outage":"stale-ok","max-staleness":"1h"}}`,
		opts, enforcer.WithClock(clk.Now))
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))
	require.True(t, decideGET(t, v.e, "GET", "/api/orders", tok).Allowed)
	v.kc.Fail(keycloaktest.EndpointJWKS, 500)
	v.kc.RotateKey()
	rotated := v.kc.IssueRPT("alice", perm(v.kc, "Orders"))
	d := decideGET(t, v.e, "GET", "/api/orders", rotated)
	assert.False(t, d.Allowed)
	assert.False(t, d.Stale)
	d = decideGET(t, v.e, "GET", "/api/orders", tok)
	assert.True(t, d.Allowed, "cached keys keep working")
	assert.False(t, d.Stale)
}

// TestOutageStaleUMA: the token endpoint down, stale-ok reuses the RPT of
// the same token, resource and scopes within max-staleness.
func TestOutageStaleUMA(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	obs := newRecObserver()
	opts := append(shopServer(), keycloaktest.WithClock(clk.Now))
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[
			{"method":"GET","scopes":["view"]},{"method":"POST","scopes":["edit"]}]}],
		"rptguard":{"uma-cache":{"max-ttl":"10s"},"on-outage":"stale-ok","max-staleness":"30s"}}`,
		opts, enforcer.WithClock(clk.Now), enforcer.WithObserver(obs))
	bob := v.kc.AccessToken("bob")
	alice := v.kc.AccessToken("alice")
	d := decideGET(t, v.e, "GET", "/api/orders", bob)
	require.True(t, d.Allowed, d.Reason)
	assert.False(t, d.Stale)
	assert.Equal(t, 403, decideGET(t, v.e, "GET", "/api/orders", alice).Status)

	v.kc.Fail(keycloaktest.EndpointToken, 502)
	clk.Advance(11 * time.Second)
	d = decideGET(t, v.e, "GET", "/api/orders", bob)
	assert.True(t, d.Allowed, d.Reason)
	assert.True(t, d.Stale)
	assert.Equal(t, 1, obs.hits("stale_uma"))
	assert.Equal(t, 503, decideGET(t, v.e, "POST", "/api/orders", bob).Status, "other scopes: no stale RPT")
	assert.False(t, decideGET(t, v.e, "GET", "/api/orders", alice).Allowed, "a denial is never turned into an allow")

	clk.Advance(20 * time.Second)
	d = decideGET(t, v.e, "GET", "/api/orders", bob)
	assert.Equal(t, 503, d.Status, "beyond max-staleness")
}
