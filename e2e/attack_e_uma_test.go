package e2e_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// umaConfig enables the UMA flow (user-managed-access): denials answer 401
// with a permission ticket.
const umaConfig = `{"user-managed-access":{},"paths":[
	{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]},{"method":"DELETE","scopes":["delete"]}]}]}`

// exchangeConfig is Keycloak's default flow: a denied token is exchanged
// server-side for an RPT (permissions-source "uma").
const exchangeConfig = `{"paths":[
	{"path":"/api/orders","name":"Orders","methods":[
		{"method":"GET","scopes":["view"]},{"method":"PUT","scopes":["edit"]},{"method":"DELETE","scopes":["delete"]}]}]}`

var umaChallengeRE = regexp.MustCompile(`^UMA realm="rptguard", ?as_uri="([^"]+)", ?ticket="([^"]+)"$`)

// ticketPermissions decodes a permission ticket's permissions (the ticket
// is a JWT issued by keycloaktest; its payload is read, not verified).
func ticketPermissions(tb testing.TB, ticket string) []map[string]any {
	tb.Helper()
	parts := strings.Split(ticket, ".")
	require.Len(tb, parts, 3)
	raw, err := b64.DecodeString(parts[1])
	require.NoError(tb, err)
	var c struct {
		Permissions []map[string]any `json:"permissions"`
	}
	require.NoError(tb, json.Unmarshal(raw, &c))
	return c.Permissions
}

// TestAttackE_UMAChallenge covers E1 (the challenge and its ticket) and E2
// (permission endpoint failures) with user-managed-access on.
func TestAttackE_UMAChallenge(t *testing.T) {
	t.Parallel()
	t.Run("E1 anonymous request gets a ticket for exactly (R, S)", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, umaConfig)
		for _, tc := range []struct{ method, scope string }{{"GET", "view"}, {"DELETE", "delete"}} {
			r := v.do(t, tc.method, "/api/orders", "")
			check(t, r, 401, chAny)
			m := umaChallengeRE.FindStringSubmatch(r.header.Get("WWW-Authenticate"))
			require.NotNil(t, m, r.header.Get("WWW-Authenticate"))
			assert.Equal(t, v.kc.Issuer(), m[1])
			perms := ticketPermissions(t, m[2])
			require.Len(t, perms, 1)
			assert.Equal(t, v.kc.ResourceID("Orders"), perms[0]["rsid"])
			assert.Equal(t, []any{tc.scope}, perms[0]["scopes"])
		}
	})
	t.Run("E1 token without the permission gets a ticket", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, umaConfig)
		tok := v.kc.AccessToken("alice")
		r := v.do(t, http.MethodGet, "/api/orders", tok)
		check(t, r, 401, chAny, tok)
		require.Regexp(t, umaChallengeRE, r.header.Get("WWW-Authenticate"))
		rptTok := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"))
		check(t, v.do(t, http.MethodGet, "/api/orders", rptTok), 200, chNone, rptTok)
	})
	for _, tt := range []struct {
		name                string
		status              int
		body                string
		hang                bool
		want                int
		ch                  string
		mustNotLeakInternal bool
	}{
		// E2: the ticket cannot be made. A server failure is 503 (the
		// dependency is down), a refusal 403 insufficient_scope
		// (Keycloak's behaviour); no detail of the RS↔AS exchange reaches
		// the client.
		{"E2 permission endpoint 500", 500, `{"error":"server_error","error_description":"db.internal.corp down"}`, false, 503, chNone, true},
		{"E2 permission endpoint 503", 503, `{"error":"temporarily_unavailable"}`, false, 503, chNone, true},
		{"E2 invalid_resource_id", 400, `{"error":"invalid_resource_id","error_description":"db.internal.corp"}`, false, 403, chInsufficient, true},
		{"E2 invalid_scope", 400, `{"error":"invalid_scope","error_description":"db.internal.corp"}`, false, 403, chInsufficient, true},
		{"E2 permission endpoint hangs", 0, "", true, 503, chNone, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := umaConfig
			if tt.hang {
				doc = strings.Replace(umaConfig, `{"user-managed-access"`, `{"socket-timeout-millis":3000,"user-managed-access"`, 1)
			}
			v := newEnv(t, doc)
			if tt.hang {
				v.kc.Hang(keycloaktest.EndpointPermission)
			} else {
				v.kc.Respond(keycloaktest.EndpointPermission, tt.status, "application/json", tt.body)
			}
			r := v.do(t, http.MethodGet, "/api/orders", "")
			check(t, r, tt.want, tt.ch, "db.internal.corp")
			v.kc.Heal("")
		})
	}
}

// TestAttackE_Permissions covers E3–E7 and E10 with the token's own
// permissions, and E8, E9, E11 with the server-side RPT exchange.
func TestAttackE_Permissions(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF)
	kc := v.kc
	past := v.now().Add(-time.Minute)
	tests := []struct {
		id, name, method, path string
		token                  string
		want                   int
		ch                     string
	}{
		{"control", "permission and scope", "GET", "/api/orders", kc.IssueRPT("alice", perm(kc, "Orders", "view")), 200, chNone},
		{"E3", "RPT for another resource", "GET", "/api/orders", kc.IssueRPT("alice", perm(kc, "Admin", "view")), 403, chInsufficient},
		{"E3", "RPT for an instance of another resource", "GET", "/api/7", kc.IssueRPT("alice", perm(kc, "Orders", "view")), 403, chInsufficient},
		{"E4", "scope missing for DELETE", "DELETE", "/api/orders", kc.IssueRPT("alice", perm(kc, "Orders", "view")), 403, chInsufficient},
		{"E4", "scope present for DELETE", "DELETE", "/api/orders", kc.IssueRPT("alice", perm(kc, "Orders", "delete")), 200, chNone},
		{"E5", "RPT for another resource server", "GET", "/api/orders", kc.AccessToken("alice", keycloaktest.WithAudience("other-rs"),
			keycloaktest.WithClaim("authorization", map[string]any{"permissions": []any{map[string]any{"rsid": kc.ResourceID("Orders"), "scopes": []string{"view"}}}})), 401, chInvalidToken},
		{"E6", "permission's own exp passed", "GET", "/api/orders", kc.IssueRPT("alice", rpt.Permission{
			ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"view"}, ExpiresAt: past}), 403, chInsufficient},
		{"E7", "name matches, id differs", "GET", "/api/orders", kc.IssueRPT("alice", rpt.Permission{
			ResourceID: "not-the-orders-id", ResourceName: "Orders", Scopes: []string{"view"}}), 403, chInsufficient},
		{"E7", "name differs, id matches", "GET", "/api/orders", kc.IssueRPT("alice", rpt.Permission{
			ResourceID: kc.ResourceID("Orders"), ResourceName: "Renamed", Scopes: []string{"view"}}), 200, chNone},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, v.do(t, tt.method, tt.path, tt.token), tt.want, tt.ch, tt.token)
		})
	}

	t.Run("E8 E9 exchange bound to token, resource and scopes", func(t *testing.T) {
		t.Parallel()
		w := newEnv(t, exchangeConfig)
		bob := w.kc.AccessToken("bob")
		w.kc.ResetCounters()
		check(t, w.do(t, "GET", "/api/orders", bob), 200, chNone, bob)
		check(t, w.do(t, "GET", "/api/orders", bob), 200, chNone, bob)
		assert.Equal(t, 1, w.kc.Requests(keycloaktest.EndpointToken), "one exchange for (token, Orders, view)")
		last := w.kc.LastRequest(keycloaktest.EndpointToken)
		require.NotNil(t, last)
		// E9: the enforcer never asks for an upgrade of a previous RPT
		// (no rpt parameter): each exchanged RPT is used alone.
		assert.Empty(t, last.Form.Get("rpt"))
		assert.Equal(t, bob, last.Form.Get("subject_token"), "identity comes from the verified token only (E10)")
		check(t, w.do(t, "PUT", "/api/orders", bob), 200, chNone, bob)
		assert.Equal(t, 2, w.kc.Requests(keycloaktest.EndpointToken), "other scopes: a new exchange")
		check(t, w.do(t, "DELETE", "/api/orders", bob), 403, chInsufficient, bob)
		alice := w.kc.AccessToken("alice")
		check(t, w.do(t, "GET", "/api/orders", alice), 403, chInsufficient, alice)
	})
	for _, tt := range []struct {
		name, body string
		status     int
		want       int
		ch         string
	}{
		{"E11 request_submitted", `{"error":"access_denied","error_description":"request_submitted"}`, 403, 403, chInsufficient},
		{"E11 request_denied", `{"error":"access_denied","error_description":"request_denied db.internal.corp"}`, 403, 403, chInsufficient},
		{"E11 need_info", `{"error":"need_info","ticket":"t","required_claims":[{"name":"db.internal.corp"}]}`, 403, 403, chInsufficient},
		{"E11 invalid_grant", `{"error":"invalid_grant","error_description":"db.internal.corp"}`, 400, 403, chInsufficient},
		{"E2 token endpoint 500", `{"error":"server_error","error_description":"db.internal.corp"}`, 500, 503, chNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newEnv(t, exchangeConfig)
			bob := w.kc.AccessToken("bob")
			w.kc.ResetCounters()
			w.kc.Respond(keycloaktest.EndpointToken, tt.status, "application/json", tt.body)
			check(t, w.do(t, "GET", "/api/orders", bob), tt.want, tt.ch, bob, "db.internal.corp")
			// No retry loop: at most one call (PAT already cached) plus one
			// PAT refresh if the PAT was requested through the same
			// endpoint.
			assert.LessOrEqual(t, w.kc.Requests(keycloaktest.EndpointToken), 2)
		})
	}
	t.Run("E10 pushed claims are capped", func(t *testing.T) {
		t.Parallel()
		w := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","claim-information-point":{"claims":{
			"amount":"{request.header['X-Amount']}"}}}]}`)
		bob := w.kc.AccessToken("bob")
		check(t, w.do(t, "GET", "/api/orders", bob, "X-Amount", strings.Repeat("9", 20<<10)), 400, chNone, bob)
		check(t, w.do(t, "GET", "/api/orders", bob, "X-Amount", "\xff\xfe"), 400, chNone, bob)
		check(t, w.do(t, "GET", "/api/orders", bob, "X-Amount", "5"), 200, chNone, bob)
	})
}

// TestAttackE_LazyLoad: E12 — lazily loaded paths are canonicalized before
// the server lookup and before the cache key, so mutated forms of one path
// share one lookup; an ambiguous form is refused before any lookup.
func TestAttackE_LazyLoad(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"lazy-load-paths":true,"rptguard":{"permissions-source":"token"}}`,
		withKC(keycloaktest.WithResource(keycloaktest.Resource{Name: "Lazy", URIs: []string{"/lazy/x"}, Scopes: []string{"view"}})))
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Lazy"))
	v.kc.ResetCounters()
	check(t, v.do(t, http.MethodGet, "/lazy/x", tok), 200, chNone, tok)
	lookups := v.kc.Requests(keycloaktest.EndpointResourceSet)
	require.Positive(t, lookups)
	for _, p := range []string{"/lazy/x/", "/lazy/%78"} {
		r := v.raw(t, "GET "+p+" HTTP/1.1", "Authorization: Bearer "+tok)
		check(t, r, 200, chNone, tok)
		assert.Equal(t, "/lazy/x", r.path, "the handler sees the canonical path")
	}
	check(t, v.raw(t, "GET /lazy/x;a=b HTTP/1.1", "Authorization: Bearer "+tok), 400, chNone, tok)
	assert.Equal(t, lookups, v.kc.Requests(keycloaktest.EndpointResourceSet), "mutated paths reuse the canonical cache entry")
	other := v.kc.IssueRPT("bob", perm(v.kc, "Orders", "view"))
	check(t, v.do(t, http.MethodGet, "/lazy/x", other), 403, chInsufficient, other)
}
