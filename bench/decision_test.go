package bench

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// decisionSetup is one (warm|cold, p5|p50) case: the enforcer's middleware
// and the baseline in front of the same handler, and the tokens to send.
type decisionSetup struct {
	rptguard http.Handler
	baseline http.Handler
	auth     [][]string
}

func newDecisionSetup(b *testing.B, temp string, n int) *decisionSetup {
	b.Helper()
	f := newFixture(b, n)
	settings := `"permissions-source":"token"`
	if temp == "cold" {
		// One-entry caches and a pool of distinct tokens: every request
		// is a new token for the enforcer (hash, verify, convert, insert).
		settings += `,"token-cache":{"max-entries":1}`
	}
	e := f.enforcer(b, f.config(b, settings))
	return &decisionSetup{rptguard: e.Middleware(ok), baseline: newBaseline(b, f), auth: bearer(f.rpts(tokenPool)...)}
}

const target = "/api/orders/7"

// BenchmarkDecision is an allowed GET through the full middleware
// (bearer extraction, canonicalization, matching, verification, policy
// evaluation, the authorization context, the handler), warm and cold, for
// RPTs with 5 and 50 permissions, against the hand-written baseline.
func BenchmarkDecision(b *testing.B) {
	for _, temp := range []string{"warm", "cold"} {
		for _, n := range []int{5, 50} {
			b.Run(fmt.Sprintf("%s/p%d", temp, n), func(b *testing.B) {
				s := newDecisionSetup(b, temp, n)
				for _, side := range []struct {
					name string
					h    http.Handler
				}{{"rptguard", s.rptguard}, {"baseline", s.baseline}} {
					b.Run(side.name, func(b *testing.B) {
						c := newCaller(side.h, target)
						for _, a := range s.auth { // warm-up: fills the caches of the warm case
							if !c.do(a, http.StatusOK) {
								b.Fatalf("warm-up: status %d", c.rec.Code)
							}
						}
						b.ReportAllocs()
						b.ResetTimer()
						for i := 0; b.Loop(); i++ {
							if !c.do(s.auth[i%len(s.auth)], http.StatusOK) {
								b.Fatalf("status %d", c.rec.Code)
							}
						}
					})
				}
			})
		}
	}
}

// BenchmarkDecisionParallel is BenchmarkDecision under b.RunParallel
// (GOMAXPROCS goroutines): the warm ratio must hold, so nothing on the hot
// path may serialise requests.
func BenchmarkDecisionParallel(b *testing.B) {
	for _, temp := range []string{"warm", "cold"} {
		for _, n := range []int{5, 50} {
			b.Run(fmt.Sprintf("%s/p%d", temp, n), func(b *testing.B) {
				s := newDecisionSetup(b, temp, n)
				for _, side := range []struct {
					name string
					h    http.Handler
				}{{"rptguard", s.rptguard}, {"baseline", s.baseline}} {
					b.Run(side.name, func(b *testing.B) {
						c := newCaller(side.h, target)
						for _, a := range s.auth {
							if !c.do(a, http.StatusOK) {
								b.Fatalf("warm-up: status %d", c.rec.Code)
							}
						}
						var next atomic.Uint64
						var failed atomic.Int64
						b.ReportAllocs()
						b.ResetTimer()
						b.RunParallel(func(pb *testing.PB) {
							c := newCaller(side.h, target)
							// Each goroutine starts elsewhere in the pool.
							i := int(next.Add(7))
							for pb.Next() {
								if !c.do(s.auth[i%len(s.auth)], http.StatusOK) {
									failed.Store(int64(c.rec.Code))
								}
								i++
							}
						})
						if code := failed.Load(); code != 0 {
							b.Fatalf("status %d", code)
						}
					})
				}
			})
		}
	}
}
