package enforcer_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// shopServer is the realm most tests use: resources owned by the resource
// server and a grant table for the server-side UMA exchange.
func shopServer() []keycloaktest.Option {
	return []keycloaktest.Option{
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/api/orders"}, Scopes: []string{"view", "edit", "delete"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Admin", URIs: []string{"/admin/*"}, Scopes: []string{"view"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Items", URIs: []string{"/api/{id}"}, Scopes: []string{"view"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Verbs", URIs: []string{"/verbs"}, Scopes: []string{"GET", "POST", "PUT", "DELETE"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders", Scopes: []string{"view", "edit"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Admin"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Items"}),
	}
}

func perm(kc *keycloaktest.Server, name string, scopes ...string) rpt.Permission {
	return rpt.Permission{ResourceID: kc.ResourceID(name), ResourceName: name, Scopes: scopes}
}

// TestEnforcementModes covers SPEC §3.2 steps 1–5 for global and per-path
// modes, anonymous and authenticated.
func TestEnforcementModes(t *testing.T) {
	t.Parallel()
	const paths = `"paths":[
		{"path":"/api/orders","name":"Orders"},
		{"path":"/public/*","enforcement-mode":"DISABLED"},
		{"path":"/lenient","name":"Items","enforcement-mode":"PERMISSIVE"}]`
	tests := []struct {
		name, mode, path string
		token            string // "", "none" (no perms), "orders", "items", "bad"
		want             int
		wantReason       string
	}{
		{"enforcing anon mapped", "ENFORCING", "/api/orders", "", 401, "no_token"},
		{"enforcing anon unmapped", "ENFORCING", "/nowhere", "", 403, ""},
		{"enforcing auth unmapped", "ENFORCING", "/nowhere", "none", 403, ""},
		{"enforcing granted", "ENFORCING", "/api/orders", "orders", 200, ""},
		{"enforcing no permission", "ENFORCING", "/api/orders", "items", 403, ""},
		{"enforcing bad token", "ENFORCING", "/api/orders", "bad", 401, ""},
		{"disabled path anon", "ENFORCING", "/public/x", "", 200, ""},
		{"disabled path bad token", "ENFORCING", "/public/x", "bad", 401, ""},
		{"path permissive no perm for resource", "ENFORCING", "/lenient", "orders", 200, ""},
		{"path permissive perm for resource lacks nothing", "ENFORCING", "/lenient", "items", 200, ""},
		{"path permissive anon", "ENFORCING", "/lenient", "", 401, ""},
		{"permissive auth unmapped", "PERMISSIVE", "/nowhere", "none", 200, ""},
		{"permissive anon unmapped", "PERMISSIVE", "/nowhere", "", 403, ""},
		{"permissive mapped still enforced", "PERMISSIVE", "/api/orders", "items", 403, ""},
		{"disabled anon", "DISABLED", "/api/orders", "", 200, ""},
		{"disabled bad token", "DISABLED", "/nowhere", "bad", 200, ""},
	}
	envs := map[string]*env{}
	for _, m := range []string{"ENFORCING", "PERMISSIVE", "DISABLED"} {
		envs[m] = newEnv(t, fmt.Sprintf(`{"enforcement-mode":%q,%s,"rptguard":{"permissions-source":"token"}}`, m, paths), shopServer())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := envs[tt.mode]
			tok := ""
			switch tt.token {
			case "none":
				tok = v.kc.AccessToken("alice")
			case "orders":
				tok = v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"))
			case "items":
				tok = v.kc.IssueRPT("alice", perm(v.kc, "Items", "view"))
			case "bad":
				tok = v.kc.AccessToken("alice", keycloaktest.WithAudience("someone-else"))
			}
			r := v.do(t, http.MethodGet, tt.path, tok)
			assert.Equal(t, tt.want, r.status, r.body)
			if r.status == 200 {
				assert.True(t, strings.HasPrefix(r.body, "ok "), r.body)
			}
		})
	}
}

// TestScopesEnforcement covers ALL / ANY / DISABLED (SPEC §1.4, §3.3) and
// http-method-as-scope, with permissions taken from the token only.
func TestScopesEnforcement(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[
		{"method":"GET","scopes":["view","edit"],"scopes-enforcement-mode":"ALL"},
		{"method":"POST","scopes":["view","edit"],"scopes-enforcement-mode":"ANY"},
		{"method":"DELETE","scopes":["delete"],"scopes-enforcement-mode":"DISABLED"}]}],
		"rptguard":{"permissions-source":"token"}}`, shopServer())
	tests := []struct {
		name, method string
		scopes       []string
		want         int
	}{
		{"ALL satisfied", "GET", []string{"view", "edit"}, 200},
		{"ALL partial", "GET", []string{"view"}, 403},
		{"ALL resource-level permission", "GET", nil, 200},
		{"ANY one", "POST", []string{"edit"}, 200},
		{"ANY none", "POST", []string{"delete"}, 403},
		{"DISABLED granted after failure", "DELETE", []string{"view"}, 200},
		{"implicit ANY with path scopes (none configured)", "PUT", []string{"view"}, 200},
		{"HEAD authorized as GET", "HEAD", []string{"view", "edit"}, 200},
		{"HEAD as GET partial", "HEAD", []string{"view"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders", tt.scopes...))
			r := v.do(t, tt.method, "/api/orders", tok)
			assert.Equal(t, tt.want, r.status)
		})
	}
}

// TestMatchHTTPVerbsToScopes mirrors Keycloak's PolicyEnforcerTest
// testMatchHttpVerbsToScopes: with http-method-as-scope, each method needs
// the scope of its name.
func TestMatchHTTPVerbsToScopes(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"http-method-as-scope":true,"paths":[{"path":"/verbs","name":"Verbs"}],
		"rptguard":{"permissions-source":"token"}}`, shopServer())
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Verbs", "GET", "PUT"))
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "PUT": 200, "POST": 403, "DELETE": 403, "PATCH": 403} {
		r := v.do(t, method, "/verbs", tok)
		assert.Equal(t, want, r.status, method)
	}
	// An explicit method config wins over the method-as-scope rule.
	v2 := newEnv(t, `{"http-method-as-scope":true,"paths":[{"path":"/verbs","name":"Verbs",
		"methods":[{"method":"POST","scopes":["PUT"]}]}],"rptguard":{"permissions-source":"token"}}`, shopServer())
	tok2 := v2.kc.IssueRPT("alice", perm(v2.kc, "Verbs", "PUT"))
	assert.Equal(t, 200, v2.do(t, "POST", "/verbs", tok2).status)
	assert.Equal(t, 403, v2.do(t, "DELETE", "/verbs", tok2).status)
}

var umaRE = regexp.MustCompile(`^UMA realm="rptguard",as_uri="([^"]+)",ticket="([A-Za-z0-9._-]+)"$`)

// TestUMAChallenge covers user-managed-access (SPEC §3.6, security E1, E2).
func TestUMAChallenge(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"user-managed-access":{},"paths":[{"path":"/api/orders","name":"Orders",
		"methods":[{"method":"GET","scopes":["view"]}]}]}`, shopServer())
	check := func(t *testing.T, r resp) {
		t.Helper()
		require.Equal(t, 401, r.status)
		m := umaRE.FindStringSubmatch(r.header.Get("WWW-Authenticate"))
		require.NotNil(t, m, r.header.Get("WWW-Authenticate"))
		assert.Equal(t, v.kc.Issuer(), m[1])
		// E1: the ticket covers exactly (R, S).
		last := v.kc.LastRequest(keycloaktest.EndpointPermission)
		require.NotNil(t, last)
		assert.JSONEq(t, fmt.Sprintf(`[{"resource_id":%q,"resource_scopes":["view"]}]`, v.kc.ResourceID("Orders")), string(last.Body))
	}
	t.Run("anonymous", func(t *testing.T) { check(t, v.do(t, "GET", "/api/orders", "")) })
	t.Run("no permission", func(t *testing.T) {
		before := v.kc.Requests(keycloaktest.EndpointToken)
		check(t, v.do(t, "GET", "/api/orders", v.kc.AccessToken("bob")))
		assert.Equal(t, before, v.kc.Requests(keycloaktest.EndpointToken), "UMA mode never fetches an RPT")
	})
	t.Run("granted by RPT", func(t *testing.T) {
		assert.Equal(t, 200, v.do(t, "GET", "/api/orders", v.kc.IssueRPT("bob", perm(v.kc, "Orders", "view"))).status)
	})
}

func TestUMAChallengeTicketFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		status int
		want   int
	}{{"5xx", 500, 503}, {"invalid_resource_id", 400, 403}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, `{"user-managed-access":{},"paths":[{"path":"/api/orders","name":"Orders"}]}`, shopServer())
			v.kc.Fail(keycloaktest.EndpointPermission, tt.status)
			r := v.do(t, "GET", "/api/orders", v.kc.AccessToken("alice"))
			assert.Equal(t, tt.want, r.status)
			assert.NotContains(t, r.body, "resource") // E2/I8: no detail
			if tt.want == 503 {
				assert.NotEmpty(t, r.header.Get("Retry-After"))
			}
		})
	}
}

// TestServerSideExchange covers Keycloak's default: the enforcer exchanges
// the caller's token for an RPT (SPEC §3.5), cached per token and request.
func TestServerSideExchange(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[
		{"method":"GET","scopes":["view"]},{"method":"DELETE","scopes":["delete"]},
		{"method":"PATCH","scopes":["delete"],"scopes-enforcement-mode":"DISABLED"}]}]}`, shopServer())
	bob := v.kc.AccessToken("bob")
	r := v.do(t, "GET", "/api/orders", bob)
	require.Equal(t, 200, r.status, r.body)
	form := v.kc.LastRequest(keycloaktest.EndpointToken).Form
	assert.Equal(t, "urn:ietf:params:oauth:grant-type:uma-ticket", form.Get("grant_type"))
	assert.Equal(t, v.kc.ResourceID("Orders")+"#view", form.Get("permission"))
	assert.Equal(t, bob, form.Get("subject_token"))
	n := v.kc.Requests(keycloaktest.EndpointToken)
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", bob).status)
	assert.Equal(t, n, v.kc.Requests(keycloaktest.EndpointToken), "the RPT is cached")

	assert.Equal(t, 403, v.do(t, "DELETE", "/api/orders", bob).status, "grant table lacks delete")
	assert.Equal(t, 403, v.do(t, "GET", "/api/orders", v.kc.AccessToken("alice")).status)
	assert.Equal(t, 200, v.do(t, "PATCH", "/api/orders", v.kc.AccessToken("alice")).status, "DISABLED granted after the exchange failed")

	v.kc.Fail(keycloaktest.EndpointToken, 503)
	carol := v.kc.AccessToken("carol")
	r = v.do(t, "GET", "/api/orders", carol)
	assert.Equal(t, 503, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

// TestOnDenyRedirect covers on-deny-redirect-to and CVE-2026-9800 (F18, I7).
func TestOnDenyRedirect(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"on-deny-redirect-to":"/access-denied","paths":[{"path":"/admin/*","name":"Admin"}],
		"rptguard":{"permissions-source":"token"}}`, shopServer())
	tests := []struct {
		name, target string
		want         int
	}{
		{"deny page itself", "/access-denied", 200},
		{"deny page trailing slash (canonical equal)", "/access-denied/", 200},
		{"unmapped redirects", "/elsewhere", 302},
		{"substring in path", "/x/access-denied", 302},
		{"in query", "/admin?r=/access-denied", 401},
		{"in query of unmapped", "/zzz?r=/access-denied", 302},
		{"dot segments", "/admin/access-denied/../x", 400},
		{"encoded", "/access%2Ddenied", 200},
		{"prefix", "/access-denied-x", 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest("GET", v.srv.URL+tt.target, nil)
			require.NoError(t, err)
			cl := *v.srv.Client()
			cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := cl.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, tt.want, res.StatusCode)
			if tt.want == 302 {
				assert.Equal(t, "/access-denied", res.Header.Get("Location"))
			}
		})
	}
}

// TestAdapterTable runs SPEC §2.5's adapter test app table through the
// middleware: the handler reports the template the request was granted on.
func TestAdapterTable(t *testing.T) {
	t.Parallel()
	templates := []string{
		"/resource/{pattern}/{sub-resource}", "/{pattern}/resource-a", "/resource-c",
		"/a/{pattern}/resource-d", "/resource/{pattern}", "/resource/{pattern}/f/{resource}", "/resource",
		"/file/*.suffix", "/resource/{pattern}/i/{resource}/*", "/api/{version}/{resource}",
		"/keycloak-6623/*", "/keycloak-6623/sub-resource/*", "/keycloak-7148/{id}/*",
		"/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix", "/keycloak-7269/sub-resource2/*",
		"/keycloak-8823/resource/{version}/subresource/{id}/{other}",
		"/keycloak-8823/resource/{version}/subresource/{id}/entities",
		"/keycloak_json_uri",
	}
	var paths []string
	var perms []rpt.Permission
	for i, tp := range templates {
		id := fmt.Sprintf("res-%d", i)
		paths = append(paths, fmt.Sprintf(`{"path":%q,"id":%q}`, tp, id))
		perms = append(perms, rpt.Permission{ResourceID: id})
	}
	kc := keycloaktest.New(t)
	cfg := parseConfig(t, kc, `{"paths":[`+strings.Join(paths, ",")+`],"rptguard":{"permissions-source":"token"}}`)
	e, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	h := e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ac, _ := enforcer.FromContext(r.Context())
		fmt.Fprint(w, ac.Template())
	}))
	tok := kc.IssueRPT("alice", perms...)
	tests := []struct{ path, want string }{
		{"/resource/a/b", "/resource/{pattern}/{sub-resource}"},
		{"/a/resource-a", "/{pattern}/resource-a"},
		{"/b/resource-a", "/{pattern}/resource-a"},
		{"/resource-c", "/resource-c"},
		{"/a/b/resource-d", "/a/{pattern}/resource-d"},
		{"/resource/b/resource-d", "/resource/{pattern}/{sub-resource}"},
		{"/resource/a", "/resource/{pattern}"},
		{"/resource/a/f/b", "/resource/{pattern}/f/{resource}"},
		{"/resource", "/resource"},
		{"/file/x.suffix", "/file/*.suffix"},
		{"/resource/a/i/b/c/d/e", "/resource/{pattern}/i/{resource}/*"},
		{"/resource/a/i/b/c/", "/resource/{pattern}/i/{resource}/*"},
		{"/api/v1/resource-a", "/api/{version}/{resource}"},
		{"/api/v1", ""}, {"/api/v1/", ""}, {"/api", ""}, {"/api/", ""},
		{"/keycloak-6623", "/keycloak-6623/*"},
		{"/keycloak-6623/sub-resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-6623/sub-resource/resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-7148/1", "/keycloak-7148/{id}/*"},
		{"/keycloak-7148/1/sub-a/2/sub-b", "/keycloak-7148/{id}/*"},
		{"/keycloak-7269/sub-resource1/whatever/specialSuffix", "/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix"},
		{"/keycloak-7269/sub-resource2/w/h/a/t", "/keycloak-7269/sub-resource2/*"},
		{"/keycloak-8823/resource/v1/subresource/123/entities", "/keycloak-8823/resource/{version}/subresource/{id}/entities"},
		{"/keycloak-8823/resource/v1/subresource/123/someother", "/keycloak-8823/resource/{version}/subresource/{id}/{other}"},
		{"/realm_uri", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", tt.path, nil)
		req.RequestURI = tt.path
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if tt.want == "" {
			assert.Equal(t, 403, rec.Code, tt.path)
			continue
		}
		assert.Equal(t, 200, rec.Code, tt.path)
		assert.Equal(t, tt.want, rec.Body.String(), tt.path)
	}
}

// TestLazyLoading covers lazy-load-paths with the path cache (SPEC §2.6,
// §2.7; security E12, G7).
func TestLazyLoading(t *testing.T) {
	t.Parallel()
	opts := shopServer()
	for i := range 20 {
		opts = append(opts, keycloaktest.WithResource(keycloaktest.Resource{Name: fmt.Sprintf("R%d", i), URIs: []string{fmt.Sprintf("/r/%d", i)}}))
	}
	v := newEnv(t, `{"lazy-load-paths":true,"path-cache":{"max-entries":5,"lifespan":30000},
		"rptguard":{"permissions-source":"token"}}`, opts)
	tok := v.kc.IssueRPT("alice", perm(v.kc, "R1"), perm(v.kc, "Orders", "view"))
	v.kc.ResetCounters()
	assert.Equal(t, 200, v.do(t, "GET", "/r/1", tok).status)
	assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointResourceSet))
	q := v.kc.LastRequest(keycloaktest.EndpointResourceSet).URL.Query()
	assert.Equal(t, "/r/1", q.Get("uri"))
	assert.Equal(t, "true", q.Get("matchingUri"))
	assert.Equal(t, 200, v.do(t, "GET", "/r/1/", tok).status, "E12: same canonical key")
	assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointResourceSet), "cached")
	assert.Equal(t, 403, v.do(t, "GET", "/r/2", tok).status)
	assert.Equal(t, 403, v.do(t, "GET", "/unknown", tok).status)
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status)
	for i := range 20 {
		v.do(t, "GET", fmt.Sprintf("/r/%d", i), tok)
	}
	assert.LessOrEqual(t, v.e.PathCacheLen(), 5, "G7: bounded")

	// A failed lookup denies and is not cached.
	v.kc.Fail(keycloaktest.EndpointResourceSet, 500)
	assert.Equal(t, 403, v.do(t, "GET", "/r/19/x", tok).status)
	v.kc.Heal(keycloaktest.EndpointResourceSet)
	tok19 := v.kc.IssueRPT("alice", perm(v.kc, "R19"))
	v.kc.ResetCounters()
	assert.Equal(t, 403, v.do(t, "GET", "/r/19/x", tok19).status) // /r/19 has no wildcard: no match
	assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointResourceSet), "the failure was not cached")
}

// TestLoadAllAtStart: no configured paths and lazy loading off → every
// resource's URIs are loaded at start (SPEC §1.6).
func TestLoadAllAtStart(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"rptguard":{"permissions-source":"token"}}`, shopServer())
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"), perm(v.kc, "Admin"))
	v.kc.ResetCounters()
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status)
	assert.Equal(t, 200, v.do(t, "GET", "/admin/x/y", tok).status)
	assert.Equal(t, 403, v.do(t, "GET", "/nothing", tok).status)
	assert.Equal(t, 0, v.kc.Requests(keycloaktest.EndpointResourceSet))
}

// TestInstanceResources: a template bound to a resource; a concrete
// instance resource on the server takes over (SPEC §2.6 step 2, §3.3).
func TestInstanceResources(t *testing.T) {
	t.Parallel()
	opts := append(shopServer(), keycloaktest.WithResource(keycloaktest.Resource{Name: "Item 7", URIs: []string{"/api/7"}, Scopes: []string{"view"}}))
	v := newEnv(t, `{"paths":[{"path":"/api/{id}","name":"Items"}],"rptguard":{"permissions-source":"token"}}`, opts)
	parent := v.kc.IssueRPT("alice", perm(v.kc, "Items"))
	inst := v.kc.IssueRPT("alice", perm(v.kc, "Item 7"))
	assert.Equal(t, 200, v.do(t, "GET", "/api/8", parent).status)
	assert.Equal(t, 403, v.do(t, "GET", "/api/7", parent).status, "a permission on the template does not grant an instance")
	assert.Equal(t, 200, v.do(t, "GET", "/api/7", inst).status)
	before := v.e.PathCacheLen()
	assert.Equal(t, 200, v.do(t, "DELETE", "/api/7", inst).status)
	assert.Equal(t, before-1, v.e.PathCacheLen(), "a granted DELETE evicts the instance")
}

// TestLookupFailureNeverPermissive: a failed server lookup while matching a
// configured path denies; under global PERMISSIVE it must not become an
// "unmapped, authenticated" grant (fail closed, security.md response
// contract).
func TestLookupFailureNeverPermissive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode, path string
		want             int
	}{
		{name: "enforcing instance lookup fails", mode: "ENFORCING", path: "/api/9", want: 403},
		{name: "permissive instance lookup fails", mode: "PERMISSIVE", path: "/api/9", want: 403},
		{name: "permissive lazy lookup fails", mode: "PERMISSIVE", path: "/admin/x", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, fmt.Sprintf(`{"enforcement-mode":%q,"lazy-load-paths":true,
				"paths":[{"path":"/api/{id}","name":"Items"},{"path":"/admin/*","name":"Admin"}],
				"rptguard":{"permissions-source":"token"}}`, tt.mode), shopServer())
			tok := v.kc.AccessToken("alice")
			v.kc.Fail(keycloaktest.EndpointResourceSet, 500)
			r := v.do(t, http.MethodGet, tt.path, tok)
			assert.Equal(t, tt.want, r.status, r.body)
		})
	}
}

// TestScopesDisabledHonoursUserRules: a method whose scopes-enforcement-mode
// is DISABLED is granted after the permission check failed, as in Keycloak,
// but a user deny rule and the path's named rule still deny (Keycloak has
// no user rules; rptguard's deny rules must hold everywhere).
func TestScopesDisabledHonoursUserRules(t *testing.T) {
	t.Parallel()
	const rules = `package rptguard.user

deny contains "no deletes on Fridays for alice" if input.token.preferred_username == "alice"
`
	const named = `package rptguard.rules.shop

only_bob if input.token.preferred_username == "bob"
`
	v := newEnv(t, `{"paths":[
		{"path":"/api/orders","name":"Orders","methods":[{"method":"DELETE","scopes":["delete"],"scopes-enforcement-mode":"DISABLED"}]},
		{"path":"/api/items","name":"Orders","methods":[{"method":"DELETE","scopes":["delete"],"scopes-enforcement-mode":"DISABLED"}],
		 "rptguard":{"decision-rule":"rules.shop.only_bob"}}],
		"rptguard":{"permissions-source":"token"}}`, shopServer(),
		enforcer.WithPolicies(policies.FromModule("user.rego", rules), policies.FromModule("shop.rego", named)))
	tests := []struct {
		name, user, path string
		want             int
	}{
		{"no user rule fires: granted as in Keycloak", "bob", "/api/orders", 200},
		{"user deny rule fires", "alice", "/api/orders", 403},
		{"named rule holds", "bob", "/api/items", 200},
		{"named rule fails", "carol", "/api/items", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := v.kc.IssueRPT(tt.user, perm(v.kc, "Orders", "view"))
			r := v.do(t, "DELETE", tt.path, tok)
			assert.Equal(t, tt.want, r.status, r.body)
		})
	}
}
