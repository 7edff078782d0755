package policies

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStaticCacheTerms checks that the cached resource, required-scopes and
// rule terms always equal freshly built ones, across far more combinations
// than the cache has slots (so entries are evicted and slots collide), and
// that an entry keeps private copies of the caller's slices.
func TestStaticCacheTerms(t *testing.T) {
	t.Parallel()
	sc := newStaticCache()
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	list := func() []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, pick("a", "b", "ab", ""))
		}
		return out
	}
	for i := range 5000 {
		in := Input{
			Resource: Resource{
				ID: pick("", "r1", "r2", "r1r2"), Name: pick("", "n", "r1"), Type: pick("", "t"),
				URIs: list(), Owner: pick("", "o"), Template: pick("", "/x/{id}", "/y"), ParentID: pick("", "r1", "p"),
			},
			RequiredScopes: list(),
			Rule:           pick("", "rules.a", "rules.a.b"),
		}
		res, req, rule := sc.terms(&in)
		wres, wreq, wrule := (*staticCache)(nil).terms(&in)
		msg := fmt.Sprintf("case %d: %+v", i, in)
		require.True(t, res.Equal(wres), msg)
		require.True(t, req.Equal(wreq), msg)
		require.True(t, rule.Equal(wrule), msg)
		// Changing the caller's slices afterwards changes neither the
		// cached terms nor what the next lookup returns.
		if len(in.Resource.URIs) > 0 {
			in.Resource.URIs[0] += "!"
			require.True(t, res.Equal(wres), msg)
			res2, _, _ := sc.terms(&in)
			wres2, _, _ := (*staticCache)(nil).terms(&in)
			require.True(t, res2.Equal(wres2), msg)
		}
	}
}

// TestStaticCacheConcurrent: concurrent lookups of changing combinations
// (-race) always get the terms of their own input.
func TestStaticCacheConcurrent(t *testing.T) {
	t.Parallel()
	sc := newStaticCache()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				in := Input{Resource: Resource{ID: fmt.Sprintf("r%d", (i*7+g)%600)}, RequiredScopes: []string{"s"}}
				res, _, _ := sc.terms(&in)
				want, _, _ := (*staticCache)(nil).terms(&in)
				if !res.Equal(want) {
					t.Errorf("goroutine %d, %s: wrong resource term", g, in.Resource.ID)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestValidRuleName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"rules.a": true, "rules.a_1.B2": true, "rules._": true, "rules.if": true,
		"": false, "rules.": false, "rules.a.": false, "rules..a": false, "rules.a.b.c": false,
		"rules.1a": false, "rule.a": false, "rules.a-b": false, "rules.a.b c": false, "xrules.a": false,
	} {
		require.Equal(t, want, validRuleName(name), name)
	}
}

// TestRuleQueriesPrepare: the per-rule user queries prepare (none falls
// back to the generic query for lack of compiling), are cached, and are
// bounded.
func TestRuleQueriesPrepare(t *testing.T) {
	t.Parallel()
	set, err := compile(t.Context(), []Source{FromModule("r.rego", "package rptguard.rules\n\nok if true\n")}, &options{})
	require.NoError(t, err)
	for _, name := range []string{"rules.ok", "rules.missing", "rules.if", "rules.ns.inner"} {
		_, err := set.prepare(t.Context(), ruleQuery(name))
		require.NoError(t, err, name)
		set.userQueryFor(name)
		_, ok := set.ruleQueries.Load(name)
		require.True(t, ok, name)
	}
	for i := range 2 * maxRuleQueries {
		set.userQueryFor(fmt.Sprintf("rules.r%d", i))
	}
	require.EqualValues(t, maxRuleQueries, set.ruleCount.Load())
}
