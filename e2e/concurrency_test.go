package e2e_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// TestConcurrency sends requests from several goroutines while another
// goroutine reloads the configuration (switching between two policy
// directories, and trying a broken one) and rotates the realm's signing
// key. Every answer must be one of the correct ones for its request:
// a token that no configuration grants is never allowed (security.md G6,
// G9, H3). Run it with -race.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	workers, perWorker, rounds := 4, 600, 30
	if raceEnabled {
		perWorker, rounds = 150, 12
	}
	open := writePolicyDir(t, "open", allowAll)
	closed := writePolicyDir(t, "closed", denyItems)
	broken := writePolicyDir(t, "broken", "package rptguard.user\n\ndeny contains x if {\n")
	v := newEnv(t, fixtureF, withConfig(func(c *enforcer.Config) { c.RPTGuard.Policies = []string{open} }))
	kc := v.kc
	h := v.e.Middleware(v.handler())

	// Long-lived tokens: the clock moves 11 s per rotation round.
	long := func(kv ...any) map[string]any {
		now := v.now()
		return v.with(append([]any{"iat", now.Unix(), "exp", now.Add(23 * time.Hour).Unix()}, kv...)...)
	}
	adminRPT := func() string {
		return kc.SignToken(long("authorization", map[string]any{"permissions": []any{
			map[string]any{"rsid": kc.ResourceID("Admin")},
			map[string]any{"rsid": kc.ResourceID("Items"), "scopes": []string{"view"}},
		}}))
	}
	type req struct {
		name, method, path, token string
		want                      []int // the correct answers
	}
	static := []req{
		{"admin", "GET", "/admin/x", adminRPT(), []int{200}},
		// Items are open under one policy directory and closed under the
		// other: both answers are correct, depending on the reload.
		{"items", "GET", "/api/7", adminRPT(), []int{200, 403}},
		{"no permission", "GET", "/admin/x", kc.SignToken(long("authorization", map[string]any{"permissions": []any{}})), []int{403}},
		{"other resource", "GET", "/admin/x", kc.SignToken(long("authorization", map[string]any{"permissions": []any{
			map[string]any{"rsid": kc.ResourceID("Orders"), "scopes": []string{"view"}}}})), []int{403}},
		{"forged", "GET", "/admin/x", kc.SignToken(long(), keycloaktest.WithForeignKey()), []int{401}},
		{"alg none", "GET", "/admin/x", kc.SignToken(long(), keycloaktest.WithAlgNone()), []int{401}},
		{"expired", "GET", "/admin/x", kc.SignToken(v.with("iat", v.now().Add(-time.Hour).Unix(), "exp", v.now().Add(-time.Minute).Unix())), []int{401}},
		{"anonymous", "GET", "/admin/x", "", []int{401}},
		{"unmapped", "GET", "/nowhere", adminRPT(), []int{403}},
		{"traversal", "GET", "/public/../admin/x", "", []int{400}},
		{"public", "GET", "/public/x", "", []int{200}},
	}
	// fresh holds a token signed with the newest key (set after each
	// rotation): the enforcer must fetch the new key and accept it.
	var fresh atomic.Pointer[string]
	first := adminRPT()
	fresh.Store(&first)

	var (
		wrongMu sync.Mutex
		wrong   []string
		done    = make(chan struct{})
		total   atomic.Int64
	)
	record := func(r req, status int, reached bool) {
		total.Add(1)
		ok := slices.Contains(r.want, status) && reached == (status == 200)
		if !ok {
			wrongMu.Lock()
			if len(wrong) < 10 {
				wrong = append(wrong, fmt.Sprintf("%s %s %s: status %d reached %v, want %v", r.name, r.method, r.path, status, reached, r.want))
			}
			wrongMu.Unlock()
		}
	}
	send := func(r req) {
		hr := httptest.NewRequest(r.method, r.path, nil)
		if r.token != "" {
			hr.Header.Set("Authorization", "Bearer "+r.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, hr)
		record(r, rec.Code, rec.Header().Get(reachedHeader) == "1")
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				r := static[(i+w)%len(static)]
				if i%5 == 0 {
					r = req{"fresh key", "GET", "/admin/x", *fresh.Load(), []int{200}}
				}
				send(r)
			}
		})
	}
	// The reloader: switch policies, try a broken directory, rotate keys.
	var reloads, failedReloads atomic.Int64
	wg.Go(func() {
		defer close(done)
		dirs := []string{closed, open}
		for i := range rounds {
			cfg := v.cfg
			cfg.RPTGuard.Policies = []string{dirs[i%2]}
			if err := v.e.Reload(cfg); err == nil {
				reloads.Add(1)
			}
			cfg.RPTGuard.Policies = []string{broken}
			if err := v.e.Reload(cfg); err != nil {
				failedReloads.Add(1)
			}
			if i%2 == 1 {
				// A new key, past the refresh cooldown; the next fresh
				// token needs one JWKS refresh.
				v.clock.Advance(11 * time.Second)
				kc.RotateKey()
				tok := adminRPT()
				fresh.Store(&tok)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	<-done
	t.Logf("concurrency: %d requests, %d reloads, %d refused reloads, %d rotations", total.Load(), reloads.Load(), failedReloads.Load(), rounds/2)
	require.Empty(t, wrong, "wrong answers")
	assert.Equal(t, int64(rounds), reloads.Load())
	assert.Equal(t, int64(rounds), failedReloads.Load(), "a broken policy directory is always refused")
	// After the dust settles the last configuration decides.
	check(t, v.do(t, http.MethodGet, "/api/7", static[1].token), 200, chNone, static[1].token)
}
