package keycloaktest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// introspect calls the introspection endpoint as the resource server.
func introspect(tb testing.TB, kc *keycloaktest.Server, tok, hint string) map[string]any {
	tb.Helper()
	form := url.Values{"token": {tok}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	r := postForm(tb, kc, kc.IntrospectionURL(), form, basicAuth(kc.ClientID(), kc.ClientSecret()))
	require.Equal(tb, http.StatusOK, r.Status, "%s", r.Body)
	return r.obj(tb)
}

func TestIntrospectionShapes(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", Scopes: []string{"read", "write"}}))
	id := kc.ResourceID("Orders")
	tok := kc.IssueRPT("alice",
		rpt.Permission{ResourceID: id, ResourceName: "Orders", Scopes: []string{"read"}, Claims: map[string][]string{"a": {"1"}}},
		rpt.Permission{ResourceID: id + "-x", ResourceName: "Bare"},
	)

	t.Run("rpt hint", func(t *testing.T) {
		t.Parallel()
		m := introspect(t, kc, tok, "requesting_party_token")
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"jti", "acr", "typ", "exp", "iat", "aud", "permissions", "active"}, keys)
		assert.Equal(t, true, m["active"])
		ps := m["permissions"].([]any)
		require.Len(t, ps, 2)
		p0 := ps[0].(map[string]any)
		assert.Equal(t, id, p0["rsid"])
		assert.Equal(t, id, p0["resource_id"])
		assert.Equal(t, "Orders", p0["rsname"])
		assert.Equal(t, []string{"read"}, strList(p0["scopes"]))
		assert.Equal(t, []string{"read"}, strList(p0["resource_scopes"]))
		assert.NotContains(t, p0, "claims")
		p1 := ps[1].(map[string]any)
		assert.NotContains(t, p1, "scopes")
		assert.Equal(t, []any{}, p1["resource_scopes"])
	})
	t.Run("rpt hint on plain access token", func(t *testing.T) {
		t.Parallel()
		m := introspect(t, kc, kc.AccessToken("bob"), "requesting_party_token")
		assert.Equal(t, true, m["active"])
		assert.NotContains(t, m, "permissions")
		assert.NotContains(t, m, "sub")
	})
	t.Run("no hint", func(t *testing.T) {
		t.Parallel()
		m := introspect(t, kc, tok, "")
		assert.Equal(t, true, m["active"])
		assert.Equal(t, "rptguard-api", m["client_id"])
		assert.Equal(t, "alice", m["username"])
		assert.Equal(t, "Bearer", m["token_type"])
		assert.Contains(t, m, "sub")
		assert.Contains(t, m, "authorization")
		assert.Equal(t, kc.Issuer(), m["iss"])
	})
}

func TestIntrospectionInactive(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	other := keycloaktest.New(t)
	revoked := kc.AccessToken("alice")
	kc.Revoke(revoked)
	sessTok := kc.AccessToken("bob")
	_, sc := decodeJWT(t, sessTok)
	kc.RevokeSession(sc["sid"].(string))
	tests := []struct {
		name string
		tok  string
	}{
		{"expired", kc.AccessToken("alice", keycloaktest.WithLifetime(-time.Minute))},
		{"issued long ago", kc.AccessToken("alice", keycloaktest.WithIssuedAt(time.Now().Add(-time.Hour)))},
		{"not yet valid", kc.AccessToken("alice", keycloaktest.WithClaim("nbf", time.Now().Add(time.Hour).Unix()))},
		{"revoked", revoked},
		{"session revoked", sessTok},
		{"unknown string", "not-a-token"},
		{"foreign key", kc.SignToken(map[string]any{"iss": kc.Issuer(), "exp": time.Now().Add(time.Minute).Unix()}, keycloaktest.WithForeignKey())},
		{"other server", other.AccessToken("alice")},
		{"alg none", kc.SignToken(map[string]any{"iss": kc.Issuer(), "exp": time.Now().Add(time.Minute).Unix()}, keycloaktest.WithAlgNone())},
		{"wrong issuer", kc.AccessToken("alice", keycloaktest.WithClaim("iss", "https://evil"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, hint := range []string{"", "requesting_party_token"} {
				m := introspect(t, kc, tt.tok, hint)
				assert.Equal(t, map[string]any{"active": false}, m, hint)
			}
		})
	}
}

func TestIntrospectionClientAuth(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "other", Secret: "o"}))
	tok := kc.AccessToken("alice")
	tests := []struct {
		name   string
		form   url.Values
		mods   []reqMod
		status int
		body   string
	}{
		{"basic", url.Values{"token": {tok}}, []reqMod{basicAuth("rptguard-api", "secret")}, 200, ""},
		{"form", url.Values{"token": {tok}, "client_id": {"other"}, "client_secret": {"o"}}, nil, 200, ""},
		{"public client", url.Values{"token": {tok}, "client_id": {"spa"}}, nil, 403, `{"error":"invalid_request","error_description":"Client not allowed."}`},
		{"bad secret", url.Values{"token": {tok}}, []reqMod{basicAuth("rptguard-api", "x")}, 401, `{"error":"invalid_request","error_description":"Authentication failed."}`},
		{"no auth", url.Values{"token": {tok}}, nil, 401, `{"error":"invalid_request","error_description":"Authentication failed."}`},
		{"no token", url.Values{}, []reqMod{basicAuth("rptguard-api", "secret")}, 400, `{"error":"invalid_request","error_description":"Token not provided."}`},
		{"bad hint", url.Values{"token": {tok}, "token_type_hint": {"weird"}}, []reqMod{basicAuth("rptguard-api", "secret")}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := postForm(t, kc, kc.IntrospectionURL(), tt.form, tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			if tt.body != "" {
				assert.JSONEq(t, tt.body, string(r.Body))
			}
		})
	}
	r := get(t, kc, kc.IntrospectionURL())
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
}
