package policies_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// benchClaims is a Keycloak-like RPT with n permissions, as a verifier
// returns it (Raw holds every claim).
func benchClaims(n int) *rpt.Claims {
	perms := make([]rpt.Permission, n)
	rawPerms := make([]any, n)
	for i := range perms {
		perms[i] = rpt.Permission{
			ResourceID:   fmt.Sprintf("0c8e6a5e-%04d-4b1e-9c55-2f0a1e7c%04d", i, i),
			ResourceName: fmt.Sprintf("Resource %d", i),
			Scopes:       []string{"read", "write"},
		}
		rawPerms[i] = map[string]any{"rsid": perms[i].ResourceID, "rsname": perms[i].ResourceName, "scopes": []any{"read", "write"}}
	}
	now := time.Unix(1767268800, 0)
	return &rpt.Claims{
		Issuer: "https://kc.example/realms/demo", Subject: "6f1c1f5e-2b7d-4c1a-9f0e-0d9b5f3a7e21",
		Audience: []string{"orders-api"}, ExpiresAt: now.Add(5 * time.Minute), IssuedAt: now,
		ID: "b6e7b0b2-8d55-4a0c-8b1e-2b9f0a6c1d33", Type: "Bearer", AuthorizedParty: "web",
		PreferredUsername: "alice", RealmRoles: []string{"default-roles-demo", "offline_access", "user"},
		ResourceRoles: map[string][]string{"account": {"manage-account", "view-profile"}},
		Authorization: &rpt.Authorization{Permissions: perms},
		Raw: map[string]any{
			"exp": 1767269100, "iat": 1767268800, "jti": "b6e7b0b2-8d55-4a0c-8b1e-2b9f0a6c1d33",
			"iss": "https://kc.example/realms/demo", "aud": "orders-api",
			"sub": "6f1c1f5e-2b7d-4c1a-9f0e-0d9b5f3a7e21", "typ": "Bearer", "azp": "web",
			"sid": "4d1f0c2e-6b3a-4f7d-8e9c-1a2b3c4d5e6f", "acr": "1", "scope": "openid email profile",
			"email_verified": true, "name": "Alice Doe", "preferred_username": "alice",
			"given_name": "Alice", "family_name": "Doe", "email": "alice@example.com",
			"realm_access":    map[string]any{"roles": []any{"default-roles-demo", "offline_access", "user"}},
			"resource_access": map[string]any{"account": map[string]any{"roles": []any{"manage-account", "view-profile"}}},
			"authorization":   map[string]any{"permissions": rawPerms},
		},
	}
}

func benchInput(c *rpt.Claims, tv *policies.TokenValue) policies.Input {
	target := c.Authorization.Permissions[len(c.Authorization.Permissions)/2]
	return policies.Input{
		Request: policies.Request{
			Method: "GET", Path: "/orders/7", RawPath: "/orders/7",
			PathParams: map[string]string{"id": "7"}, RemoteAddr: "10.0.0.7",
		},
		Resource:       policies.Resource{ID: target.ResourceID, Name: target.ResourceName, Template: "/orders/{id}", URIs: []string{"/orders/{id}"}},
		RequiredScopes: []string{"read"},
		Token:          tv,
	}
}

// baselineMap is the input a careful user builds by hand per request from
// the verified claims: plain maps, the same shape as rptguard's.
func baselineMap(in policies.Input, c *rpt.Claims) map[string]any {
	perms := make([]any, 0, len(c.Authorization.Permissions))
	byRes := map[string]any{}
	scoped := []any{}
	for i, p := range c.Authorization.Permissions {
		scopes := make([]any, len(p.Scopes))
		for j, s := range p.Scopes {
			scopes[j] = s
		}
		pm := map[string]any{"index": i, "rsid": p.ResourceID, "rsname": p.ResourceName, "scopes": scopes}
		perms = append(perms, pm)
		if p.ResourceID == "" {
			scoped = append(scoped, pm)
			continue
		}
		l, _ := byRes[p.ResourceID].([]any)
		byRes[p.ResourceID] = append(l, pm)
	}
	return map[string]any{
		"request": map[string]any{
			"method": in.Request.Method, "path": in.Request.Path, "raw_path": in.Request.RawPath,
			"path_params": map[string]any{"id": "7"}, "query": map[string]any{}, "headers": map[string]any{},
			"remote_addr": in.Request.RemoteAddr,
		},
		"resource": map[string]any{
			"id": in.Resource.ID, "name": in.Resource.Name, "type": "", "uris": []any{"/orders/{id}"},
			"owner": "", "template": in.Resource.Template, "parent_id": "",
		},
		"required_scopes":         []any{"read"},
		"scopes_mode":             "ALL",
		"enforcement_mode":        "ENFORCING",
		"token":                   c.Raw,
		"has_authorization":       true,
		"permissions":             perms,
		"permissions_by_resource": byRes,
		"scope_permissions":       scoped,
		"claims":                  map[string]any{},
		"rule":                    "",
	}
}

// barePrepared prepares data.rptguard.authz.allow over the same library with
// plain OPA.
func barePrepared(tb testing.TB) rego.PreparedEvalQuery {
	tb.Helper()
	opts := []func(*rego.Rego){rego.Query("data.rptguard.authz.allow")}
	for _, f := range []string{"rego/authz.rego", "rego/keycloak.rego"} {
		b, err := os.ReadFile(f)
		require.NoError(tb, err)
		opts = append(opts, rego.Module(f, string(b)))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	require.NoError(tb, err)
	return pq
}

// BenchmarkEvaluate: a warm allow decision with 5 and 50 permissions.
//
//	rptguard  Engine.Evaluate with a cached TokenValue (builds the request part)
//	baseline  the same query, bare PreparedEvalQuery.Eval with rego.EvalInput(map)
//	prebuilt  the same query, bare PreparedEvalQuery.Eval on a prebuilt ast.Value
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b)
	pq := barePrepared(b)
	for _, n := range []int{5, 50} {
		c := benchClaims(n)
		tv, err := policies.NewTokenValue(c)
		require.NoError(b, err)
		in := benchInput(c, tv)
		b.Run(fmt.Sprintf("p%d/rptguard", n), func(b *testing.B) {
			d, err := e.Evaluate(ctx, in)
			require.NoError(b, err)
			require.True(b, d.Allow)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d, err := e.Evaluate(ctx, in)
				if err != nil || !d.Allow {
					b.Fatal("denied")
				}
			}
		})
		b.Run(fmt.Sprintf("p%d/baseline", n), func(b *testing.B) {
			rs, err := pq.Eval(ctx, rego.EvalInput(baselineMap(in, c)))
			require.NoError(b, err)
			require.True(b, rs.Allowed())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rs, err := pq.Eval(ctx, rego.EvalInput(baselineMap(in, c)))
				if err != nil || !rs.Allowed() {
					b.Fatal("denied")
				}
			}
		})
		b.Run(fmt.Sprintf("p%d/prebuilt", n), func(b *testing.B) {
			v, err := ast.InterfaceToValue(baselineMap(in, c))
			require.NoError(b, err)
			rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
			require.NoError(b, err)
			require.True(b, rs.Allowed())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
				if err != nil || !rs.Allowed() {
					b.Fatal("denied")
				}
			}
		})
	}
}

// BenchmarkNewTokenValue: the once-per-token cost of the token part.
func BenchmarkNewTokenValue(b *testing.B) {
	for _, n := range []int{5, 50} {
		c := benchClaims(n)
		b.Run(fmt.Sprintf("p%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := policies.NewTokenValue(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvaluateDeny: a deny computes the reasons with a second query.
func BenchmarkEvaluateDeny(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b)
	c := benchClaims(5)
	tv, err := policies.NewTokenValue(c)
	require.NoError(b, err)
	in := benchInput(c, tv)
	in.RequiredScopes = []string{"delete"}
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, in)
		if err != nil || d.Allow {
			b.Fatal("allowed")
		}
	}
}

// benchUserModules are a realistic user policy: deny rules reading
// input.request and input.token, and a named per-path rule comparing a path
// parameter with the token's preferred_username.
var benchUserModules = [][2]string{
	{"user.rego", `package rptguard.user

deny contains "writes need the admin role" if {
	input.request.method in {"POST", "PUT", "PATCH", "DELETE"}
	not "admin" in input.token.realm_access.roles
}

deny contains "suspended account" if "suspended" in input.token.realm_access.roles

deny contains "blocked network" if startswith(input.request.remote_addr, "192.0.2.")
`},
	{"rules.rego", `package rptguard.rules

owner_only if input.request.path_params.user == input.token.preferred_username
`},
}

// BenchmarkEvaluateUserPolicy: a warm allow with user policies loaded and
// the named rule rules.owner_only.
//
//	rptguard  Engine.EvaluateAllow with a cached TokenValue
//	prebuilt  the query the engine evaluates for that rule (its user part),
//	          with plain OPA over the same modules,
//	          on a prebuilt ast.Value input
func BenchmarkEvaluateUserPolicy(b *testing.B) {
	ctx := context.Background()
	var srcs []policies.Source
	opts := []func(*rego.Rego){rego.Query(`not data.rptguard.authz.user_denied; data.rptguard.rules["owner_only"] == true`)}
	for _, m := range benchUserModules {
		srcs = append(srcs, policies.FromModule(m[0], m[1]))
		opts = append(opts, rego.Module(m[0], m[1]))
	}
	for _, f := range []string{"rego/authz.rego", "rego/keycloak.rego"} {
		src, err := os.ReadFile(f)
		require.NoError(b, err)
		opts = append(opts, rego.Module(f, string(src)))
	}
	e := newEngine(b, policies.WithSources(srcs...))
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	require.NoError(b, err)
	for _, n := range []int{5, 50} {
		c := benchClaims(n)
		tv, err := policies.NewTokenValue(c)
		require.NoError(b, err)
		in := benchInput(c, tv)
		in.Request.Path, in.Request.RawPath = "/users/alice/orders/7", "/users/alice/orders/7"
		in.Request.PathParams = map[string]string{"user": "alice", "id": "7"}
		in.Rule = "rules.owner_only"
		b.Run(fmt.Sprintf("p%d/rptguard", n), func(b *testing.B) {
			d, err := e.EvaluateAllow(ctx, in)
			require.NoError(b, err)
			require.True(b, d.Allow)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d, err := e.EvaluateAllow(ctx, in)
				if err != nil || !d.Allow {
					b.Fatal("denied")
				}
			}
		})
		b.Run(fmt.Sprintf("p%d/prebuilt", n), func(b *testing.B) {
			m := baselineMap(in, c)
			m["request"].(map[string]any)["path_params"] = map[string]any{"user": "alice", "id": "7"}
			m["rule"], m["permissions_source"] = "rules.owner_only", "token"
			v, err := ast.InterfaceToValue(m)
			require.NoError(b, err)
			rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
			require.NoError(b, err)
			require.NotEmpty(b, rs)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
				if err != nil || len(rs) == 0 {
					b.Fatal("undefined")
				}
			}
		})
	}
}
