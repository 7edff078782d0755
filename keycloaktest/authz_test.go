package keycloaktest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

// azNow is the fixed clock of the authorization tests (a Sunday).
var azNow = time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)

type azRes struct {
	name, typ, owner string
	scopes           []string
}

type azPol struct {
	name, typ, logic, strategy string
	// cfg values: a string is stored as is, anything else JSON-encoded into
	// the string (the export form).
	cfg map[string]any
}

func azExport(tb testing.TB, mode, strategy string, res []azRes, pols []azPol) []byte {
	tb.Helper()
	var resources, policies []map[string]any
	for _, r := range res {
		m := map[string]any{"name": r.name}
		if r.typ != "" {
			m["type"] = r.typ
		}
		if r.owner != "" {
			m["owner"] = map[string]any{"name": r.owner}
		}
		var sc []map[string]any
		for _, s := range r.scopes {
			sc = append(sc, map[string]any{"name": s})
		}
		m["scopes"] = sc
		resources = append(resources, m)
	}
	for _, p := range pols {
		cfg := map[string]string{}
		for k, v := range p.cfg {
			if s, ok := v.(string); ok {
				cfg[k] = s
				continue
			}
			b, err := json.Marshal(v)
			require.NoError(tb, err)
			cfg[k] = string(b)
		}
		m := map[string]any{"name": p.name, "type": p.typ, "config": cfg}
		if p.logic != "" {
			m["logic"] = p.logic
		}
		if p.strategy != "" {
			m["decisionStrategy"] = p.strategy
		}
		policies = append(policies, m)
	}
	doc := map[string]any{"policyEnforcementMode": mode, "resources": resources, "policies": policies}
	if strategy != "" {
		doc["decisionStrategy"] = strategy
	}
	b, err := json.Marshal(doc)
	require.NoError(tb, err)
	return b
}

// azAsk runs the UMA grant with response_mode=permissions and returns the
// status and the sorted permissions as "rsname:scope,scope" (":scope" for a
// scope-only permission; scopes sorted).
func azAsk(tb testing.TB, kc *keycloaktest.Server, tok string, pushed map[string][]string, perms ...string) (int, []string) {
	tb.Helper()
	form := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}, "response_mode": {"permissions"}}
	for _, p := range perms {
		form.Add("permission", p)
	}
	if pushed != nil {
		b, err := json.Marshal(pushed)
		require.NoError(tb, err)
		form.Set("claim_token", base64.RawURLEncoding.EncodeToString(b))
		form.Set("claim_token_format", "urn:ietf:params:oauth:token-type:jwt")
	}
	r := postForm(tb, kc, kc.TokenURL(), form, bearer(tok))
	if r.Status != http.StatusOK {
		return r.Status, nil
	}
	var list []map[string]any
	require.NoError(tb, json.Unmarshal(r.Body, &list), "%s", r.Body)
	out := make([]string, 0, len(list))
	for _, p := range list {
		name, _ := p["rsname"].(string)
		sc := strList(p["scopes"])
		slices.Sort(sc)
		out = append(out, name+":"+strings.Join(sc, ","))
	}
	slices.Sort(out)
	return r.Status, out
}

func azFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "authz", name))
	require.NoError(tb, err)
	return b
}

// Always-grant / always-deny building blocks: a time policy whose nbf is in
// the past grants; its NEGATIVE twin denies.
var (
	azYes = azPol{name: "yes", typ: "time", cfg: map[string]any{"nbf": "2000-01-01"}}
	azNo  = azPol{name: "no", typ: "time", logic: "NEGATIVE", cfg: map[string]any{"nbf": "2000-01-01"}}
)

func azResPerm(name, res string, strategy string, apply ...string) azPol {
	return azPol{name: name, typ: "resource", strategy: strategy, cfg: map[string]any{"resources": []string{res}, "applyPolicies": apply}}
}

// TestAuthzMatchHttpVerbsToScopes is PolicyEnforcerTest#testMatchHttpVerbsToScopes
// (SPEC §8.3): a resource with scopes GET and POST, a resource permission
// that grants and a scope permission on GET that denies.
func TestAuthzMatchHttpVerbsToScopes(t *testing.T) {
	t.Parallel()
	res := []azRes{{name: "Verbs", scopes: []string{"GET", "POST"}}, {name: "Verbs2", scopes: []string{"GET", "POST"}}}
	pols := []azPol{azYes, azNo,
		azResPerm("Verbs resource", "Verbs", "", "yes"),
		// A scope permission on no resource: it applies to every resource with GET.
		{name: "Verbs GET", typ: "scope", cfg: map[string]any{"scopes": []string{"GET"}, "applyPolicies": []string{"no"}}},
		azResPerm("Verbs2 resource", "Verbs2", "", "yes"),
		// A scope permission bound to Verbs2.
		{name: "Verbs2 GET", typ: "scope", cfg: map[string]any{"scopes": []string{"GET"}, "resources": []string{"Verbs2"}, "applyPolicies": []string{"no"}}},
	}
	tests := []struct {
		name       string
		strategy   string
		permission string
		want       []string // nil = 403
	}{
		// UNANIMOUS: the scope permission's denial of GET wins over the
		// resource permission's grant (granted − denied = ∅, a deny happened).
		{"unanimous GET", "UNANIMOUS", "Verbs#GET", nil},
		// Only the resource permission applies to POST.
		{"unanimous POST", "UNANIMOUS", "Verbs#POST", []string{"Verbs:POST"}},
		// Both scopes asked: GET denied, POST survives.
		{"unanimous all", "UNANIMOUS", "Verbs", []string{"Verbs:POST"}},
		// Bound scope permission: it targets the resource, same outcome.
		{"unanimous bound GET", "UNANIMOUS", "Verbs2#GET", nil},
		{"unanimous bound all", "UNANIMOUS", "Verbs2", []string{"Verbs2:POST"}},
		// AFFIRMATIVE at resource-server level: a granted scope is removed
		// from the denied set.
		{"affirmative GET", "AFFIRMATIVE", "Verbs#GET", []string{"Verbs:GET"}},
		{"affirmative POST", "AFFIRMATIVE", "Verbs#POST", []string{"Verbs:POST"}},
		{"affirmative all", "AFFIRMATIVE", "Verbs", []string{"Verbs:GET,POST"}},
		{"affirmative bound all", "AFFIRMATIVE", "Verbs2", []string{"Verbs2:GET,POST"}},
	}
	servers := map[string]*keycloaktest.Server{}
	for _, st := range []string{"UNANIMOUS", "AFFIRMATIVE"} {
		servers[st] = keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azExport(t, "ENFORCING", st, res, pols)))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := servers[tt.strategy]
			status, got := azAsk(t, kc, kc.AccessToken("alice"), nil, tt.permission)
			if tt.want == nil {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("token and decision modes", func(t *testing.T) {
		t.Parallel()
		kc := servers["UNANIMOUS"]
		form := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}, "permission": {"Verbs"}}
		r := postForm(t, kc, kc.TokenURL(), form, bearer(kc.AccessToken("alice")))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
		assert.Equal(t, []string{"Verbs:POST"}, permSummary(perms(t, c)))
		form.Set("response_mode", "decision")
		r = postForm(t, kc, kc.TokenURL(), form, bearer(kc.AccessToken("alice")))
		require.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, `{"result":true}`, string(r.Body))
		form.Set("permission", "Verbs#GET")
		r = postForm(t, kc, kc.TokenURL(), form, bearer(kc.AccessToken("alice")))
		require.Equal(t, http.StatusForbidden, r.Status)
		code, desc := oauthErr(t, r)
		assert.Equal(t, "access_denied", code)
		assert.Equal(t, "not_authorized", desc)
	})
}

// TestAuthzPolicyTypes checks every policy type, positive and NEGATIVE: each
// policy guards its own resource "R-<policy>" through a resource permission.
func TestAuthzPolicyTypes(t *testing.T) {
	t.Parallel()
	pols := []azPol{
		{name: "role-admin", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "admin"}}}},
		{name: "role-admin-neg", typ: "role", logic: "NEGATIVE", cfg: map[string]any{"roles": []map[string]any{{"id": "admin"}}}},
		{name: "role-user", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "user", "required": false}}}},
		{name: "role-required", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "user"}, {"id": "rptguard-api/manage", "required": true}}}},
		{name: "role-legacy", typ: "role", cfg: map[string]any{"roles": []string{"admin"}}},
		{name: "role-fetch", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "admin"}}, "fetchRoles": "true"}},
		{name: "user-alice", typ: "user", cfg: map[string]any{"users": []string{"alice"}}},
		{name: "user-alice-neg", typ: "user", logic: "NEGATIVE", cfg: map[string]any{"users": []string{"alice"}}},
		{name: "client-spa", typ: "client", cfg: map[string]any{"clients": []string{"spa"}}},
		{name: "client-spa-neg", typ: "client", logic: "NEGATIVE", cfg: map[string]any{"clients": []string{"spa"}}},
		{name: "group-staff", typ: "group", cfg: map[string]any{"groups": []map[string]any{{"path": "/staff", "extendChildren": false}}}},
		{name: "group-staff-ext", typ: "group", cfg: map[string]any{"groups": []map[string]any{{"path": "/staff", "extendChildren": true}}}},
		{name: "group-staff-neg", typ: "group", logic: "NEGATIVE", cfg: map[string]any{"groups": []map[string]any{{"path": "/staff"}}}},
		{name: "group-claim", typ: "group", cfg: map[string]any{"groups": []map[string]any{{"path": "/staff", "extendChildren": true}}, "groupsClaim": "groups"}},
		{name: "scope-email", typ: "client-scope", cfg: map[string]any{"clientScopes": []map[string]any{{"id": "email", "required": true}}}},
		{name: "scope-any", typ: "client-scope", cfg: map[string]any{"clientScopes": []map[string]any{{"id": "phone"}, {"id": "email"}}}},
		{name: "scope-email-neg", typ: "client-scope", logic: "NEGATIVE", cfg: map[string]any{"clientScopes": []map[string]any{{"id": "email", "required": true}}}},
		{name: "regex-email", typ: "regex", cfg: map[string]any{"targetClaim": "email", "pattern": `[a-z]+@example\.com`}},
		{name: "regex-email-neg", typ: "regex", logic: "NEGATIVE", cfg: map[string]any{"targetClaim": "email", "pattern": `[a-z]+@example\.com`}},
		{name: "regex-partial", typ: "regex", cfg: map[string]any{"targetClaim": "email", "pattern": "example"}},
		{name: "regex-ctx", typ: "regex", cfg: map[string]any{"targetClaim": "level", "pattern": "high|max", "targetContextAttributes": "true"}},
		{name: "regex-nested", typ: "regex", cfg: map[string]any{"targetClaim": "address.country", "pattern": "NL"}},
		{name: "time-past", typ: "time", cfg: map[string]any{"nbf": "2000-01-01"}},
		{name: "time-future", typ: "time", cfg: map[string]any{"nbf": "2030-01-01 00:00:00"}},
		{name: "time-expired", typ: "time", cfg: map[string]any{"noa": "2020-01-01"}},
		{name: "time-noa-now", typ: "time", cfg: map[string]any{"noa": "2026-03-15 10:30:00"}},
		{name: "time-hour", typ: "time", cfg: map[string]any{"hour": "10"}},
		{name: "time-hour-range", typ: "time", cfg: map[string]any{"hour": "9", "hourEnd": "11"}},
		{name: "time-hour-11", typ: "time", cfg: map[string]any{"hour": "11"}},
		{name: "time-date", typ: "time", cfg: map[string]any{"dayMonth": "15", "month": "3", "year": "2026", "minute": "30", "minuteEnd": "31"}},
		{name: "time-year-2025", typ: "time", cfg: map[string]any{"year": "2025"}},
		{name: "time-month-range", typ: "time", cfg: map[string]any{"month": "4", "monthEnd": "12"}},
		{name: "time-neg", typ: "time", logic: "NEGATIVE", cfg: map[string]any{"nbf": "2000-01-01"}},
		{name: "agg-any", typ: "aggregate", strategy: "AFFIRMATIVE", cfg: map[string]any{"applyPolicies": []string{"role-admin", "user-alice"}}},
		{name: "agg-all", typ: "aggregate", cfg: map[string]any{"applyPolicies": []string{"role-admin", "user-alice"}}},
		{name: "agg-consensus", typ: "aggregate", strategy: "CONSENSUS", cfg: map[string]any{"applyPolicies": []string{"role-admin", "role-user", "user-alice"}}},
		{name: "agg-neg", typ: "aggregate", strategy: "AFFIRMATIVE", logic: "NEGATIVE", cfg: map[string]any{"applyPolicies": []string{"role-admin", "user-alice"}}},
		{name: "agg-nested", typ: "aggregate", cfg: map[string]any{"applyPolicies": []string{"agg-any", "time-past"}}},
		{name: "agg-empty", typ: "aggregate"},
		{name: "agg-empty-neg", typ: "aggregate", logic: "NEGATIVE"},
		{name: "js", typ: "js", cfg: map[string]any{"code": "$evaluation.grant();"}},
		{name: "js-neg", typ: "js", logic: "NEGATIVE", cfg: map[string]any{"code": "$evaluation.grant();"}},
		{name: "script", typ: "script-always-grant.js"},
		{name: "agg-js", typ: "aggregate", strategy: "AFFIRMATIVE", cfg: map[string]any{"applyPolicies": []string{"js", "time-past"}}},
	}
	var res []azRes
	all := slices.Clone(pols)
	for _, p := range pols {
		res = append(res, azRes{name: "R-" + p.name, scopes: []string{"s"}})
		all = append(all, azResPerm("P-"+p.name, "R-"+p.name, "", p.name))
	}
	kc := keycloaktest.New(t,
		keycloaktest.WithClock(func() time.Time { return azNow }),
		keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
		keycloaktest.WithUser(keycloaktest.User{Username: "alice", Password: "alice", RealmRoles: []string{"user"},
			Groups: []string{"/staff"}, Attributes: map[string][]string{"email": {"alice@example.com"}}}),
		keycloaktest.WithUser(keycloaktest.User{Username: "bob", Password: "bob", RealmRoles: []string{"user", "admin"},
			Groups: []string{"/staff/admins"}, ClientRoles: map[string][]string{"rptguard-api": {"manage"}}}),
		keycloaktest.WithUser(keycloaktest.User{Username: "carol", Password: "carol",
			Attributes: map[string][]string{"email": {"carol@other.org"}}}),
		keycloaktest.WithAuthorizationSettings(azExport(t, "ENFORCING", "", res, all)),
	)
	assert.Equal(t, []string{"js", "js-neg", "script"}, kc.UnsupportedPolicies())

	azp := keycloaktest.WithAuthorizedParty
	claim := keycloaktest.WithClaim
	tests := []struct {
		name, policy, user string
		opts               []keycloaktest.TokenOption
		pushed             map[string][]string
		want               bool
	}{
		{"role held", "role-admin", "bob", nil, nil, true},
		{"role missing", "role-admin", "alice", nil, nil, false},
		{"role negative held", "role-admin-neg", "bob", nil, nil, false},
		{"role negative missing", "role-admin-neg", "alice", nil, nil, true},
		{"role from token", "role-admin", "alice", []keycloaktest.TokenOption{claim("realm_access", map[string]any{"roles": []string{"admin"}})}, nil, true},
		{"role required client role held", "role-required", "bob", nil, nil, true},
		{"role required client role missing", "role-required", "alice", nil, nil, false},
		{"role legacy string list", "role-legacy", "bob", nil, nil, true},
		// fetchRoles reads the user's roles, not the token's.
		{"role fetchRoles ignores token", "role-fetch", "alice", []keycloaktest.TokenOption{claim("realm_access", map[string]any{"roles": []string{"admin"}})}, nil, false},
		{"role fetchRoles held", "role-fetch", "bob", nil, nil, true},
		{"user listed", "user-alice", "alice", nil, nil, true},
		{"user not listed", "user-alice", "bob", nil, nil, false},
		{"user negative listed", "user-alice-neg", "alice", nil, nil, false},
		{"user negative not listed", "user-alice-neg", "bob", nil, nil, true},
		{"client azp listed", "client-spa", "alice", []keycloaktest.TokenOption{azp("spa")}, nil, true},
		{"client azp not listed", "client-spa", "alice", nil, nil, false},
		{"client negative", "client-spa-neg", "alice", []keycloaktest.TokenOption{azp("spa")}, nil, false},
		{"group direct member", "group-staff", "alice", nil, nil, true},
		{"group child only", "group-staff", "bob", nil, nil, false},
		{"group extendChildren child", "group-staff-ext", "bob", nil, nil, true},
		{"group extendChildren non-member", "group-staff-ext", "carol", nil, nil, false},
		{"group negative member", "group-staff-neg", "alice", nil, nil, false},
		{"group negative non-member", "group-staff-neg", "carol", nil, nil, true},
		{"groupsClaim from token", "group-claim", "bob", nil, nil, true},
		// The claim must name the group AND the user must be a member.
		{"groupsClaim not naming the group", "group-claim", "bob", []keycloaktest.TokenOption{claim("groups", []string{"/other"})}, nil, false},
		{"groupsClaim non-member", "group-claim", "carol", []keycloaktest.TokenOption{claim("groups", []string{"/staff"})}, nil, false},
		{"groupsClaim by name", "group-claim", "alice", []keycloaktest.TokenOption{claim("groups", []string{"staff"})}, nil, true},
		{"client scope required held", "scope-email", "alice", nil, nil, true},
		{"client scope required missing", "scope-email", "alice", []keycloaktest.TokenOption{claim("scope", "profile phone")}, nil, false},
		{"client scope any", "scope-any", "alice", []keycloaktest.TokenOption{claim("scope", "phone")}, nil, true},
		{"client scope negative", "scope-email-neg", "alice", nil, nil, false},
		{"regex full match", "regex-email", "alice", nil, nil, true},
		{"regex no match", "regex-email", "carol", nil, nil, false},
		{"regex negative", "regex-email-neg", "carol", nil, nil, true},
		{"regex partial is no match", "regex-partial", "alice", nil, nil, false},
		{"regex context attribute", "regex-ctx", "alice", nil, map[string][]string{"level": {"high"}}, true},
		{"regex context attribute mismatch", "regex-ctx", "alice", nil, map[string][]string{"level": {"low"}}, false},
		{"regex context attribute absent", "regex-ctx", "alice", nil, nil, false},
		{"regex nested claim", "regex-nested", "alice", []keycloaktest.TokenOption{claim("address", map[string]any{"country": "NL"})}, nil, true},
		{"regex nested claim mismatch", "regex-nested", "alice", []keycloaktest.TokenOption{claim("address", map[string]any{"country": "DE"})}, nil, false},
		{"time after nbf", "time-past", "alice", nil, nil, true},
		{"time before nbf", "time-future", "alice", nil, nil, false},
		// SPEC §7.3: a pushed kc.time.date_time does not move the clock.
		{"time pushed date ignored", "time-future", "alice", nil, map[string][]string{"kc.time.date_time": {"2031-01-01 00:00:00"}}, false},
		{"time after noa", "time-expired", "alice", nil, nil, false},
		{"time at noa", "time-noa-now", "alice", nil, nil, true},
		{"time hour", "time-hour", "alice", nil, nil, true},
		{"time hour range", "time-hour-range", "alice", nil, nil, true},
		{"time other hour", "time-hour-11", "alice", nil, nil, false},
		{"time day month year minute range", "time-date", "alice", nil, nil, true},
		{"time other year", "time-year-2025", "alice", nil, nil, false},
		{"time month outside range", "time-month-range", "alice", nil, nil, false},
		{"time negative", "time-neg", "alice", nil, nil, false},
		{"aggregate affirmative role", "agg-any", "bob", nil, nil, true},
		{"aggregate affirmative user", "agg-any", "alice", nil, nil, true},
		{"aggregate affirmative none", "agg-any", "carol", nil, nil, false},
		{"aggregate unanimous", "agg-all", "bob", nil, nil, false},
		{"aggregate consensus 2 of 3", "agg-consensus", "alice", nil, nil, true},
		{"aggregate consensus 0 of 3", "agg-consensus", "carol", nil, nil, false},
		{"aggregate negative", "agg-neg", "carol", nil, nil, true},
		{"aggregate negative granted", "agg-neg", "alice", nil, nil, false},
		{"aggregate nested", "agg-nested", "alice", nil, nil, true},
		// No associated policy reports a decision: no effect ⇒ deny, which
		// NEGATIVE logic then inverts.
		{"aggregate empty", "agg-empty", "alice", nil, nil, false},
		{"aggregate empty negative", "agg-empty-neg", "alice", nil, nil, true},
		{"js never grants", "js", "bob", nil, nil, false},
		{"js negative never grants", "js-neg", "bob", nil, nil, false},
		{"script never grants", "script", "bob", nil, nil, false},
		{"aggregate with js", "agg-js", "bob", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, got := azAsk(t, kc, kc.AccessToken(tt.user, tt.opts...), tt.pushed, "R-"+tt.policy)
			if !tt.want {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, []string{"R-" + tt.policy + ":s"}, got)
		})
	}
}

// TestAuthzStrategiesAndTypes covers permission decision strategies,
// typed resource permissions, typed parents of user-owned resources and
// scope-only requests (ENFORCING, resource-server UNANIMOUS).
func TestAuthzStrategiesAndTypes(t *testing.T) {
	t.Parallel()
	strategyRows := []struct {
		strategy string
		apply    []string
		want     bool
	}{
		{"UNANIMOUS", []string{"yes", "yes"}, true},
		{"UNANIMOUS", []string{"yes", "no"}, false},
		{"AFFIRMATIVE", []string{"no", "yes"}, true},
		{"AFFIRMATIVE", []string{"no", "no"}, false},
		{"CONSENSUS", []string{"yes"}, true},
		{"CONSENSUS", []string{"yes", "no"}, false}, // tie denies
		{"CONSENSUS", []string{"yes", "yes", "no"}, true},
		{"CONSENSUS", []string{"yes", "no", "no"}, false},
		{"CONSENSUS", []string{"yes", "no", "yes", "no"}, false}, // 2:2 tie
	}
	res := []azRes{
		{name: "T1", typ: "urn:doc", scopes: []string{"read", "write"}},
		{name: "T2", typ: "urn:doc", scopes: []string{"read", "write"}},
		{name: "Untyped", scopes: []string{"read"}},
		{name: "Alice Doc", typ: "urn:doc", owner: "alice"},
		{name: "Note Template", typ: "urn:note", scopes: []string{"view"}},
		{name: "Alice Note", typ: "urn:note", owner: "alice"},
	}
	pols := []azPol{azYes, azNo,
		{name: "admin", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "admin"}}}},
		{name: "user", typ: "role", cfg: map[string]any{"roles": []map[string]any{{"id": "user"}}}},
		{name: "Typed", typ: "resource", cfg: map[string]any{"defaultResourceType": "urn:doc", "default": "true", "applyPolicies": []string{"admin"}}},
		{name: "Read Any", typ: "scope", cfg: map[string]any{"scopes": []string{"read"}, "applyPolicies": []string{"user"}}},
		azResPerm("Note Perm", "Note Template", "", "admin"),
	}
	for i, r := range strategyRows {
		name := "S" + string(rune('0'+i))
		res = append(res, azRes{name: name, scopes: []string{"s"}})
		pols = append(pols, azResPerm("P"+name, name, r.strategy, r.apply...))
	}
	kc := keycloaktest.New(t,
		keycloaktest.WithUser(keycloaktest.User{Username: "carol", Password: "carol"}),
		keycloaktest.WithAuthorizationSettings(azExport(t, "ENFORCING", "", res, pols)))
	for i, r := range strategyRows {
		name := "S" + string(rune('0'+i))
		t.Run(r.strategy+" "+strings.Join(r.apply, ","), func(t *testing.T) {
			t.Parallel()
			status, got := azAsk(t, kc, kc.AccessToken("carol"), nil, name)
			if !r.want {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, []string{name + ":s"}, got)
		})
	}

	aliceDoc, aliceNote := kc.ResourceID("Alice Doc"), kc.ResourceID("Alice Note")
	tests := []struct {
		name, user string
		permission []string
		want       []string // nil = 403
	}{
		// Typed permission (admin) grants; Read Any (user) grants read too.
		{"typed granted", "bob", []string{"T1"}, []string{"T1:read,write"}},
		// Read Any grants read, but the denying typed permission's scopes are
		// denied since no resource/scope permission denied anything:
		// granted {read} − denied {read, write} = ∅ ⇒ no permission.
		{"typed denied beats scope grant", "alice", []string{"T1"}, nil},
		{"untyped without permission in ENFORCING", "bob", []string{"Untyped#write"}, nil},
		// Untyped#read: Read Any applies and grants alice (a user).
		{"untyped scope permission", "alice", []string{"Untyped#read"}, []string{"Untyped:read"}},
		// User-owned typed resource: inherits the scopes of the resource
		// server's urn:doc resources and is governed by the typed permission.
		{"user-owned typed, other user", "bob", []string{aliceDoc}, []string{"Alice Doc:read,write"}},
		{"user-owned typed, owner", "alice", []string{aliceDoc}, []string{"Alice Doc:read,write"}},
		{"user-owned typed, denied", "carol", []string{aliceDoc}, nil},
		// Typed parent: Note Perm on Note Template applies to Alice Note.
		{"typed parent grants", "bob", []string{aliceNote}, []string{"Alice Note:view"}},
		{"typed parent denies", "carol", []string{aliceNote}, nil},
		// Scope-only request: each resource with the scope is evaluated, plus
		// one permission without resource (granted by Read Any for users).
		{"scope-only bob", "bob", []string{"#read"}, []string{":read", "T1:read", "T2:read", "Untyped:read"}},
		{"scope-only alice", "alice", []string{"#read"}, []string{":read", "Untyped:read"}},
		{"scope-only carol", "carol", []string{"#read"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, got := azAsk(t, kc, kc.AccessToken(tt.user), nil, tt.permission...)
			if tt.want == nil {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestAuthzEnforcementModes: DISABLED grants everything asked; PERMISSIVE
// grants what no permission covers; ENFORCING denies it.
func TestAuthzEnforcementModes(t *testing.T) {
	t.Parallel()
	res := []azRes{{name: "Open", scopes: []string{"a", "b"}}, {name: "Closed", scopes: []string{"a"}}, {name: "Bare"}}
	pols := []azPol{azNo, azResPerm("Closed perm", "Closed", "", "no")}
	tests := []struct {
		mode, permission string
		want             []string
	}{
		{"DISABLED", "Open", []string{"Open:a,b"}},
		{"DISABLED", "Closed", []string{"Closed:a"}},
		{"DISABLED", "Open#b", []string{"Open:b"}},
		{"PERMISSIVE", "Open", []string{"Open:a,b"}},
		{"PERMISSIVE", "Closed", nil},
		{"PERMISSIVE", "Bare", []string{"Bare:"}}, // resource-level grant, no scopes
		{"ENFORCING", "Open", nil},
		{"ENFORCING", "Closed", nil},
	}
	servers := map[string]*keycloaktest.Server{}
	for _, m := range []string{"DISABLED", "PERMISSIVE", "ENFORCING"} {
		servers[m] = keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azExport(t, m, "", res, pols)))
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.permission, func(t *testing.T) {
			t.Parallel()
			kc := servers[tt.mode]
			status, got := azAsk(t, kc, kc.AccessToken("alice"), nil, tt.permission)
			if tt.want == nil {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("PERMISSIVE entitlement", func(t *testing.T) {
		t.Parallel()
		kc := servers["PERMISSIVE"]
		status, got := azAsk(t, kc, kc.AccessToken("alice"), nil)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"Bare:", "Open:a,b"}, got)
	})
}

// TestAuthzRealExports loads the real Keycloak exports of testdata/authz and
// checks grants worked out by hand from SPEC §8.3.
func TestAuthzRealExports(t *testing.T) {
	t.Parallel()
	const (
		spring  = "quickstarts-spring-rest-authz-resource-server-realm-import.json"
		jakarta = "quickstarts-jakarta-servlet-authz-client-realm-import.json"
		umaPz   = "quickstarts-uma-photoz-realm.json"
		photoz  = "quickstarts-photoz-restful-api-authz-service.json"
		kcc     = "kcclient-import-authorization-unordered-settings.json"
	)
	servers := map[string]*keycloaktest.Server{
		spring:  keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azFile(t, spring))),
		jakarta: keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azFile(t, jakarta))),
		umaPz:   keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azFile(t, umaPz))),
		photoz:  keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(azFile(t, photoz))),
		// The standalone export expects a realm with client resource-server-test
		// and a user holding its role manage-albums.
		kcc: keycloaktest.New(t,
			keycloaktest.WithUser(keycloaktest.User{Username: "alice", Password: "alice", RealmRoles: []string{"user"},
				ClientRoles: map[string][]string{"resource-server-test": {"manage-albums"}}}),
			keycloaktest.WithAuthorizationSettings(azFile(t, kcc))),
	}
	assert.Equal(t, "authz-servlet", servers[spring].ClientID())
	assert.Equal(t, "secret", servers[spring].ClientSecret())
	assert.Equal(t, "photoz-restful-api", servers[umaPz].ClientID())
	assert.Equal(t, []string{"Only From @keycloak.org or Admin", "Only From a Specific Client Address", "Only Owner Policy"},
		servers[umaPz].UnsupportedPolicies())
	const (
		springAccess  = "urn:servlet-authz:protected:resource:access"
		springPremium = "urn:servlet-authz:protected:premium:access"
		mainUser      = "urn:servlet-authz:page:main:actionForUser"
		mainAdmin     = "urn:servlet-authz:page:main:actionForAdmin"
		mainPremium   = "urn:servlet-authz:page:main:actionForPremiumUser"
	)
	tests := []struct {
		name, file, user string
		permission       []string // none = entitlement
		want             []string // nil = 403
	}{
		// Spring: Protected Resource ← "All Users Policy" (aggregate
		// AFFIRMATIVE of role user / role user_premium); alice has user ⇒
		// granted. Premium Resource ← "Only Premium User Policy": alice lacks
		// user_premium ⇒ the resource permission denies its scope ⇒ no permission.
		{"spring alice entitlement", spring, "alice", nil, []string{"Protected Resource:" + springAccess}},
		// jdoe has user and user_premium: both permissions grant.
		{"spring jdoe entitlement", spring, "jdoe", nil, []string{"Premium Resource:" + springPremium, "Protected Resource:" + springAccess}},
		// Scope-only: Premium Resource is evaluated (denied for alice); the
		// resource-less permission has no scope permission ⇒ ENFORCING denies.
		{"spring alice premium scope", spring, "alice", []string{"#" + springPremium}, nil},
		{"spring jdoe premium scope", spring, "jdoe", []string{"#" + springPremium}, []string{"Premium Resource:" + springPremium}},
		// Jakarta: Main Page has no resource permission; three scope
		// permissions without resources: premium (user_premium), user (user),
		// admin (admin). alice: user granted, the others denied ⇒ user only.
		{"jakarta alice main page", jakarta, "alice", []string{"Main Page"}, []string{"Main Page:" + mainUser}},
		{"jakarta jdoe main page", jakarta, "jdoe", []string{"Main Page"}, []string{"Main Page:" + mainPremium + "," + mainUser}},
		{"jakarta admin main page", jakarta, "admin", []string{"Main Page"}, []string{"Main Page:" + mainAdmin + "," + mainUser}},
		// Admin Resource ← "Any Admin Policy" (role admin).
		{"jakarta alice admin resource", jakarta, "alice", []string{"Admin Resource"}, nil},
		{"jakarta admin admin resource", jakarta, "admin", []string{"Admin Resource"}, []string{"Admin Resource:urn:servlet-authz:protected:admin:access"}},
		// Entitlement for admin: Admin (admin), Protected (All Users), Main
		// Page (user + admin scopes); Premium Resource denied (no user_premium).
		{"jakarta admin entitlement", jakarta, "admin", nil, []string{
			"Admin Resource:urn:servlet-authz:protected:admin:access", "Main Page:" + mainAdmin + "," + mainUser, "Protected Resource:" + springAccess}},
		// UMA photoz: every permission ends in a script policy (DENY here):
		// Album ← aggregate AFFIRMATIVE [Administration (UNANIMOUS with a
		// script ⇒ deny), Only Owner (script)] ⇒ deny; Admin Resources (typed)
		// ← Administration ⇒ deny; profile:view ← script ⇒ deny.
		{"uma photoz admin album", umaPz, "admin", []string{"Album Resource"}, nil},
		{"uma photoz admin admin resources", umaPz, "admin", []string{"Admin Resources"}, nil},
		{"uma photoz alice entitlement", umaPz, "alice", nil, nil},
		// photoz authz service: same shape (Default Resource ← script).
		{"photoz admin default resource", photoz, "alice", []string{"Default Resource"}, nil},
		{"photoz alice album view", photoz, "alice", []string{"Album Resource#album:view"}, nil},
		// keycloak-client unordered export: Album Resource (typed album) ←
		// "Album Resource Permission" AFFIRMATIVE [Any User Policy (user +
		// required resource-server-test/manage-albums), Administration (script
		// ⇒ deny)] grants alice all scopes; "Delete Album Permission" (scope
		// permission on album:delete, no resources) denies delete ⇒
		// granted {view, create, delete} − denied {delete}.
		{"kcclient alice album", kcc, "alice", []string{"Album Resource"},
			[]string{"Album Resource:urn:photoz.com:scopes:album:create,urn:photoz.com:scopes:album:view"}},
		{"kcclient alice album view", kcc, "alice", []string{"Album Resource#urn:photoz.com:scopes:album:view"},
			[]string{"Album Resource:urn:photoz.com:scopes:album:view"}},
		{"kcclient alice album delete", kcc, "alice", []string{"Album Resource#urn:photoz.com:scopes:album:delete"}, nil},
		// bob (default fixture user) lacks manage-albums: the required role
		// denies "Any User Policy" ⇒ the typed permission denies everything.
		{"kcclient bob album", kcc, "bob", []string{"Album Resource"}, nil},
		// View User Permission ← script ⇒ deny.
		{"kcclient alice profile", kcc, "alice", []string{"User Profile Resource"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := servers[tt.file]
			status, got := azAsk(t, kc, kc.AccessToken(tt.user), nil, tt.permission...)
			if tt.want == nil {
				assert.Equal(t, http.StatusForbidden, status)
				return
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("realm users log in with their export passwords", func(t *testing.T) {
		t.Parallel()
		kc := servers[jakarta]
		r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"admin"}},
			basicAuth(kc.ClientID(), kc.ClientSecret()))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
		assert.ElementsMatch(t, []string{"user", "admin"}, strList(c["realm_access"].(map[string]any)["roles"]))
		assert.Equal(t, "admin@keycloak.org", c["email"])
	})
}

// TestAuthzLoad covers load errors and run-time reloads.
func TestAuthzLoad(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(
		azExport(t, "ENFORCING", "", []azRes{{name: "Doc", scopes: []string{"read"}}}, []azPol{azYes, azResPerm("Doc perm", "Doc", "", "yes")})))
	tests := []struct {
		name    string
		export  string
		wantErr string
	}{
		{"not JSON", `{`, "not a JSON object"},
		{"unknown applied policy", `{"policies":[{"name":"p","type":"aggregate","config":{"applyPolicies":"[\"x\"]"}}]}`, "unknown policy"},
		{"cycle", `{"policies":[{"name":"a","type":"aggregate","config":{"applyPolicies":"[\"b\"]"}},{"name":"b","type":"aggregate","config":{"applyPolicies":"[\"a\"]"}}]}`, "cycle"},
		{"unknown resource", `{"policies":[{"name":"p","type":"resource","config":{"resources":"[\"nope\"]"}}]}`, "unknown resource"},
		{"java-only regex", `{"policies":[{"name":"p","type":"regex","config":{"targetClaim":"x","pattern":"(?=a)a"}}]}`, "RE2"},
		{"bad time", `{"policies":[{"name":"p","type":"time","config":{"nbf":"tomorrow"}}]}`, "yyyy-MM-dd"},
		{"bad hour", `{"policies":[{"name":"p","type":"time","config":{"hour":"ten"}}]}`, "integer"},
		{"unknown type", `{"policies":[{"name":"p","type":"organization"}]}`, "unknown type"},
		{"duplicate name", `{"policies":[{"name":"p","type":"aggregate"},{"name":"p","type":"aggregate"}]}`, "duplicate"},
		{"bad mode", `{"policyEnforcementMode":"SOMETIMES"}`, "policyEnforcementMode"},
		{"realm without authz client", `{"realm":"x","clients":[{"clientId":"a"}]}`, "cannot choose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kc.LoadAuthorizationSettings([]byte(tt.export))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "keycloaktest: "), err.Error())
		})
	}
	// Errors leave the previous settings in force.
	status, got := azAsk(t, kc, kc.AccessToken("alice"), nil, "Doc")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"Doc:read"}, got)

	// A reload replaces the resource server's resources and policies.
	require.NoError(t, kc.LoadAuthorizationSettings(
		azExport(t, "ENFORCING", "", []azRes{{name: "Doc", scopes: []string{"read"}}}, []azPol{azNo, azResPerm("Doc perm", "Doc", "", "no")})))
	status, _ = azAsk(t, kc, kc.AccessToken("alice"), nil, "Doc")
	assert.Equal(t, http.StatusForbidden, status)

	_, err := keycloaktest.Start(keycloaktest.WithAuthorizationSettings([]byte(`[]`)))
	require.Error(t, err)
	_, err = keycloaktest.Start(keycloaktest.WithAuthorizationSettings(azFile(t, "quickstarts-uma-photoz-realm.json")),
		keycloaktest.WithAuthorizationClient("photoz-html5-client"))
	require.Error(t, err)
}

func FuzzLoadAuthorizationSettings(f *testing.F) {
	for _, name := range []string{"kcclient-import-authorization-unordered-settings.json", "quickstarts-photoz-restful-api-authz-service.json"} {
		f.Add(azFile(f, name))
	}
	f.Add([]byte(`{"policies":[{"name":"p","type":"role","config":{"roles":"[{\"id\":\"a/b\",\"required\":true}]"}}]}`))
	kc := keycloaktest.New(f)
	f.Fuzz(func(t *testing.T, export []byte) {
		// The property: loading never panics, and a failed load leaves the
		// previous settings in force (checked over HTTP in TestAuthzLoad).
		_ = kc.LoadAuthorizationSettings(export)
	})
}

// ExampleWithAuthorizationSettings loads a Keycloak realm export and asks the
// UMA grant (response_mode=permissions) what its policies grant.
func ExampleWithAuthorizationSettings() {
	t := &exampleTB{}
	export, err := os.ReadFile("testdata/authz/quickstarts-jakarta-servlet-authz-client-realm-import.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	kc := keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(export))
	defer t.cleanup()

	form := url.Values{
		"grant_type":    {"urn:ietf:params:oauth:grant-type:uma-ticket"},
		"audience":      {kc.ClientID()}, // jakarta-servlet-authz-client, from the export
		"permission":    {"Main Page"},
		"response_mode": {"permissions"},
	}
	req, _ := http.NewRequest(http.MethodPost, kc.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+kc.AccessToken("alice")) // realm role "user"
	resp, err := kc.HTTPClient().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var granted []struct {
		Name   string   `json:"rsname"`
		Scopes []string `json:"scopes"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&granted)
	fmt.Println(resp.StatusCode, granted[0].Name, granted[0].Scopes)
	fmt.Println(kc.UnsupportedPolicies())
	// Output:
	// 200 Main Page [urn:servlet-authz:page:main:actionForUser]
	// []
}
