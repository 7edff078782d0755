package e2e_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
)

// groupBConfig is the (f) fixture plus a 60 s leeway (B3, B4) and a path
// whose Rego rule needs the realm role admin (B21).
const groupBConfig = `{"paths":[
	{"path":"/admin/*","name":"Admin"},
	{"path":"/staff/*","name":"Admin","rptguard":{"decision-rule":"rules.admin_role"}}],
	"rptguard":{"permissions-source":"token","leeway":"60s"}}`

const adminRoleRule = `package rptguard.rules

import data.rptguard.keycloak

admin_role if keycloak.has_realm_role("admin")
`

// TestAttackB_Claims runs security.md (b) end to end. Every token is signed
// with the realm's key (or the test's own published key when the payload
// must be exact bytes), so the signature is good and only the claims are
// wrong. The clock is fixed and shared with the authorization server.
func TestAttackB_Claims(t *testing.T) {
	t.Parallel()
	own := ownRSA(t)
	v := newEnv(t, groupBConfig, withExtraKeys(own.jwk(t, nil)),
		withOpts(enforcer.WithPolicies(policies.FromModule("admin_role.rego", adminRoleRule))))
	kc := v.kc
	now := v.now().Unix()
	other := newKC(t, nil, keycloaktest.WithRealm("other")) // another realm, another key

	signed := func(kv ...any) func(testing.TB) string {
		return func(testing.TB) string { return kc.SignToken(v.with(kv...)) }
	}
	exact := func(payload func(testing.TB) string) func(testing.TB) string {
		return func(tb testing.TB) string { return own.token(tb, own.header(""), payload(tb)) }
	}
	extra := func(members string) func(testing.TB) string {
		return exact(func(tb testing.TB) string { return v.payloadJSON(tb, members) })
	}
	literal := func(payload string) func(testing.TB) string {
		return exact(func(testing.TB) string { return payload })
	}
	perms := func(p any) map[string]any { return map[string]any{"permissions": p} }
	adminID := kc.ResourceID("Admin")
	many := make([]any, 1001)
	for i := range many {
		many[i] = 0
	}

	tests := []struct {
		id, name, path string
		token          func(testing.TB) string
		want           int
		ch             string
	}{
		{"control", "valid claims", "/admin/x", signed(), 200, chNone},
		{"control", "byte-built payload", "/admin/x", extra(""), 200, chNone},
		{"B1", "exp past beyond leeway", "/admin/x", signed("iat", now-120, "exp", now-61), 401, chInvalidToken},
		{"B2", "exp missing", "/admin/x", signed("exp", deleteClaim), 401, chInvalidToken},
		{"B3", "exp = now - leeway", "/admin/x", signed("iat", now-120, "exp", now-60), 401, chInvalidToken},
		{"B3", "exp = now - leeway + 1 s", "/admin/x", signed("iat", now-120, "exp", now-59), 200, chNone},
		{"B3", "exp = now - leeway - 1 s", "/admin/x", signed("iat", now-120, "exp", now-61), 401, chInvalidToken},
		{"B4", "nbf 100 s ahead, 60 s leeway", "/admin/x", signed("nbf", now+100), 401, chInvalidToken},
		{"B4", "nbf 30 s ahead, 60 s leeway", "/admin/x", signed("nbf", now+30), 200, chNone},
		{"B5", "iat 1 h ahead", "/admin/x", signed("iat", now+3600, "exp", now+3900), 401, chInvalidToken},
		{"B5", "iat missing", "/admin/x", signed("iat", deleteClaim), 401, chInvalidToken},
		// B5 "older than the configured maximum age": the enforcer's
		// configuration has no maximum token age (rpt.ClaimRules.MaxAge
		// is not exposed in enforcer.Settings), so only the lifetime cap
		// (B20) bounds old tokens: a 23 h old token valid for 24 h passes.
		{"B5", "iat 23 h old, no max age configurable", "/admin/x", signed("iat", now-23*3600, "exp", now+3600), 200, chNone},
		{"B6", "exp a string", "/admin/x", signed("exp", "1700000000"), 401, chInvalidToken},
		{"B6", "exp true", "/admin/x", signed("exp", true), 401, chInvalidToken},
		{"B6", "exp null", "/admin/x", signed("exp", nil), 401, chInvalidToken},
		{"B6", "exp an array", "/admin/x", signed("exp", []int64{now + 60}), 401, chInvalidToken},
		{"B6", "exp an object", "/admin/x", signed("exp", map[string]any{}), 401, chInvalidToken},
		{"B6", "exp -1", "/admin/x", signed("exp", -1), 401, chInvalidToken},
		{"B6", "exp 0", "/admin/x", signed("exp", 0), 401, chInvalidToken},
		{"B7", "exp 1e300", "/admin/x", signed("exp", 1e300), 401, chInvalidToken},
		{"B7", "exp max int64", "/admin/x", signed("exp", int64(9223372036854775807)), 401, chInvalidToken},
		{"B7", "exp year 10000", "/admin/x", signed("exp", int64(253402300800)), 401, chInvalidToken},
		{"B8", "aud missing", "/admin/x", signed("aud", deleteClaim), 401, chInvalidToken},
		{"B9", "aud another client", "/admin/x", signed("aud", "other-client"), 401, chInvalidToken},
		{"B9", "aud only account", "/admin/x", signed("aud", "account"), 401, chInvalidToken},
		{"B10", "aud array holding ours", "/admin/x", signed("aud", []string{"account", clientID}), 200, chNone},
		{"B10", "aud [1]", "/admin/x", signed("aud", []int{1}), 401, chInvalidToken},
		{"B10", `aud [""]`, "/admin/x", signed("aud", []string{""}), 401, chInvalidToken},
		{"B10", `aud ""`, "/admin/x", signed("aud", ""), 401, chInvalidToken},
		{"B10", `aud [["svc"]]`, "/admin/x", signed("aud", [][]string{{clientID}}), 401, chInvalidToken},
		// B11: the enforcer's configuration has no azp allow-list
		// (rpt.ClaimRules.AllowedAuthorizedParties is not exposed in
		// enforcer.Settings, and Keycloak's adapter has none either), so
		// azp is not checked: the audience check is what binds the token
		// to this resource server.
		{"B11", "azp another client, no allow-list configurable", "/admin/x", signed("azp", "other-client"), 200, chNone},
		{"B11", "azp missing, several aud", "/admin/x", signed("azp", deleteClaim, "aud", []string{clientID, "account"}), 200, chNone},
		{"B12", "iss another realm", "/admin/x", signed("iss", kc.URL()+"/realms/other"), 401, chInvalidToken},
		{"B12", "iss https instead of http", "/admin/x", signed("iss", strings.Replace(kc.Issuer(), "http://", "https://", 1)), 401, chInvalidToken},
		{"B12", "iss trailing slash", "/admin/x", signed("iss", kc.Issuer()+"/"), 401, chInvalidToken},
		{"B12", "iss different case", "/admin/x", signed("iss", strings.Replace(kc.Issuer(), "/realms/", "/Realms/", 1)), 401, chInvalidToken},
		{"B13", "token of another realm (another key)", "/admin/x", func(testing.TB) string {
			c := v.claims()
			c["iss"] = other.Issuer()
			return other.SignToken(c)
		}, 401, chInvalidToken},
		{"B13", "another realm's token naming our kid", "/admin/x", func(testing.TB) string {
			return other.SignToken(v.claims(), keycloaktest.WithKeyID(kc.SigningKeyID()))
		}, 401, chInvalidToken},
		{"B14", "typ ID", "/admin/x", signed("typ", "ID"), 401, chInvalidToken},
		{"B14", "typ Refresh", "/admin/x", signed("typ", "Refresh"), 401, chInvalidToken},
		{"B14", "typ Logout", "/admin/x", signed("typ", "Logout"), 401, chInvalidToken},
		{"B14", "typ Offline", "/admin/x", signed("typ", "Offline"), 401, chInvalidToken},
		{"B14", "typ missing", "/admin/x", signed("typ", deleteClaim), 401, chInvalidToken},
		{"B15", "ID token for this very client", "/admin/x", signed("typ", "ID", "aud", clientID, "azp", clientID), 401, chInvalidToken},
		{"B16", "permissions not an array", "/admin/x", signed("authorization", perms("x")), 403, chInsufficient},
		{"B16", "rsid a number", "/admin/x", signed("authorization", perms([]any{map[string]any{"rsid": 7}})), 403, chInsufficient},
		{"B16", "scopes a string", "/admin/x", signed("authorization", perms([]any{map[string]any{"rsid": adminID, "scopes": "view"}})), 403, chInsufficient},
		{"B16", "null entries", "/admin/x", signed("authorization", perms([]any{nil, nil})), 403, chInsufficient},
		{"B16", "authorization not an object", "/admin/x", signed("authorization", "all"), 403, chInsufficient},
		{"B16", "1001 entries (over the cap)", "/admin/x", signed("authorization", perms(many)), 401, chInvalidToken},
		{"B17", "duplicate aud", "/admin/x", extra(`,"aud":"evil"`), 401, chInvalidToken},
		{"B17", "case-variant AUD", "/admin/x", extra(`,"AUD":"evil"`), 401, chInvalidToken},
		{"B17", "duplicate exp", "/admin/x", extra(`,"exp":9999999999`), 401, chInvalidToken},
		{"B17", "duplicate alg in the header", "/admin/x", func(tb testing.TB) string {
			return own.token(tb, `{"alg":"RS256","alg":"none","typ":"JWT","kid":"e2e-rsa"}`, v.payloadJSON(tb, ""))
		}, 401, chInvalidToken},
		{"B18", "payload invalid UTF-8", "/admin/x", extra(`,"x":"` + "\xff\xfe" + `"`), 401, chInvalidToken},
		{"B18", "payload with a BOM", "/admin/x", exact(func(tb testing.TB) string { return "\uFEFF" + v.payloadJSON(tb, "") }), 401, chInvalidToken},
		{"B18", "payload []", "/admin/x", literal(`[]`), 401, chInvalidToken},
		{"B18", "payload null", "/admin/x", literal(`null`), 401, chInvalidToken},
		{"B18", `payload "s"`, "/admin/x", literal(`"s"`), 401, chInvalidToken},
		{"B18", "payload 1", "/admin/x", literal(`1`), 401, chInvalidToken},
		{"B19", "sub missing", "/admin/x", signed("sub", deleteClaim), 401, chInvalidToken},
		{"B19", "sub empty", "/admin/x", signed("sub", ""), 401, chInvalidToken},
		{"B20", "lifetime 25 h", "/admin/x", signed("iat", now-3600, "exp", now+24*3600), 401, chInvalidToken},
		{"B21", "control: realm role admin", "/staff/x", signed("realm_access", map[string]any{"roles": []string{"admin"}}), 200, chNone},
		{"B21", "realm_access.roles a string", "/staff/x", signed("realm_access", map[string]any{"roles": "admin"}), 403, chInsufficient},
		{"B21", "realm_access an array", "/staff/x", signed("realm_access", []string{"admin"}), 403, chInsufficient},
		{"B21", "resource_access a number", "/admin/x", signed("resource_access", 7), 200, chNone},
		{"B21", "scope an object", "/admin/x", signed("scope", map[string]any{"admin": true}), 200, chNone},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			tok := tt.token(t)
			require.NotEmpty(t, tok)
			check(t, v.do(t, http.MethodGet, tt.path, tok), tt.want, tt.ch, tok)
		})
	}
}

// TestAttackB_NoLeeway: B3 without leeway (the enforcer's default):
// exp == now is expired (RFC 7519 §4.1.4 "MUST be before"), and a leeway
// above 300 s is a configuration error.
func TestAttackB_NoLeeway(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF)
	now := v.now().Unix()
	for _, tt := range []struct {
		name string
		exp  int64
		want int
	}{
		{"exp == now", now, 401},
		{"exp == now + 1 s", now + 1, 200},
		{"exp == now - 1 s", now - 1, 401},
	} {
		t.Run("B3 "+tt.name, func(t *testing.T) {
			t.Parallel()
			tok := v.kc.SignToken(v.with("exp", tt.exp))
			ch := chNone
			if tt.want == 401 {
				ch = chInvalidToken
			}
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), tt.want, ch, tok)
		})
	}
	t.Run("B3 leeway above 300 s is refused", func(t *testing.T) {
		t.Parallel()
		_, err := enforcer.ParseConfig([]byte(`{"rptguard":{"leeway":"301s"}}`))
		require.True(t, errors.Is(err, enforcer.ErrInvalidConfig), "%v", err)
	})
	t.Run("B4 nbf 1 s ahead without leeway", func(t *testing.T) {
		t.Parallel()
		tok := v.kc.SignToken(v.with("nbf", now+1))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
	})
	t.Run("B1 token expires while cached", func(t *testing.T) {
		// Not parallel with the clock change below: it runs alone in its
		// own environment.
		w := newEnv(t, fixtureF)
		tok := w.kc.SignToken(w.with("exp", w.now().Add(30*time.Second).Unix()))
		check(t, w.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		w.clock.Advance(30 * time.Second)
		check(t, w.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
	})
}
