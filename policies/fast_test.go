package policies_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// TestFastPathAgreesWithRego draws random inputs (permissions on the
// resource, its parent, other resources and scope-only, with and without
// claims and expiry; every scopes and enforcement mode; request claims;
// named rules) and checks that Evaluate and EvaluateAllow, whose Keycloak
// part is computed in Go, decide exactly as the Rego decision object
// (EvaluateExplain), with and without user policies loaded.
func TestFastPathAgreesWithRego(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := policies.WithClock(func() time.Time { return now })
	user := policies.WithSources(
		policies.FromModule("deny.rego", "package rptguard.user\n\ndeny contains \"blocked\" if input.request.method == \"DELETE\"\n"),
		policies.FromModule("rules.rego", "package rptguard.rules\n\nweekday if input.request.path != \"/closed\"\n"),
	)
	engines := map[string]*policies.Engine{
		"builtin": newEngine(t, clock),
		"user":    newEngine(t, clock, user),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	scopeSet := func() []string {
		var out []string
		for _, s := range []string{"read", "write", "delete"} {
			if rng.IntN(3) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	required := func() []string {
		s := scopeSet()
		return s[:min(len(s), rng.IntN(3))]
	}
	claimSet := func() map[string][]string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return map[string][]string{}
		default:
			m := map[string][]string{}
			for _, k := range []string{"amount", "cur"} {
				if rng.IntN(2) == 0 {
					var vs []string
					for _, v := range []string{"50", "EUR", "100"} {
						if rng.IntN(2) == 0 {
							vs = append(vs, v)
						}
					}
					m[k] = vs
				}
			}
			return m
		}
	}
	allowed := map[string]int{}
	const cases = 400
	for i := range cases {
		var perms []rpt.Permission
		for range 1 + rng.IntN(4) {
			p := rpt.Permission{ResourceID: pick("r-res", "r-parent", "r-other", ""), Scopes: scopeSet()}
			if p.ResourceID == "" && len(p.Scopes) == 0 {
				p.Scopes = []string{"read"}
			}
			p.ResourceName = p.ResourceID
			p.Claims = claimSet()
			switch rng.IntN(4) {
			case 0:
				p.ExpiresAt = now.Add(-time.Minute)
			case 1:
				p.ExpiresAt = now.Add(time.Minute)
			}
			perms = append(perms, p)
		}
		in := policies.Input{
			Request:         policies.Request{Method: pick("GET", "GET", "GET", "DELETE"), Path: pick("/orders/7", "/orders/7", "/closed")},
			Resource:        policies.Resource{ID: pick("r-res", "r-res", ""), Name: "Res", ParentID: pick("", "r-parent")},
			RequiredScopes:  required(),
			ScopesMode:      policies.ScopesEnforcementMode(pick("", "ALL", "ANY", "DISABLED")),
			EnforcementMode: policies.EnforcementMode(pick("", "ENFORCING", "PERMISSIVE", "DISABLED")),
			Claims:          claimSet(),
			Rule:            pick("", "", "", "rules.weekday", "rules.missing"),
		}
		switch rng.IntN(8) {
		case 0: // anonymous
		case 1:
			tv, err := policies.NewTokenValue(&rpt.Claims{Subject: "a"}) // no authorization claim
			require.NoError(t, err)
			in.Token = tv
		default:
			tv, err := policies.NewTokenValue(claimsWith(perms...))
			require.NoError(t, err)
			in.Token = tv
		}
		for name, e := range engines {
			ctx := context.Background()
			x, err := e.EvaluateExplain(ctx, in)
			require.NoError(t, err)
			d, err := e.Evaluate(ctx, in)
			require.NoError(t, err)
			a, err := e.EvaluateAllow(ctx, in)
			require.NoError(t, err)
			msg := fmt.Sprintf("case %d, %s engine: %+v perms=%+v", i, name, in, perms)
			if x.Allow {
				allowed[name]++
			}
			require.Equal(t, x.Allow, d.Allow, msg)
			require.Equal(t, x.Allow, a.Allow, msg)
			require.Equal(t, x.Reasons, d.Reasons, msg)
			if d.Allow {
				require.Equal(t, x.MatchedPermission, d.MatchedPermission, msg)
				require.Equal(t, x.MatchedPermission, a.MatchedPermission, msg)
			} else {
				require.Nil(t, a.MatchedPermission, msg)
				require.Empty(t, a.Reasons, msg)
			}
		}
	}
	// Both outcomes must be well represented for the comparison to mean much.
	for name, n := range allowed {
		require.True(t, n > cases/10 && n < cases*9/10, "%s: %d of %d allowed", name, n, cases)
	}
}
