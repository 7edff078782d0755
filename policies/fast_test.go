package policies_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/fstest"
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
		policies.FromModule("ns.rego", "package rptguard.rules.ns\n\ninner if input.request.method == \"GET\"\n"),
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
			Rule:            pick("", "", "", "rules.weekday", "rules.missing", "rules.ns.inner", "rules.ns.missing", "rules.if"),
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

// offlineModule is a stand-in for the modules policies/keycloak generates:
// data.rptguard.offline.permission per resource, in every shape the Go side
// must handle or hand back to Rego (undefined, false, no scopes, empty
// scopes, a set with a non-string, a non-object, scopes not a collection).
const offlineModule = `package rptguard.offline

permission := {"rsid": "r-res", "scopes": ["read", "write"]} if input.resource.id == "r-res"

permission := {"rsid": "r-empty", "scopes": []} if input.resource.id == "r-empty"

permission := {"rsid": "r-set", "scopes": {"read", 7}} if input.resource.id == "r-set"

permission := {"rsid": "r-noscopes"} if input.resource.id == "r-noscopes"

permission := false if input.resource.id == "r-false"

permission := "weird" if input.resource.id == "r-str"

permission := {"scopes": "read"} if input.resource.id == "r-strscopes"

permission := {"rsid": "r-time", "scopes": ["delete"]} if {
	input.resource.id == "r-time"
	time.now_ns() < 1767268800000000000
}
`

// TestOfflineFastPathAgreesWithRego is TestFastPathAgreesWithRego for
// input.permissions_source "offline": Evaluate and EvaluateAllow (one
// query for data.rptguard.offline.permission and the scope check in Go,
// when no user rule is loaded) decide exactly as the decision object.
func TestOfflineFastPathAgreesWithRego(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := policies.WithClock(func() time.Time { return now })
	offline := policies.FromModule("offline.rego", offlineModule)
	engines := map[string]*policies.Engine{
		"builtin": newEngine(t, clock),
		"offline": newEngine(t, clock, policies.WithSources(offline)),
		"offline+user": newEngine(t, clock, policies.WithSources(offline,
			policies.FromModule("deny.rego", "package rptguard.user\n\ndeny contains \"blocked\" if input.request.method == \"DELETE\"\n"),
			policies.FromModule("rules.rego", "package rptguard.rules\n\nweekday if input.request.path != \"/closed\"\n"))),
		"offline+data": newEngine(t, clock, policies.WithSources(offline,
			policies.FromFS(fstest.MapFS{"data.json": {Data: []byte(`{"rptguard":{"rules":{"open":true}}}`)}}, "."))),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	allowed := map[string]int{}
	const cases = 400
	for i := range cases {
		var required []string
		for _, s := range []string{"read", "write", "delete"} {
			if rng.IntN(3) == 0 {
				required = append(required, s)
			}
		}
		in := policies.Input{
			Request:           policies.Request{Method: pick("GET", "GET", "DELETE"), Path: pick("/orders/7", "/closed")},
			Resource:          policies.Resource{ID: pick("r-res", "r-res", "r-empty", "r-set", "r-noscopes", "r-false", "r-str", "r-strscopes", "r-time", "r-none")},
			RequiredScopes:    required,
			ScopesMode:        policies.ScopesEnforcementMode(pick("", "ALL", "ANY", "DISABLED")),
			EnforcementMode:   policies.EnforcementMode(pick("", "ENFORCING", "PERMISSIVE")),
			Rule:              pick("", "", "", "rules.weekday", "rules.open"),
			PermissionsSource: policies.PermissionsOffline,
		}
		if rng.IntN(3) > 0 {
			in.Token = tokenWith(t, perm("r-res", "Res", "read"))
		}
		for name, e := range engines {
			ctx := context.Background()
			x, err := e.EvaluateExplain(ctx, in)
			require.NoError(t, err)
			d, err := e.Evaluate(ctx, in)
			require.NoError(t, err)
			a, err := e.EvaluateAllow(ctx, in)
			require.NoError(t, err)
			msg := fmt.Sprintf("case %d, %s engine: %+v", i, name, in)
			if x.Allow {
				allowed[name]++
			}
			require.Equal(t, x.Allow, d.Allow, msg)
			require.Equal(t, x.Allow, a.Allow, msg)
			require.Equal(t, x.Reasons, d.Reasons, msg)
			require.Nil(t, d.MatchedPermission, msg)
			require.Nil(t, a.MatchedPermission, msg)
			if !a.Allow {
				require.Empty(t, a.Reasons, msg)
			}
		}
	}
	for name, n := range allowed {
		require.True(t, n > cases/20 && n < cases*9/10, "%s: %d of %d allowed", name, n, cases)
	}
}
