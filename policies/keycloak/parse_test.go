package keycloak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
)

func TestUnsupportedPoliciesFailByName(t *testing.T) {
	t.Parallel()
	s, err := keycloak.Parse(readTestdata(t, "kcclient-import-authorization-unordered-settings.json"))
	require.NoError(t, err)
	_, err = keycloak.Translate(s)
	require.ErrorIs(t, err, keycloak.ErrUnsupportedPolicy)
	var ue *keycloak.UnsupportedError
	require.ErrorAs(t, err, &ue)
	assert.Len(t, ue.Policies, 3)
	for _, name := range []string{"Only Owner Policy", "Only From a Specific Client Address", "Only From @keycloak.org or Admin"} {
		assert.Contains(t, err.Error(), name)
	}

	// Mapping only some still fails, naming the rest.
	_, err = keycloak.Translate(s, keycloak.WithPolicyMapping("Only Owner Policy", keycloak.MapAllow()))
	require.ErrorAs(t, err, &ue)
	assert.Len(t, ue.Policies, 2)
	assert.NotContains(t, err.Error(), "Only Owner Policy")

	// js policies (nodejs template) too.
	s, err = keycloak.Parse(readTestdata(t, "nodejs-connect-resource-server-template.json"))
	require.NoError(t, err)
	_, err = keycloak.Translate(s)
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, []string{`"Default Policy" (js)`, `"Delete Policy" (js)`, `"Supported Browser Policy" (js)`}, ue.Policies)
}

func TestPolicyMappingRule(t *testing.T) {
	t.Parallel()
	doc := `{"resources":[{"name":"R","scopes":[{"name":"s"}]}],
	 "policies":[{"name":"Owner","type":"script-owner.js"},
	  {"name":"P","type":"resource","config":{"resources":"[\"R\"]","applyPolicies":"[\"Owner\"]"}}]}`
	s, err := keycloak.Parse([]byte(doc))
	require.NoError(t, err)

	tests := []struct {
		name    string
		mapping keycloak.Mapping
		user    string
		want    []string
		wantErr error
	}{
		{name: "allow", mapping: keycloak.MapAllow(), user: "bob", want: []string{"s"}},
		{name: "deny", mapping: keycloak.MapDeny(), user: "bob"},
		{name: "rule true", mapping: keycloak.MapRule("data.rptguard.rules.owner.is_owner"), user: "alice", want: []string{"s"}},
		{name: "rule false", mapping: keycloak.MapRule("data.rptguard.rules.owner.is_owner"), user: "bob"},
		{name: "bad ref", mapping: keycloak.MapRule("input.x"), wantErr: keycloak.ErrInvalidSettings},
		{name: "zero mapping", mapping: keycloak.Mapping{}, wantErr: keycloak.ErrInvalidSettings},
	}
	owner := policies.FromModule("owner.rego", "package rptguard.rules.owner\n\nis_owner if input.token.preferred_username == \"alice\"\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := keycloak.Translate(s, keycloak.WithPolicyMapping("Owner", tt.mapping))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			e := engine(t, res, owner, policies.FromModule("expect.rego", expectModule))
			checkGranted(t, e, offlineInput(t, subject{Username: tt.user}, "R", nil), tt.want, tt.name)
		})
	}

	_, err = keycloak.Translate(s, keycloak.WithPolicyMapping("Owner", keycloak.MapDeny()), keycloak.WithPolicyMapping("P", keycloak.MapDeny()))
	require.ErrorIs(t, err, keycloak.ErrInvalidSettings, "only unsupported policies can be mapped")
	_, err = keycloak.Translate(s, keycloak.WithPolicyMapping("Owner", keycloak.MapDeny()), keycloak.WithPolicyMapping("Nope", keycloak.MapDeny()))
	require.ErrorIs(t, err, keycloak.ErrInvalidSettings)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	pol := func(p string) string {
		return `{"resources":[{"name":"R","scopes":[{"name":"s"}]}],"policies":[` + p + `]}`
	}
	tests := []struct {
		name    string
		doc     string
		opts    []keycloak.ParseOption
		policy  string // the policy the error must name
		wantErr error
	}{
		{name: "not json", doc: `{`, wantErr: keycloak.ErrInvalidSettings},
		{name: "not settings", doc: `{"foo":1}`, wantErr: keycloak.ErrInvalidSettings},
		{name: "bad mode", doc: `{"policyEnforcementMode":"LAX"}`, wantErr: keycloak.ErrInvalidSettings},
		{name: "unknown type", doc: pol(`{"name":"X","type":"magic"}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "roles not json", doc: pol(`{"name":"X","type":"role","config":{"roles":"[admin"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "roles missing", doc: pol(`{"name":"X","type":"role","config":{}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "config not string", doc: pol(`{"name":"X","type":"user","config":{"users":["a"]}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "bad logic", doc: pol(`{"name":"X","type":"user","logic":"MAYBE","config":{"users":"[\"a\"]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "bad hour", doc: pol(`{"name":"X","type":"time","config":{"hour":"25"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "bad nbf", doc: pol(`{"name":"X","type":"time","config":{"nbf":"yesterday"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "regex lookahead", doc: pol(`{"name":"X","type":"regex","config":{"targetClaim":"email","pattern":"(?=a)a"}}`), policy: "X", wantErr: keycloak.ErrUnsupportedRegex},
		{name: "regex no pattern", doc: pol(`{"name":"X","type":"regex","config":{"targetClaim":"email"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "unknown resource", doc: pol(`{"name":"X","type":"resource","config":{"resources":"[\"Nope\"]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "unknown scope", doc: pol(`{"name":"X","type":"scope","config":{"scopes":"[\"nope\"]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "unknown applied policy", doc: pol(`{"name":"X","type":"aggregate","config":{"applyPolicies":"[\"Nope\"]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "aggregate cycle", doc: pol(`{"name":"X","type":"aggregate","config":{"applyPolicies":"[\"Y\"]"}},{"name":"Y","type":"aggregate","config":{"applyPolicies":"[\"X\"]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "duplicate name", doc: pol(`{"name":"X","type":"user","config":{"users":"[]"}},{"name":"X","type":"user","config":{"users":"[]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "group without path", doc: pol(`{"name":"X","type":"group","config":{"groups":"[{\"id\":\"123\"}]"}}`), policy: "X", wantErr: keycloak.ErrInvalidSettings},
		{name: "realm ambiguous", doc: `{"realm":"r","clients":[{"clientId":"a","authorizationSettings":{}},{"clientId":"b","authorizationSettings":{}}]}`, wantErr: keycloak.ErrInvalidSettings},
		{name: "realm client missing", doc: `{"realm":"r","clients":[{"clientId":"a","authorizationSettings":{}}]}`, opts: []keycloak.ParseOption{keycloak.WithClientID("b")}, wantErr: keycloak.ErrInvalidSettings},
		{name: "realm client chosen", doc: `{"realm":"r","clients":[{"clientId":"a","authorizationSettings":{}},{"clientId":"b","authorizationSettings":{}}]}`, opts: []keycloak.ParseOption{keycloak.WithClientID("b")}},
		{name: "legacy roles form", doc: pol(`{"name":"X","type":"role","config":{"roles":"[\"admin\"]"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := keycloak.Parse([]byte(tt.doc), tt.opts...)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			if tt.policy != "" {
				var pe *keycloak.PolicyError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.policy, pe.Policy)
				assert.Contains(t, err.Error(), `"`+tt.policy+`"`)
			}
		})
	}
}

func TestRegexJavaToRE2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		value   string
		match   bool
		wantErr bool
	}{
		{name: "full match required", pattern: "abc", value: "xabc", match: false},
		{name: "alternation anchored", pattern: "a|b", value: "ab", match: false},
		{name: "alternation", pattern: "a|b", value: "b", match: true},
		{name: "class", pattern: "[a-z]+@example\\.com", value: "bob@example.com", match: true},
		{name: "lazy ok", pattern: "a+?b", value: "aab", match: true},
		{name: "quoted", pattern: `\Q.*\E`, value: ".*", match: true},
		{name: "backreference", pattern: `(a)\1`, wantErr: true},
		{name: "named backreference", pattern: `(?<x>a)\k<x>`, wantErr: true},
		{name: "lookahead", pattern: `a(?!b)`, wantErr: true},
		{name: "lookbehind", pattern: `(?<=a)b`, wantErr: true},
		{name: "atomic", pattern: `(?>a)`, wantErr: true},
		{name: "possessive", pattern: `a++`, wantErr: true},
		{name: "possessive brace", pattern: `a{2}+`, wantErr: true},
		{name: "intersection", pattern: `[a-z&&[^b]]`, wantErr: true},
		{name: "java property", pattern: `\p{javaLowerCase}`, wantErr: true},
		{name: "end before terminator", pattern: `a\Z`, wantErr: true},
		{name: "comments flag", pattern: `(?x) a`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := `{"resources":[{"name":"R"}],"policies":[{"name":"Rx","type":"regex","config":{"targetClaim":"v","pattern":` +
				jsonString(tt.pattern) + `}},{"name":"P","type":"resource","config":{"resources":"[\"R\"]","applyPolicies":"[\"Rx\"]"}}]}`
			s, err := keycloak.Parse([]byte(doc))
			if tt.wantErr {
				require.ErrorIs(t, err, keycloak.ErrUnsupportedRegex)
				assert.NotContains(t, err.Error(), tt.pattern, "errors never quote the pattern")
				return
			}
			require.NoError(t, err)
			res, err := keycloak.Translate(s)
			require.NoError(t, err)
			e := engine(t, res, policies.FromModule("expect.rego", expectModule))
			var want []string
			if tt.match {
				want = []string{}
			}
			in := offlineInput(t, subject{Username: "u", Claims: map[string]any{"v": tt.value}}, "R", nil)
			checkGranted(t, e, in, want, tt.name)
		})
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

func TestTimePolicy(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	// fixedNow is 2026-03-18 10:30 UTC = 11:30 in Paris (CET).
	tests := []struct {
		name  string
		cfg   string
		loc   *time.Location
		grant bool
	}{
		{name: "hour window utc", cfg: `"hour":"10","hourEnd":"10"`, grant: true},
		{name: "hour window paris", cfg: `"hour":"10","hourEnd":"10"`, loc: paris, grant: false},
		{name: "hour exact paris", cfg: `"hour":"11"`, loc: paris, grant: true},
		{name: "minute", cfg: `"minute":"30"`, grant: true},
		{name: "minute range miss", cfg: `"minute":"0","minuteEnd":"29"`, grant: false},
		{name: "day month year", cfg: `"dayMonth":"18","month":"3","monthEnd":"4","year":"2020","yearEnd":"2030"`, grant: true},
		{name: "wrong day", cfg: `"dayMonth":"17"`, grant: false},
		{name: "nbf past", cfg: `"nbf":"2026-03-18 10:30:00"`, grant: true},
		{name: "nbf future", cfg: `"nbf":"2026-03-18 10:30:01"`, grant: false},
		{name: "nbf date only", cfg: `"nbf":"2026-03-19"`, grant: false},
		{name: "noa inclusive", cfg: `"noa":"2026-03-18 10:30:00"`, grant: true},
		{name: "noa past", cfg: `"noa":"2026-03-18 10:29:59"`, grant: false},
		{name: "nbf in paris", cfg: `"nbf":"2026-03-18 11:00:00"`, loc: paris, grant: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := `{"resources":[{"name":"R"}],"policies":[{"name":"T","type":"time","config":{` + tt.cfg +
				`}},{"name":"P","type":"resource","config":{"resources":"[\"R\"]","applyPolicies":"[\"T\"]"}}]}`
			var opts []keycloak.Option
			if tt.loc != nil {
				opts = append(opts, keycloak.WithTimeZone(tt.loc))
			}
			res := translate(t, []byte(doc), nil, opts...)
			e := engine(t, res, policies.FromModule("expect.rego", expectModule))
			in := offlineInput(t, subject{Username: "u"}, "R", nil)
			// A pushed kc.time.date_time claim must not change anything.
			in.Claims = map[string][]string{"kc.time.date_time": {"2000-01-01 00:00:00"}}
			var want []string
			if tt.grant {
				want = []string{}
			}
			checkGranted(t, e, in, want, tt.name)
		})
	}
	_, err = keycloak.Translate(&keycloak.Settings{}, keycloak.WithTimeZone(time.Local))
	require.ErrorIs(t, err, keycloak.ErrInvalidSettings)
}

func TestPathsAndWarnings(t *testing.T) {
	t.Parallel()
	res := translate(t, readTestdata(t, "rptguard-all-policies-realm.json"), nil)
	require.Len(t, res.Paths, 3, "Archive has no URI")
	assert.Equal(t, keycloak.Path{Name: "Orders", Paths: []string{"/orders/*"}, Scopes: []string{"read", "write", "delete"}, Type: "urn:orders"}, res.Paths[0])
	assert.Equal(t, []string{"/public/*", "/status"}, res.Paths[2].Paths)
	joined := strings.Join(res.Warnings, "\n")
	assert.Contains(t, joined, `"Sales Group"`, "group membership comes from the token")
	assert.Contains(t, joined, `"Alice Only"`, "users matched by username")
}

func TestOfflineNeedsModules(t *testing.T) {
	t.Parallel()
	// Without the generated modules loaded, offline mode grants nothing.
	e, err := policies.New(context.Background())
	require.NoError(t, err)
	in := offlineInput(t, subject{Username: "u", RealmRoles: []string{"user"}}, "R", nil)
	d, err := e.Evaluate(context.Background(), in)
	require.NoError(t, err)
	assert.False(t, d.Allow)
	assert.NotEmpty(t, d.Reasons)
	assert.False(t, errors.Is(err, policies.ErrEvaluation))
}
