package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/policies"
)

// userDenyRules are the deny rules of the user-policy benchmarks (package
// rptguard.user for rptguard): they read input.request and input.token, and
// none of them fires for the benchmark's request.
const userDenyRules = `
deny contains "writes need the admin role" if {
	input.request.method in {"POST", "PUT", "PATCH", "DELETE"}
	not "admin" in input.token.realm_access.roles
}

deny contains "suspended account" if "suspended" in input.token.realm_access.roles

deny contains "blocked network" if startswith(input.request.remote_addr, "192.0.2.")
`

// userOwnerRule is the named per-path rule (package rptguard.rules for
// rptguard): only the user the path names may access it.
const userOwnerRule = `
owner_only if input.request.path_params.user == input.token.preferred_username
`

// userTarget is the request of the user-policy benchmarks: alice's own
// order, so owner_only holds.
const userTarget = "/api/users/alice/orders/7"

// userQuery is the query the engine evaluates for the user part of a
// decision on a path naming rules.owner_only, once the built-in Keycloak
// part granted (policies/compile.go, ruleQuery).
const userQuery = `not data.rptguard.authz.user_denied; data.rptguard.rules["owner_only"] == true`

// baselineUserRego is the hand-written decision with the same user rules:
// the Keycloak decision of baselineRego, no deny, and owner_only.
const baselineUserRego = `package baseline.user

default allow := false

allow if {
	data.baseline.allow
	count(deny) == 0
	owner_only
}
` + userDenyRules + userOwnerRule

func userModules() []policies.Source {
	return []policies.Source{
		policies.FromModule("user.rego", "package rptguard.user\n"+userDenyRules),
		policies.FromModule("rules.rego", "package rptguard.rules\n"+userOwnerRule),
	}
}

// userConfig is fixture.config for GET /api/users/{user}/orders/{id}, bound
// to the target resource, requiring "view" and naming rules.owner_only.
func (f *fixture) userConfig(tb testing.TB, settings string) enforcer.Config {
	tb.Helper()
	cfg, err := enforcer.ParseConfig(fmt.Appendf(nil, `{"paths":[{"path":"/api/users/{user}/orders/{id}","name":"R%d","id":%q,
		"methods":[{"method":"GET","scopes":["view"]}],"rptguard":{"decision-rule":"rules.owner_only"}}],"rptguard":{%s}}`,
		len(f.perms)-1, f.targetID, settings))
	require.NoError(tb, err)
	cfg.Realm = f.kc.Realm()
	cfg.AuthServerURL = f.kc.URL()
	cfg.Resource = f.kc.ClientID()
	cfg.Credentials.Secret = enforcer.Secret(f.kc.ClientSecret())
	return cfg
}

// userBaseline is the hand-written middleware with the user rules: the
// path parameters come from http.ServeMux, then golang-jwt Parse and
// rego.EvalInput(map) of baselineUserRego on every request.
type userBaseline struct {
	*baseline
	pq rego.PreparedEvalQuery
}

func newUserBaseline(tb testing.TB, f *fixture) http.Handler {
	tb.Helper()
	pq, err := rego.New(rego.Query("data.baseline.user.allow"),
		rego.Module("baseline.rego", baselineRego), rego.Module("user.rego", baselineUserRego)).PrepareForEval(context.Background())
	require.NoError(tb, err)
	ub := &userBaseline{baseline: newBaseline(tb, f), pq: pq}
	mux := http.NewServeMux()
	mux.Handle("GET /api/users/{user}/orders/{id}", ub)
	return mux
}

func (ub *userBaseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	claims, valid := ub.verify(raw)
	if !valid {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rs, err := ub.pq.Eval(r.Context(), rego.EvalInput(map[string]any{
		"token": claims, "resource_id": ub.id, "required_scopes": []any{"view"},
		"request": map[string]any{
			"method": r.Method, "path": r.URL.Path, "remote_addr": r.RemoteAddr,
			"path_params": map[string]any{"user": r.PathValue("user"), "id": r.PathValue("id")},
		},
	}))
	if err != nil || !rs.Allowed() {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	ub.next.ServeHTTP(w, r)
}

// prebuiltUser prepares userQuery over the built-in library and the user
// modules with plain OPA, and the input document rptguard builds for the
// benchmark's request, converted to an ast.Value once.
func prebuiltUser(tb testing.TB, f *fixture, raw string) (rego.PreparedEvalQuery, ast.Value) {
	tb.Helper()
	opts := []func(*rego.Rego){rego.Query(userQuery),
		rego.Module("user.rego", "package rptguard.user\n"+userDenyRules),
		rego.Module("rules.rego", "package rptguard.rules\n"+userOwnerRule)}
	for _, name := range []string{"authz.rego", "keycloak.rego"} {
		b, err := os.ReadFile("../policies/rego/" + name)
		require.NoError(tb, err)
		opts = append(opts, rego.Module(name, string(b)))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	require.NoError(tb, err)

	claims, ok := newBaseline(tb, f).verify(raw)
	require.True(tb, ok)
	perms := make([]any, len(f.perms))
	byRes := map[string]any{}
	for i, p := range f.perms {
		pm := map[string]any{"index": i, "rsid": p.ResourceID, "rsname": p.ResourceName, "scopes": []any{"view", "edit"}}
		perms[i] = pm
		l, _ := byRes[p.ResourceID].([]any)
		byRes[p.ResourceID] = append(l, pm)
	}
	in := map[string]any{
		"request": map[string]any{
			"method": "GET", "path": userTarget, "raw_path": userTarget,
			"path_params": map[string]any{"user": "alice", "id": "7"}, "query": map[string]any{}, "headers": map[string]any{},
			"remote_addr": "10.0.0.7",
		},
		"resource": map[string]any{
			"id": f.targetID, "name": fmt.Sprintf("R%d", len(f.perms)-1), "type": "", "uris": []any{},
			"owner": "", "template": "/api/users/{user}/orders/{id}", "parent_id": "",
		},
		"required_scopes":         []any{"view"},
		"scopes_mode":             "ALL",
		"enforcement_mode":        "ENFORCING",
		"token":                   map[string]any(claims),
		"has_authorization":       true,
		"permissions":             perms,
		"permissions_by_resource": byRes,
		"scope_permissions":       []any{},
		"claims":                  map[string]any{},
		"rule":                    "rules.owner_only",
		"permissions_source":      "token",
	}
	v, err := ast.InterfaceToValue(in)
	require.NoError(tb, err)
	rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(v))
	require.NoError(tb, err)
	require.NotEmpty(tb, rs, "the user rules must hold for the benchmark's input")
	return pq, v
}

// BenchmarkDecisionUserPolicy is BenchmarkDecision with user policies
// loaded: deny rules in rptguard.user reading input.request and
// input.token, and the path naming rules.owner_only, which compares a path
// parameter with the token's preferred_username. The baseline evaluates the
// same Keycloak decision and user rules (golang-jwt Parse, then
// rego.EvalInput(map)); prebuilt is the floor for the Rego part: the
// engine's user query prepared with plain OPA over the same modules and
// evaluated on a prebuilt ast.Value input, with no HTTP, token or Go-side
// decision work at all (warm target: rptguard within 1.3× of it).
func BenchmarkDecisionUserPolicy(b *testing.B) {
	for _, temp := range []string{"warm", "cold"} {
		for _, n := range []int{5, 50} {
			b.Run(fmt.Sprintf("%s/p%d", temp, n), func(b *testing.B) {
				f := newFixture(b, n)
				settings := `"permissions-source":"token"`
				if temp == "cold" {
					settings += `,"token-cache":{"max-entries":1}`
				}
				e, err := enforcer.New(context.Background(), f.userConfig(b, settings),
					enforcer.WithHTTPClient(f.kc.HTTPClient()), enforcer.WithClock(clock), enforcer.WithPolicies(userModules()...))
				require.NoError(b, err)
				b.Cleanup(e.Close)
				tokens := f.rpts(tokenPool)
				auth := bearer(tokens...)
				for _, side := range []struct {
					name string
					h    http.Handler
				}{{"rptguard", e.Middleware(ok)}, {"baseline", newUserBaseline(b, f)}} {
					b.Run(side.name, func(b *testing.B) {
						c := newCaller(side.h, userTarget)
						for _, a := range auth {
							if !c.do(a, http.StatusOK) {
								b.Fatalf("warm-up: status %d", c.rec.Code)
							}
						}
						// The rules must be consulted: another user's path is denied.
						other := newCaller(side.h, "/api/users/bob/orders/7")
						if !other.do(auth[0], http.StatusForbidden) {
							b.Fatalf("owner_only not enforced: status %d", other.rec.Code)
						}
						b.ReportAllocs()
						b.ResetTimer()
						for i := 0; b.Loop(); i++ {
							if !c.do(auth[i%len(auth)], http.StatusOK) {
								b.Fatalf("status %d", c.rec.Code)
							}
						}
					})
				}
				if temp != "warm" {
					return
				}
				b.Run("prebuilt", func(b *testing.B) {
					pq, v := prebuiltUser(b, f, tokens[0])
					ctx := context.Background()
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						rs, err := pq.Eval(ctx, rego.EvalParsedInput(v))
						if err != nil || len(rs) == 0 {
							b.Fatal("undefined")
						}
					}
				})
			})
		}
	}
}
