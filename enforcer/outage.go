package enforcer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// On-outage "stale-ok" (rptguard.on-outage, globally and per path).
//
// What is accepted, exactly. When a dependency is unavailable (an error
// matching rpt.ErrUnavailable or uma.ErrUnavailable while the request's
// context is still alive), a path under stale-ok may reuse:
//
//   - Token verification, modes "introspection" and "hybrid" only: the
//     claims of the last successful verification of the SAME token (SHA-256
//     of its bytes) by the SAME verifier, when that success was observed no
//     longer than max-staleness ago, the token's exp is still in the future,
//     AND the token passes local verification now (signature with the
//     realm's cached keys, exp, nbf, iss, aud, typ). Local signature
//     verification is never skipped: if the keys are unknown (JWKS down and
//     the kid never seen) nothing is accepted. Mode "local" has no stale
//     answer to reuse: its keys are already cached by keyfunc up to their
//     own refresh policy, and an unknown kid stays 503.
//   - The UMA exchange: the RPT last obtained for the SAME token, resource,
//     scopes (as a set) and pushed claims, observed no longer than
//     max-staleness ago, while both the RPT's exp and the subject token's
//     exp are in the future. The policy is evaluated again on that RPT, so
//     permission-level exp still applies.
//
// "Observed" means returned successfully to a request, from the server or
// from the normal cache, so the answer reused is at most the normal cache
// TTL plus max-staleness old: it left the normal cache no longer than
// max-staleness ago. Answers are recorded only for paths under stale-ok. A
// verdict learnt later (token inactive or invalid, RPT denied) removes the
// stale answer at once, on any path. Nothing is reused for anonymous
// requests, ticket creation, resource lookups or claim information points,
// and never after the request's context ended. Decisions that used a stale
// answer carry [Decision.Stale]; the [Observer] sees Cache("stale_token")
// and Cache("stale_uma") with hit=true when one was used, false when an
// outage found none usable.

// outagePolicy is a path's resolved on-outage behaviour.
type outagePolicy struct {
	staleOK  bool
	maxStale time.Duration
}

// pathOutage resolves a path's rptguard settings against the global ones;
// nil means "inherit the global behaviour".
func pathOutage(g *Settings, ps PathSettings) *outagePolicy {
	if ps.OnOutage == "" && ps.MaxStaleness == 0 {
		return nil
	}
	mode := ps.OnOutage
	if mode == "" {
		mode = g.OnOutage
	}
	ms := time.Duration(ps.MaxStaleness)
	if ms == 0 {
		ms = time.Duration(g.MaxStaleness)
	}
	return &outagePolicy{staleOK: mode == OutageStaleOK && ms > 0, maxStale: ms}
}

// outageFor returns the behaviour for p (nil: an unmapped path, global).
func (s *state) outageFor(p *pathEntry) outagePolicy {
	if p != nil && p.outage != nil {
		return *p.outage
	}
	g := &s.cfg.RPTGuard
	return outagePolicy{staleOK: g.OnOutage == OutageStaleOK && g.MaxStaleness > 0, maxStale: time.Duration(g.MaxStaleness)}
}

// defaultStaleEntries bounds each stale store when the matching cache
// setting is zero.
const defaultStaleEntries = 1000

// staleRefresh is how often a repeated success for the same answer updates
// its "observed" time (fewer writes on the hot path; it only makes the
// window shorter).
const staleRefresh = time.Second

// staleStore keeps the last good answers for on-outage stale-ok. It is
// bounded (LRU) and owned by one Enforcer: tenants never share it. Keys are
// SHA-256 digests; no token is stored.
type staleStore struct {
	tokens *lru.Cache[[sha256.Size]byte, staleToken]
	rpts   *lru.Cache[[sha256.Size]byte, staleRPT]
}

type staleToken struct {
	ver    TokenVerifier
	claims *rpt.Claims
	seen   time.Time
}

type staleRPT struct {
	x    *uma.ExchangedRPT
	seen time.Time
}

func newStaleStore(s *Settings) *staleStore {
	size := func(n int) int {
		if n <= 0 {
			return defaultStaleEntries
		}
		return n
	}
	t, _ := lru.New[[sha256.Size]byte, staleToken](size(s.IntrospectionCache.MaxEntries))
	r, _ := lru.New[[sha256.Size]byte, staleRPT](size(s.UMACache.MaxEntries))
	return &staleStore{tokens: t, rpts: r}
}

// verifyToken is step 8: it verifies r.token with ver, reports the latency
// ("verify"), and applies stale-ok. On success r.claims is set.
func (e *Enforcer) verifyToken(ctx context.Context, s *state, p *pathEntry, ver TokenVerifier, r *in) (*rpt.Claims, error) {
	start := time.Now()
	claims, err := ver.Verify(freshContext(ctx, p), r.token)
	e.obs.Call("verify", time.Since(start), err)
	st := e.stale
	if st == nil {
		r.claims = claims
		return claims, err
	}
	if err != nil && !isUnavailable(err) {
		if st.tokens.Len() > 0 {
			st.tokens.Remove(sha256.Sum256([]byte(r.token)))
		}
		return nil, err
	}
	op := s.outageFor(p)
	if !op.staleOK {
		r.claims = claims
		return claims, err
	}
	local := e.localVerifier()
	if local == nil || local == ver {
		r.claims = claims
		return claims, err // local mode: no server answer to reuse
	}
	key := sha256.Sum256([]byte(r.token))
	now := e.now()
	if err == nil {
		if claims != nil {
			if old, ok := st.tokens.Peek(key); !ok || old.claims != claims || old.ver != ver || now.Sub(old.seen) >= staleRefresh {
				st.tokens.Add(key, staleToken{ver: ver, claims: claims, seen: now})
			}
		}
		r.claims = claims
		return claims, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	old, ok := st.tokens.Peek(key)
	if !ok || old.ver != ver || now.Sub(old.seen) > op.maxStale || old.claims.ExpiresAt.IsZero() || !now.Before(old.claims.ExpiresAt) {
		e.obs.Cache("stale_token", false)
		return nil, err
	}
	// The signature and claims are checked again, locally, now.
	if _, lerr := local.Verify(ctx, r.token); lerr != nil {
		if !isUnavailable(lerr) {
			st.tokens.Remove(key)
		}
		e.obs.Cache("stale_token", false)
		return nil, err
	}
	e.obs.Cache("stale_token", true)
	e.log.WarnContext(ctx, "enforcer: token verification unavailable; using a stale answer (on-outage stale-ok)",
		"token", fingerprint(r.token), "age", now.Sub(old.seen).String())
	r.claims, r.stale = old.claims, true
	return old.claims, nil
}

// localVerifier returns the local (JWKS) verifier, or nil before the
// enforcer is ready.
func (e *Enforcer) localVerifier() TokenVerifier {
	d := e.deps.Load()
	if d == nil {
		return nil
	}
	return d.verifiers[VerifyLocal]
}

// exchangeOrStale is step 14's exchange with stale-ok applied.
func (e *Enforcer) exchangeOrStale(ctx context.Context, s *state, p *pathEntry, me methodEntry, r *in, claims *rpt.Claims, pushed map[string][]string) (*uma.ExchangedRPT, error) {
	x, err := e.exchange(ctx, s, p, me, r.token, claims, pushed)
	st := e.stale
	if st == nil {
		return x, err
	}
	op := s.outageFor(p)
	verdict := err != nil && !isUnavailable(err)
	if !op.staleOK && (!verdict || st.rpts.Len() == 0) {
		return x, err
	}
	key := rptKey(r.token, p.id, me.scopes, pushed)
	now := e.now()
	switch {
	case err == nil:
		if old, ok := st.rpts.Peek(key); !ok || old.x != x || now.Sub(old.seen) >= staleRefresh {
			st.rpts.Add(key, staleRPT{x: x, seen: now})
		}
		return x, nil
	case verdict:
		st.rpts.Remove(key) // a verdict: never resurrect the old RPT
		return nil, err
	case ctx.Err() != nil:
		return nil, err
	}
	old, ok := st.rpts.Peek(key)
	if !ok || now.Sub(old.seen) > op.maxStale || old.x.Claims == nil ||
		old.x.Claims.ExpiresAt.IsZero() || !now.Before(old.x.Claims.ExpiresAt) ||
		claims.ExpiresAt.IsZero() || !now.Before(claims.ExpiresAt) {
		e.obs.Cache("stale_uma", false)
		return nil, err
	}
	e.obs.Cache("stale_uma", true)
	e.log.WarnContext(ctx, "enforcer: RPT exchange unavailable; using a stale RPT (on-outage stale-ok)",
		"token", fingerprint(r.token), "age", now.Sub(old.seen).String())
	r.stale = true
	return old.x, nil
}

// rptKey identifies an exchange: token, resource, the scope set and the
// pushed claims, length-prefixed so that no two inputs collide by
// concatenation.
func rptKey(token, resource string, scopes []string, pushed map[string][]string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	put := func(v string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	put(token)
	put(resource)
	sc := slices.Clone(scopes)
	slices.Sort(sc)
	sc = slices.Compact(sc)
	binary.BigEndian.PutUint64(n[:], uint64(len(sc)))
	h.Write(n[:])
	for _, v := range sc {
		put(v)
	}
	names := make([]string, 0, len(pushed))
	for k := range pushed {
		names = append(names, k)
	}
	slices.Sort(names)
	binary.BigEndian.PutUint64(n[:], uint64(len(names)))
	h.Write(n[:])
	for _, k := range names {
		put(k)
		binary.BigEndian.PutUint64(n[:], uint64(len(pushed[k])))
		h.Write(n[:])
		for _, v := range pushed[k] {
			put(v)
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
