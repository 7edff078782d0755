package e2e_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// writePolicyDir writes one Rego module into a new directory.
func writePolicyDir(tb testing.TB, name, rego string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.MkdirAll(dir, 0o755))
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(rego), 0o600))
	return dir
}

// denyItems denies every request to the Items resource (a user deny rule).
const denyItems = `package rptguard.user

deny contains "items are closed" if input.resource.name == "Items"
`

// allowAll adds no deny rule.
const allowAll = `package rptguard.user

deny contains "never" if false
`

// TestAttackG_Cache runs security.md (g) end to end: caches never turn a
// denial into an allow, and concurrent misses share one fetch. G8 (a
// million distinct tokens) is soak_test.go, G9 and G6 under load are
// concurrency_test.go, G10 is TestAttackG_CloseUnderTimeout and TestMain.
//
// G12 (wall clock stepped back) cannot be reproduced in-process: the
// enforcer's clock is injected (WithClock) and rpt documents that it must
// carry Go's monotonic reading, which a wall-clock step does not change;
// a fake clock has none, so stepping it back only tests the fake.
func TestAttackG_Cache(t *testing.T) {
	t.Parallel()
	t.Run("G1 concurrent requests share one JWKS fetch", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		v.clock.Advance(11 * time.Second)
		v.kc.ResetCounters()
		same := v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey(), keycloaktest.WithKeyID("same-unknown"))
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				tok := same
				if i%2 == 1 {
					tok = v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey(), keycloaktest.WithKeyID(fmt.Sprintf("unknown-%d", i)))
				}
				check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, v.kc.Requests(keycloaktest.EndpointJWKS), 1, "at most one fetch per cooldown")
	})
	t.Run("G2 JWKS failing during refresh keeps the last good set", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		v.kc.Fail(keycloaktest.EndpointJWKS, http.StatusInternalServerError)
		v.clock.Advance(6 * time.Minute) // periodic refresh due
		v.kc.ResetCounters()
		for range 20 {
			tok := v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		}
		time.Sleep(50 * time.Millisecond)
		assert.LessOrEqual(t, v.kc.Requests(keycloaktest.EndpointJWKS), 1, "no hot loop: one attempt per cooldown")
	})
	t.Run("G3 a retired key stops verifying after the next refresh", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		old := v.kc.SignToken(v.claims())
		check(t, v.do(t, http.MethodGet, "/admin/x", old), 200, chNone, old)
		oldKID := v.kc.SigningKeyID()
		require.NotEmpty(t, v.kc.RotateKey())
		v.kc.RetireKey(oldKID)
		v.clock.Advance(6 * time.Minute) // periodic refresh due
		require.Eventually(t, func() bool {
			return v.do(t, http.MethodGet, "/admin/x", old).status == 401
		}, 10*time.Second, 20*time.Millisecond, "cached token of a retired key")
		check(t, v.do(t, http.MethodGet, "/admin/x", old), 401, chInvalidToken, old)
		fresh := v.kc.SignToken(v.claims())
		check(t, v.do(t, http.MethodGet, "/admin/x", fresh), 200, chNone, fresh)
	})
	t.Run("G4 two realms, tokens never cross", func(t *testing.T) {
		t.Parallel()
		a := newEnv(t, fixtureF)
		b := newEnv(t, fixtureF, withKC(keycloaktest.WithRealm("tenant-b")))
		ta := a.kc.SignToken(a.claims())
		tb := b.kc.SignToken(b.claims())
		// b's token claiming a's kid and issuer: signed by b's key.
		forged := b.kc.SignToken(a.claims(), keycloaktest.WithKeyID(a.kc.SigningKeyID()))
		check(t, a.do(t, http.MethodGet, "/admin/x", ta), 200, chNone, ta)
		check(t, b.do(t, http.MethodGet, "/admin/x", tb), 200, chAny, tb)
		check(t, a.do(t, http.MethodGet, "/admin/x", tb), 401, chInvalidToken, tb)
		check(t, a.do(t, http.MethodGet, "/admin/x", forged), 401, chInvalidToken, forged)
	})
	t.Run("G5 a decision is never reused for another path or token", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		tok := v.kc.IssueRPT("alice", perm(v.kc, "Admin"))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		check(t, v.do(t, http.MethodGet, "/api/1", tok), 403, chInsufficient, tok)
		check(t, v.do(t, http.MethodGet, "/api/orders", tok), 403, chInsufficient, tok)
		edit := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "edit"))
		view := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"))
		check(t, v.do(t, http.MethodPut, "/api/orders", edit), 200, chNone, edit)
		check(t, v.do(t, http.MethodPut, "/api/orders", view), 403, chInsufficient, view)
		check(t, v.do(t, http.MethodGet, "/api/orders", view), 200, chNone, view)
		check(t, v.do(t, http.MethodGet, "/api/orders", edit), 403, chInsufficient, edit)
	})
	t.Run("G6 a policy reload invalidates earlier decisions", func(t *testing.T) {
		t.Parallel()
		open, closed := writePolicyDir(t, "open", allowAll), writePolicyDir(t, "closed", denyItems)
		v := newEnv(t, fixtureF, withConfig(func(c *enforcer.Config) { c.RPTGuard.Policies = []string{open} }))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Items", "view"))
		check(t, v.do(t, http.MethodGet, "/api/7", tok), 200, chNone, tok)
		cfg := v.cfg
		cfg.RPTGuard.Policies = []string{closed}
		require.NoError(t, v.e.Reload(cfg))
		check(t, v.do(t, http.MethodGet, "/api/7", tok), 403, chInsufficient, tok)
		cfg.RPTGuard.Policies = []string{open}
		require.NoError(t, v.e.Reload(cfg))
		check(t, v.do(t, http.MethodGet, "/api/7", tok), 200, chNone, tok)
	})
	t.Run("G7 random lazy paths keep the path cache bounded", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, `{"lazy-load-paths":true,"path-cache":{"max-entries":50,"lifespan":30000},"rptguard":{"permissions-source":"token"}}`,
			withKC(keycloaktest.WithResource(keycloaktest.Resource{Name: "Lazy", URIs: []string{"/lazy/{id}"}, Scopes: []string{"view"}})))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Lazy"))
		for i := range 200 {
			p := fmt.Sprintf("/lazy/%d-%s", i, randomID())
			if i%2 == 1 {
				p = "/unknown/" + randomID()
			}
			r := v.do(t, http.MethodGet, p, tok)
			if i%2 == 0 {
				check(t, r, 200, chNone, tok)
			} else {
				check(t, r, 403, chInsufficient, tok)
			}
		}
		assert.LessOrEqual(t, v.e.PathCacheLen(), 50)
	})
	t.Run("G11 a cancelled waiter and a failed fetch are not cached", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		v.kc.RotateKey() // the enforcer does not know the new kid yet
		tok := v.kc.SignToken(v.claims())
		v.kc.Hang(keycloaktest.EndpointJWKS)
		v.clock.Advance(11 * time.Second)
		req, err := http.NewRequest(http.MethodGet, v.srv.URL+"/admin/x", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		c := v.client()
		c.Timeout = 300 * time.Millisecond
		if res, err := c.Do(req); err == nil { // the client gave up first
			r := toResult(t, res)
			check(t, r, 503, chNone, tok)
		}
		v.kc.Heal(keycloaktest.EndpointJWKS)
		v.clock.Advance(11 * time.Second)
		require.Eventually(t, func() bool {
			return v.do(t, http.MethodGet, "/admin/x", tok).status == 200
		}, 10*time.Second, 50*time.Millisecond, "the next refresh after the cooldown succeeds")
	})
}
