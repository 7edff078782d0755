package keycloaktest_test

import (
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

func TestPermissionEndpoint(t *testing.T) {
	t.Parallel()
	kc := umaServer(t)
	pat := patHTTP(t, kc)
	_, patClaims := decodeJWT(t, pat)
	orders := kc.ResourceID("Orders")
	tests := []struct {
		name      string
		body      any
		mods      []reqMod
		status    int
		code      string
		desc      string
		wantPerms []any
		wantClaim map[string]any
	}{
		{name: "by id", body: []map[string]any{{"resource_id": orders, "resource_scopes": []string{"read"}}}, status: 201,
			wantPerms: []any{map[string]any{"rsid": orders, "scopes": []any{"read"}}}},
		{name: "by name, all scopes, merged claims", body: []map[string]any{
			{"resource_id": "Orders", "claims": map[string]any{"a": []string{"1"}}},
			{"resource_scopes": []string{"read"}, "claims": map[string]any{"a": []string{"2"}, "b": "x"}}}, status: 201,
			wantPerms: []any{map[string]any{"rsid": orders, "scopes": []any{"read", "write"}}, map[string]any{"scopes": []any{"read"}}},
			wantClaim: map[string]any{"a": []any{"1", "2"}, "b": []any{"x"}}},
		{name: "single object", body: map[string]any{"resource_id": orders}, status: 201,
			wantPerms: []any{map[string]any{"rsid": orders, "scopes": []any{"read", "write"}}}},
		{name: "empty body", body: "", status: 400, code: "invalid_permission_request"},
		{name: "empty array", body: "[]", status: 400, code: "invalid_permission_request"},
		{name: "not json", body: "{oops", status: 400, code: "invalid_permission_request"},
		{name: "no resource no scopes", body: []map[string]any{{"claims": map[string]any{}}}, status: 400, code: "invalid_resource_id", desc: "Resource id or name not provided."},
		{name: "unknown resource", body: []map[string]any{{"resource_id": "nope"}}, status: 400, code: "invalid_resource_id", desc: "Resource set with id [nope] does not exists in this server."},
		{name: "unknown scope", body: []map[string]any{{"resource_id": orders, "resource_scopes": []string{"fly"}}}, status: 400, code: "invalid_scope", desc: "Scope [fly] is invalid"},
		{name: "no token", body: "[]", mods: []reqMod{}, status: 403, code: "invalid_bearer_token"},
		{name: "user token is not a resource server", body: "[]", mods: []reqMod{bearer(kc.AccessToken("alice", keycloaktest.WithAuthorizedParty("spa")))}, status: 403, code: "invalid_clientId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mods := tt.mods
			if mods == nil {
				mods = []reqMod{bearer(pat)}
			}
			r := postJSON(t, kc, http.MethodPost, kc.PermissionURL(), tt.body, mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			if tt.code != "" {
				code, desc := oauthErr(t, r)
				assert.Equal(t, tt.code, code)
				if tt.desc != "" {
					assert.Equal(t, tt.desc, desc)
				}
				return
			}
			h, c := decodeJWT(t, r.obj(t)["ticket"].(string))
			assert.Equal(t, kc.SigningKeyID(), h["kid"])
			assert.Equal(t, kc.Issuer(), c["aud"])
			for _, k := range []string{"sub", "azp", "exp", "iat"} {
				assert.Equal(t, patClaims[k], c[k], k)
			}
			assert.NotContains(t, c, "iss")
			assert.Equal(t, tt.wantPerms, c["permissions"])
			if tt.wantClaim != nil {
				assert.Equal(t, tt.wantClaim, c["claims"])
			} else {
				assert.NotContains(t, c, "claims")
			}
		})
	}
	assert.Equal(t, http.StatusMethodNotAllowed, get(t, kc, kc.PermissionURL(), bearer(pat)).Status)
}

func TestTicketExpiresWithPAT(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var offset atomic.Int64
	clock := func() time.Time { return start.Add(time.Duration(offset.Load())) }
	kc := umaServer(t, keycloaktest.WithClock(clock), keycloaktest.WithTokenLifetime(time.Minute))
	ticket := kc.IssueTicket(keycloaktest.RequestedPermission{ResourceID: kc.ResourceID("Orders"), Scopes: []string{"read"}})
	_, c := decodeJWT(t, ticket)
	assert.Equal(t, start.Add(time.Minute).Unix(), mustInt(t, c["exp"]))
	offset.Store(int64(2 * time.Minute))
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {umaGrant}, "ticket": {ticket}}, bearer(kc.AccessToken("alice")))
	require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
	code, desc := oauthErr(t, r)
	assert.Equal(t, "invalid_ticket", code)
	assert.Equal(t, "Invalid permission ticket.", desc)
}

func mustInt(tb testing.TB, v any) int64 {
	tb.Helper()
	n, ok := v.(interface{ Int64() (int64, error) })
	require.True(tb, ok)
	i, err := n.Int64()
	require.NoError(tb, err)
	return i
}

func TestResourceSetCRUD(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	pat := bearer(patHTTP(t, kc))

	r := postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), map[string]any{
		"name": "Photo", "type": "urn:photo", "uri": "/photos/1", "uris": []string{"/p/1", " "},
		"resource_scopes": []any{"view", map[string]any{"name": "edit"}}, "icon_uri": "http://i",
		"ownerManagedAccess": true, "owner": "alice", "attributes": map[string][]string{"k": {"v"}}, "displayName": "A photo",
	}, pat)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	created := r.obj(t)
	id := created["_id"].(string)
	require.NotEmpty(t, id)

	r = get(t, kc, kc.ResourceSetURL()+"/"+id, pat)
	require.Equal(t, http.StatusOK, r.Status)
	got := r.obj(t)
	assert.Equal(t, "Photo", got["name"])
	assert.Equal(t, "A photo", got["displayName"])
	assert.Equal(t, "urn:photo", got["type"])
	assert.Equal(t, []string{"/photos/1", "/p/1"}, strList(got["uris"]))
	assert.Equal(t, true, got["ownerManagedAccess"])
	assert.Equal(t, "http://i", got["icon_uri"])
	assert.Equal(t, "alice", got["owner"].(map[string]any)["name"])
	assert.NotEmpty(t, got["owner"].(map[string]any)["id"])
	assert.Equal(t, map[string]any{"k": []any{"v"}}, got["attributes"])
	assert.NotContains(t, got, "scopes")
	scopes := got["resource_scopes"].([]any)
	require.Len(t, scopes, 2)
	assert.Equal(t, "view", scopes[0].(map[string]any)["name"])
	assert.NotEmpty(t, scopes[0].(map[string]any)["id"])

	r = postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), map[string]any{"name": "Photo", "owner": map[string]any{"name": "alice"}}, pat)
	assert.Equal(t, http.StatusConflict, r.Status, "same name, same owner")
	r = postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), map[string]any{"name": "Photo"}, pat)
	assert.Equal(t, http.StatusCreated, r.Status, "same name, other owner")
	assert.Equal(t, kc.ClientID(), r.obj(t)["owner"].(map[string]any)["name"], "default owner is the resource server")
	r = postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), map[string]any{"type": "x"}, pat)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), map[string]any{"name": "Z", "owner": "nobody"}, pat)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = postJSON(t, kc, http.MethodPost, kc.ResourceSetURL(), "{", pat)
	assert.Equal(t, http.StatusBadRequest, r.Status)

	r = postJSON(t, kc, http.MethodPut, kc.ResourceSetURL()+"/"+id, map[string]any{"name": "Photo 2", "uris": []string{"/q"}, "scopes": []any{map[string]any{"name": "view"}}}, pat)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	assert.Empty(t, r.Body)
	got = get(t, kc, kc.ResourceSetURL()+"/"+id, pat).obj(t)
	assert.Equal(t, "Photo 2", got["name"])
	assert.Equal(t, []string{"/q"}, strList(got["uris"]))
	assert.Len(t, got["resource_scopes"], 1)
	assert.Equal(t, "alice", got["owner"].(map[string]any)["name"], "update keeps the owner")

	assert.Equal(t, http.StatusNotFound, postJSON(t, kc, http.MethodPut, kc.ResourceSetURL()+"/nope", map[string]any{"name": "x"}, pat).Status)
	assert.Equal(t, http.StatusNoContent, do(t, kc, http.MethodDelete, kc.ResourceSetURL()+"/"+id, nil, "", pat).Status)
	assert.Equal(t, http.StatusNotFound, do(t, kc, http.MethodDelete, kc.ResourceSetURL()+"/"+id, nil, "", pat).Status)
	r = get(t, kc, kc.ResourceSetURL()+"/"+id, pat)
	assert.Equal(t, http.StatusNotFound, r.Status)
	code, _ := oauthErr(t, r)
	assert.Equal(t, "not_found", code)
	assert.Equal(t, http.StatusMethodNotAllowed, do(t, kc, http.MethodPatch, kc.ResourceSetURL(), nil, "", pat).Status)
}

func TestResourceSetAuth(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithClient(keycloaktest.Client{ID: "frontend", Secret: "f"}))
	frontendPAT := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basicAuth("frontend", "f")).obj(t)["access_token"].(string)
	tests := []struct {
		name   string
		mods   []reqMod
		status int
		body   string
	}{
		{"PAT", []reqMod{bearer(kc.PAT())}, 200, ""},
		{"no token", nil, 403, ""},
		{"expired PAT", []reqMod{bearer(kc.SignToken(map[string]any{"iss": kc.Issuer(), "azp": kc.ClientID(), "exp": time.Now().Add(-time.Minute).Unix()}))}, 403, ""},
		{"without uma_protection", []reqMod{bearer(kc.AccessToken("alice"))}, 403, `{"error":"invalid_scope","error_description":"Requires uma_protection scope."}`},
		{"other client", []reqMod{bearer(frontendPAT)}, 403, `{"error":"invalid_clientId","error_description":"Client application [frontend] is not registered as a resource server."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, kc, kc.ResourceSetURL(), tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			if tt.body != "" {
				assert.JSONEq(t, tt.body, string(r.Body))
			}
		})
	}
}

func TestResourceSetList(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t,
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Beta", Type: "t1", URIs: []string{"/b"}, Scopes: []string{"read"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Alpha", Type: "t2", URIs: []string{"/a/*"}, Scopes: []string{"read", "write"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "alphabet", Owner: "alice", URIs: []string{"/al"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Gamma", URIs: []string{"/g/{id}"}}),
	)
	pat := bearer(kc.PAT())
	a, b, al, g := kc.ResourceID("Alpha"), kc.ResourceID("Beta"), kc.ResourceID("alphabet"), kc.ResourceID("Gamma")
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all, sorted by name", "", []string{a, b, g, al}},
		{"_id", "_id=" + b, []string{b}},
		{"name partial, case-insensitive", "name=ALPHA", []string{a, al}},
		{"exactName", "name=Alpha&exactName=true", []string{a}},
		{"uri exact", "uri=/b", []string{b}},
		{"uri exact misses pattern", "uri=/a/x", []string{}},
		{"matchingUri wildcard", "uri=/a/x&matchingUri=true", []string{a}},
		{"matchingUri template", "uri=/g/7&matchingUri=true", []string{g}},
		{"matchingUri only when plain search is empty", "uri=/b&matchingUri=true", []string{b}},
		{"matchingUri ignores user-owned", "uri=/al/x&matchingUri=true", []string{}},
		{"matchingUri no match", "uri=/zzz&matchingUri=true", []string{}},
		{"owner client", "owner=rptguard-api", []string{a, b, g}},
		{"owner username", "owner=alice", []string{al}},
		{"owner unknown", "owner=ghost", []string{}},
		{"type", "type=t2", []string{a}},
		{"scope", "scope=read", []string{a, b}},
		{"unknown scope", "scope=fly", []string{}},
		{"first+max", "first=1&max=2", []string{b, g}},
		{"max -1", "max=-1", []string{a, b, g, al}},
		{"first beyond", "first=10", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, kc, kc.ResourceSetURL()+"?"+tt.query, pat)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Equal(t, tt.want, strList(r.arr(t)))
		})
	}
	t.Run("deep", func(t *testing.T) {
		t.Parallel()
		r := get(t, kc, kc.ResourceSetURL()+"?deep=true&name=Alpha&exactName=true", pat)
		require.Equal(t, http.StatusOK, r.Status)
		list := r.arr(t)
		require.Len(t, list, 1)
		res := list[0].(map[string]any)
		assert.Equal(t, a, res["_id"])
		assert.Contains(t, res, "scopes")
		assert.NotContains(t, res, "resource_scopes")
		assert.Len(t, res["scopes"], 2)
	})
	t.Run("default max is 100", func(t *testing.T) {
		t.Parallel()
		big := keycloaktest.New(t)
		for i := range 105 {
			big.AddResource(keycloaktest.Resource{Name: "r" + string(rune('a'+i/26)) + string(rune('a'+i%26))})
		}
		p := bearer(big.PAT())
		assert.Len(t, get(t, big, big.ResourceSetURL(), p).arr(t), 100)
		assert.Len(t, get(t, big, big.ResourceSetURL()+"?max=-1", p).arr(t), 105)
	})
	t.Run("bad max", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, http.StatusBadRequest, get(t, kc, kc.ResourceSetURL()+"?max=x", pat).Status)
	})
}

// TestFindMatchingURI is Keycloak's ResourceManagementWithAuthzClientTest
// #testFindMatchingUri (SPEC §2.5) over the resource_set endpoint.
func TestFindMatchingURI(t *testing.T) {
	t.Parallel()
	uris := []string{"/*", "/resources/*", "/resources-a/*", "/resources-b/{pattern}", "/resources-c/{pattern}/*",
		"/resources/{pattern}/{pattern}/*", "/resources/{pattern}/sub-resources/{pattern}/*",
		"/rest/{version}/loader/load", "/rest/{version}/loader/loadTwo",
		"/rest/{version}/carts/{cartId}/cartactions/{actionId}", "/rest/v1/carts/{cartId}/cartactions/123"}
	opts := []keycloaktest.Option{}
	for _, u := range uris {
		opts = append(opts, keycloaktest.WithResource(keycloaktest.Resource{Name: "Resource " + u, URIs: []string{u}}))
	}
	opts = append(opts, keycloaktest.WithResource(keycloaktest.Resource{Name: "Dummy Name",
		URIs: []string{"/dummy/605dc7ff310256017a2ec84f", "/dummy/605dc7ff310256017a2ec84f/*"}}))
	kc := keycloaktest.New(t, opts...)
	pat := bearer(kc.PAT())
	tests := []struct {
		request string
		want    string // resource name
	}{
		{"/test", "Resource /*"},
		{"/resources", "Resource /resources/*"},
		{"/resources/", "Resource /resources/*"},
		{"/resources-a/test", "Resource /resources-a/*"},
		{"/resources-b/a", "Resource /resources-b/{pattern}"},
		{"/resources-c/a/b", "Resource /resources-c/{pattern}/*"},
		{"/resources/a/b/c", "Resource /resources/{pattern}/{pattern}/*"},
		{"/resources/a/sub-resources/c/d", "Resource /resources/{pattern}/sub-resources/{pattern}/*"},
		{"/rest/v1/loader/load", "Resource /rest/{version}/loader/load"},
		{"/rest/v2/loader/loadTwo", "Resource /rest/{version}/loader/loadTwo"},
		{"/rest/v2/carts/123/cartactions/123", "Resource /rest/{version}/carts/{cartId}/cartactions/{actionId}"},
		{"/rest/{version}/carts/{cartId}/cartactions/123", "Resource /rest/{version}/carts/{cartId}/cartactions/{actionId}"},
		{"/rest/v1/carts/123/cartactions/123", "Resource /rest/v1/carts/{cartId}/cartactions/123"},
		{"/rest/v1/carts/345/cartactions/123", "Resource /rest/v1/carts/{cartId}/cartactions/123"},
		{"/dummy/605dc7ff310256017a2ec84f/nestedObject/605dc7ff310256017a2ec84c", "Dummy Name"},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			t.Parallel()
			q := url.Values{"uri": {tt.request}, "matchingUri": {"true"}, "deep": {"true"}, "max": {"-1"}}
			r := get(t, kc, kc.ResourceSetURL()+"?"+q.Encode(), pat)
			require.Equal(t, http.StatusOK, r.Status)
			list := r.arr(t)
			require.Len(t, list, 1, "at most one resource")
			assert.Equal(t, tt.want, list[0].(map[string]any)["name"])
		})
	}
}
