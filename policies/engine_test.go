package policies_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

const ownerRule = `package rptguard.rules

# owner_only: only the resource's owner (by subject) may act on it.
owner_only if input.resource.owner == input.token.sub
`

const denyRules = `package rptguard.user

deny contains "writes are frozen" if {
	input.request.method in {"POST", "PUT", "DELETE"}
	input.request.headers["x-freeze"][_] == "on"
}
`

const tenantRules = `package rptguard.rules.tenant

import data.rptguard.keycloak

deny contains msg if {
	input.request.path_params.tenant != keycloak.claim("tenant")
	msg := "tenant mismatch"
}

matches if input.request.path_params.tenant == input.token.tenant
`

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		module  string
		wantMsg string
	}{
		{name: "schema typo input.toekn", module: "package rptguard.user\n\ndeny contains \"x\" if input.toekn.sub == \"bob\"\n", wantMsg: "undefined ref: input.toekn"},
		{name: "schema typo nested", module: "package rptguard.user\n\ndeny contains \"x\" if input.request.mehtod == \"GET\"\n", wantMsg: "input.request.mehtod"},
		{name: "schema type mismatch", module: "package rptguard.user\n\ndeny contains \"x\" if input.required_scopes.foo == 1\n", wantMsg: "undefined ref"},
		{name: "http.send blocked", module: "package rptguard.user\n\ndeny contains \"x\" if http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"}).status_code != 200\n", wantMsg: "undefined function http.send"},
		{name: "opa.runtime blocked", module: "package rptguard.user\n\ndeny contains \"x\" if opa.runtime().env.HOME\n", wantMsg: "undefined function opa.runtime"},
		{name: "net.lookup_ip_addr blocked", module: "package rptguard.user\n\ndeny contains \"x\" if count(net.lookup_ip_addr(\"example.com\")) > 0\n", wantMsg: "undefined function net.lookup_ip_addr"},
		{name: "strict: unused variable", module: "package rptguard.user\n\ndeny contains \"x\" if {\n\tsome x\n\tinput.request.method == \"GET\"\n}\n", wantMsg: "declared var x unused"},
		{name: "parse error", module: "package rptguard.user\n\ndeny contains if {", wantMsg: "rego_parse_error"},
		{name: "reserved package authz", module: "package rptguard.authz\n\nx := 1\n", wantMsg: "reserved"},
		{name: "reserved package keycloak sub", module: "package rptguard.keycloak.more\n\nx := 1\n", wantMsg: "reserved"},
		{name: "reserved package rptguard", module: "package rptguard\n\nx := 1\n", wantMsg: "reserved"},
		{name: "deny must be a set", module: "package rptguard.user\n\ndeny if input.request.method == \"GET\"\n", wantMsg: "partial set rule"},
		{name: "deny in a package not consulted", module: "package rptguard.rules\n\ndeny contains \"x\" if input.request.method == \"GET\"\n", wantMsg: "not consulted"},
		{name: "ref-head deny under rptguard.user not consulted", module: "package rptguard.user\n\nx.deny contains \"x\" if input.request.method == \"GET\"\n", wantMsg: "not consulted"},
		{name: "ref-head deny nested under rptguard.rules not consulted", module: "package rptguard.rules\n\na.b.deny contains \"x\" if input.request.method == \"GET\"\n", wantMsg: "not consulted"},
		{name: "ref-head deny in a rules package not consulted", module: "package rptguard.rules.a\n\nb.deny contains \"x\" if input.request.method == \"GET\"\n", wantMsg: "not consulted"},
		{name: "ref-head deny must be a set", module: "package rptguard.rules\n\na.deny := \"x\" if input.request.method == \"GET\"\n", wantMsg: "partial set rule"},
		{name: "rego v0 syntax", module: "package rptguard.user\n\ndeny[\"x\"] { input.request.method == \"GET\" }\n", wantMsg: "rego_parse_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := policies.New(context.Background(), policies.WithSources(policies.FromModule("user.rego", tt.module)))
			require.ErrorIs(t, err, policies.ErrCompile)
			var ce *policies.CompileError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestInsecureBuiltinsOption(t *testing.T) {
	t.Parallel()
	src := policies.FromModule("net.rego", "package rptguard.user\n\ndeny contains \"x\" if http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"}).status_code != 200\n")
	_, err := policies.New(context.Background(), policies.WithSources(src), policies.WithInsecureBuiltins("http.send"))
	require.NoError(t, err)
	assert.Equal(t, []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}, policies.RestrictedBuiltins())
}

func TestUserRules(t *testing.T) {
	t.Parallel()
	e := newEngine(t, policies.WithSources(
		policies.FromModule("owner.rego", ownerRule),
		policies.FromModule("deny.rego", denyRules),
		policies.FromModule("tenant.rego", tenantRules),
	))
	assert.True(t, e.HasRule("rules.owner_only"))
	assert.True(t, e.HasRule("rules.tenant.matches"))
	assert.False(t, e.HasRule("rules.nope"))
	assert.False(t, e.HasRule("owner_only"))

	alice, err := policies.NewTokenValue(&rpt.Claims{
		Subject:       "alice-id",
		Authorization: &rpt.Authorization{Permissions: []rpt.Permission{perm("r-doc", "Doc")}},
		Raw:           map[string]any{"sub": "alice-id", "tenant": "acme", "authorization": map[string]any{}},
	})
	require.NoError(t, err)
	base := policies.Input{
		Request:  policies.Request{Method: "GET", Path: "/t/acme/docs/1", PathParams: map[string]string{"tenant": "acme"}},
		Resource: policies.Resource{ID: "r-doc", Name: "Doc", Owner: "alice-id"},
		Token:    alice,
	}
	tests := []struct {
		name    string
		mutate  func(*policies.Input)
		want    bool
		reasons []string
	}{
		{name: "no rule, nothing denies", mutate: func(*policies.Input) {}, want: true},
		{name: "named rule holds", mutate: func(in *policies.Input) { in.Rule = "rules.owner_only" }, want: true},
		{name: "named rule fails", mutate: func(in *policies.Input) { in.Rule = "rules.owner_only"; in.Resource.Owner = "bob-id" }, want: false, reasons: []string{`rule "rules.owner_only" is not satisfied`}},
		{name: "named rule in a package", mutate: func(in *policies.Input) { in.Rule = "rules.tenant.matches" }, want: true},
		{name: "named rule undefined denies", mutate: func(in *policies.Input) { in.Rule = "rules.missing" }, want: false, reasons: []string{`rule "rules.missing" is not satisfied`}},
		{name: "user deny fires", mutate: func(in *policies.Input) {
			in.Request.Method = "POST"
			in.Request.Headers = map[string][]string{"X-Freeze": {"on"}}
		}, want: false, reasons: []string{"writes are frozen"}},
		{name: "deny under rules package fires", mutate: func(in *policies.Input) { in.Request.PathParams = map[string]string{"tenant": "evil"} }, want: false, reasons: []string{"tenant mismatch"}},
		{name: "keycloak deny and user deny together", mutate: func(in *policies.Input) {
			in.Resource.ID = "r-other"
			in.Resource.Name = "Other"
			in.Request.PathParams = map[string]string{"tenant": "evil"}
		}, want: false, reasons: []string{`no permission for resource "Other"`, "tenant mismatch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := base
			tt.mutate(&in)
			d, err := e.Evaluate(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Allow)
			if tt.reasons != nil {
				assert.Equal(t, tt.reasons, d.Reasons)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	tests := []struct {
		name string
		in   policies.Input
	}{
		{name: "bad scopes mode", in: policies.Input{ScopesMode: "SOME"}},
		{name: "enforcement mode in scopes field", in: policies.Input{ScopesMode: "PERMISSIVE"}},
		{name: "bad enforcement mode", in: policies.Input{EnforcementMode: "ALL"}},
		{name: "rule outside rules", in: policies.Input{Rule: "rptguard.authz.allow"}},
		{name: "rule with brackets", in: policies.Input{Rule: `rules["x"]`}},
		{name: "rule too deep", in: policies.Input{Rule: "rules.a.b.c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := e.Evaluate(context.Background(), tt.in)
			require.ErrorIs(t, err, policies.ErrInvalidInput)
			assert.False(t, d.Allow)
		})
	}
}

func TestEvaluationErrorsDeny(t *testing.T) {
	t.Parallel()
	e := newEngine(t, policies.WithSources(policies.FromModule("bad.rego", `package rptguard.user

deny contains "not a number" if to_number(input.request.path_params.n) > 10
`)))
	in := policies.Input{
		Request:  policies.Request{PathParams: map[string]string{"n": "secret-claim-value"}},
		Resource: policies.Resource{ID: "r"},
		Token:    tokenWith(t, perm("r", "R")),
	}
	d, err := e.Evaluate(context.Background(), in)
	require.ErrorIs(t, err, policies.ErrEvaluation)
	var ee *policies.EvalError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "eval_builtin_error", ee.Code)
	assert.Equal(t, "bad.rego:3", ee.Location)
	assert.NotContains(t, err.Error(), "secret-claim-value")
	assert.False(t, d.Allow)

	in.Request.PathParams["n"] = "5"
	d, err = e.Evaluate(context.Background(), in)
	require.NoError(t, err)
	assert.True(t, d.Allow)
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	// A deny rule that loops long enough to be cancelled.
	e := newEngine(t, policies.WithSources(policies.FromModule("slow.rego", `package rptguard.user

deny contains "slow" if {
	some i in numbers.range(1, 5000)
	some j in numbers.range(1, 5000)
	i + j < 0
}
`)))
	in := policies.Input{Resource: policies.Resource{ID: "r"}, Token: tokenWith(t, perm("r", "R"))}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := e.Evaluate(ctx, in)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, policies.ErrEvaluation)
	assert.False(t, d.Allow)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	d, err = e.Evaluate(ctx, in)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, policies.ErrEvaluation)
	assert.False(t, d.Allow)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestConcurrentEvaluateAndReload(t *testing.T) {
	t.Parallel()
	e := newEngine(t, policies.WithSources(policies.FromModule("owner.rego", ownerRule)))
	tv := tokenWith(t, perm("r-doc", "Doc", "read"))
	owner := tv.Claims().Subject
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				in := policies.Input{
					Resource:       policies.Resource{ID: "r-doc", Owner: owner},
					RequiredScopes: []string{"read"},
					Token:          tv,
					Rule:           "rules.owner_only",
				}
				want := (g+i)%2 == 0
				if !want {
					in.Resource.Owner = "someone-else"
				}
				d, err := e.Evaluate(context.Background(), in)
				if err != nil {
					errs <- err
					return
				}
				if d.Allow != want {
					errs <- errors.New("wrong decision under concurrency")
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if err := e.Reload(context.Background()); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestKeycloakHelpers(t *testing.T) {
	t.Parallel()
	e := newEngine(t, policies.WithSources(policies.FromModule("helpers.rego", `package rptguard.rules

import data.rptguard.keycloak

read_orders if keycloak.has_permission("orders", "read")

read_by_id if keycloak.has_permission("R-ORDERS", "read")

all_scopes if keycloak.has_all_scopes("Orders", ["read", "write"])

any_scope if keycloak.has_any_scope("Orders", ["delete", "write"])

realm_user if keycloak.has_realm_role("user")

client_reader if keycloak.has_client_role("orders-api", "reader")

sales if keycloak.in_group("staff/sales")

alice if keycloak.username == "alice"

admin if keycloak.has_realm_role("admin")
`)))
	tv := tokenWith(t, perm("r-orders", "Orders", "read", "write"))
	for _, rule := range []string{"rules.read_orders", "rules.read_by_id", "rules.all_scopes", "rules.any_scope", "rules.realm_user", "rules.client_reader", "rules.sales", "rules.alice"} {
		d, err := e.Evaluate(context.Background(), policies.Input{Resource: policies.Resource{ID: "r-orders"}, Token: tv, Rule: rule})
		require.NoError(t, err)
		assert.True(t, d.Allow, rule)
	}
	d, err := e.Evaluate(context.Background(), policies.Input{Resource: policies.Resource{ID: "r-orders"}, Token: tv, Rule: "rules.admin"})
	require.NoError(t, err)
	assert.False(t, d.Allow)
}
