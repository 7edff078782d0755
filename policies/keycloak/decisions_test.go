package keycloak_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
)

// expectModule exposes the offline permission to the engine's decision, so
// that tests can check the exact granted scopes through policies.Engine:
// rules.expect.granted_matches holds when the offline permission's scopes
// are exactly the request's "granted" query values; rules.expect.none when
// no permission is issued.
const expectModule = `package rptguard.rules.expect

granted_matches if {
	want := {s | some s in object.get(input.request.query, "granted", [])}
	got := {s | some s in data.rptguard.offline.permission.scopes}
	want == got
}

none if not data.rptguard.offline.permission
`

type decisionTable struct {
	Export   string             `json:"export"`
	ClientID string             `json:"client_id"`
	Mappings map[string]string  `json:"mappings"`
	Note     string             `json:"note"`
	Subjects map[string]subject `json:"subjects"`
	Cases    []decisionCase     `json:"cases"`
}

type decisionCase struct {
	Subject  string   `json:"subject"`
	Resource string   `json:"resource"`
	Scopes   []string `json:"scopes"`
	Granted  []string `json:"granted"` // nil: no permission
	Why      string   `json:"why"`
}

func mappingOptions(tb testing.TB, m map[string]string) []keycloak.Option {
	tb.Helper()
	var opts []keycloak.Option
	for name, how := range m {
		switch how {
		case "allow":
			opts = append(opts, keycloak.WithPolicyMapping(name, keycloak.MapAllow()))
		case "deny":
			opts = append(opts, keycloak.WithPolicyMapping(name, keycloak.MapDeny()))
		default:
			tb.Fatalf("mapping %q: %q", name, how)
		}
	}
	return opts
}

func loadTable(tb testing.TB, file string) (*decisionTable, *policies.Engine) {
	tb.Helper()
	var tbl decisionTable
	require.NoError(tb, json.Unmarshal(readTestdata(tb, filepath.Join("decisions", file)), &tbl))
	var popts []keycloak.ParseOption
	if tbl.ClientID != "" {
		popts = append(popts, keycloak.WithClientID(tbl.ClientID))
	}
	res := translate(tb, readTestdata(tb, tbl.Export), popts, mappingOptions(tb, tbl.Mappings)...)
	return &tbl, engine(tb, res, policies.FromModule("expect.rego", expectModule))
}

// offlineInput is the input of an offline decision for resource and scopes.
func offlineInput(tb testing.TB, sub subject, resource string, scopes []string) policies.Input {
	tb.Helper()
	tok, err := policies.NewTokenValue(sub.claims())
	require.NoError(tb, err)
	return policies.Input{
		Resource:          policies.Resource{ID: "id-" + resource, Name: resource},
		RequiredScopes:    scopes,
		Token:             tok,
		PermissionsSource: policies.PermissionsOffline,
	}
}

// checkGranted asserts, through the engine, that the offline permission for
// in is exactly want (nil: none).
func checkGranted(t *testing.T, e *policies.Engine, in policies.Input, want []string, why string) {
	t.Helper()
	ctx := context.Background()
	if want == nil {
		in.Rule, in.EnforcementMode = "rules.expect.none", policies.Permissive
		d, err := e.Evaluate(ctx, in)
		require.NoError(t, err)
		assert.True(t, d.Allow, "expected no permission: %s (reasons %v)", why, d.Reasons)
	} else {
		in.Rule, in.ScopesMode = "rules.expect.granted_matches", policies.ScopesAny
		in.Request.Query = map[string][]string{"granted": want}
		d, err := e.Evaluate(ctx, in)
		require.NoError(t, err)
		assert.True(t, d.Allow, "expected granted %v: %s (reasons %v)", want, why, d.Reasons)
	}
	// The plain enforcer decision (ALL): allowed iff a permission exists
	// that covers every required scope.
	in.Rule, in.ScopesMode, in.EnforcementMode, in.Request.Query = "", policies.ScopesAll, policies.Enforcing, nil
	d, err := e.Evaluate(ctx, in)
	require.NoError(t, err)
	wantAllow := want != nil
	if len(want) > 0 {
		for _, s := range in.RequiredScopes {
			wantAllow = wantAllow && slices.Contains(want, s)
		}
	}
	assert.Equal(t, wantAllow, d.Allow, "ALL decision: %s", why)
	if !d.Allow {
		assert.NotEmpty(t, d.Reasons)
	}
}

func TestDecisionTables(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"all-policies.json", "photoz-realm.json", "jakarta-realm.json", "spring-realm.json",
		"photoz-authz-service.json", "kcclient-unordered.json", "nodejs-template.json",
	} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			t.Parallel()
			tbl, e := loadTable(t, file)
			for _, c := range tbl.Cases {
				t.Run(c.Subject+"/"+c.Resource+"/"+strings.Join(c.Scopes, ","), func(t *testing.T) {
					sub, ok := tbl.Subjects[c.Subject]
					require.True(t, ok, "unknown subject %q", c.Subject)
					checkGranted(t, e, offlineInput(t, sub, c.Resource, c.Scopes), c.Granted, c.Why)
				})
			}
		})
	}
}

// TestMatchHTTPVerbsToScopes is SPEC §8.3's example from Keycloak's
// PolicyEnforcerTest#testMatchHttpVerbsToScopes: a resource with scopes GET
// and POST, a resource permission that always grants and a scope permission
// on GET that always denies.
func TestMatchHTTPVerbsToScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		strategy string
		scope    string
		want     []string
	}{
		{name: "unanimous GET denied", strategy: "UNANIMOUS", scope: "GET", want: nil},
		{name: "unanimous POST granted", strategy: "UNANIMOUS", scope: "POST", want: []string{"POST"}},
		{name: "affirmative GET granted", strategy: "AFFIRMATIVE", scope: "GET", want: []string{"GET"}},
		{name: "affirmative POST granted", strategy: "AFFIRMATIVE", scope: "POST", want: []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.Replace(string(readTestdata(t, "http-verbs-settings.json")),
				`"decisionStrategy": "UNANIMOUS"`, `"decisionStrategy": "`+tt.strategy+`"`, 1)
			res := translate(t, []byte(doc), nil)
			e := engine(t, res, policies.FromModule("expect.rego", expectModule))
			in := offlineInput(t, subject{Username: "alice"}, "Resource A", []string{tt.scope})
			checkGranted(t, e, in, tt.want, tt.name)
		})
	}
}
