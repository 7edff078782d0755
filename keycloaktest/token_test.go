package keycloaktest_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

const weirdSecret = "p:a%ss+w/rd &="

func tokenServer(t *testing.T) *keycloaktest.Server {
	t.Helper()
	return keycloaktest.New(t,
		keycloaktest.WithClient(keycloaktest.Client{ID: "weird client", Secret: weirdSecret, ServiceAccountRoles: []string{"robot"}}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
		keycloaktest.WithUser(keycloaktest.User{Username: "carol", Password: "c", RealmRoles: []string{"user"},
			ClientRoles: map[string][]string{"billing": {"payer"}}, Groups: []string{"/staff"},
			Attributes: map[string][]string{"email": {"carol@example.com"}}}),
	)
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	kc := tokenServer(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	withPost := func(id, secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	}
	rawBasic := func(id, secret string) reqMod {
		return func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
		}
	}
	tests := []struct {
		name     string
		form     url.Values
		mods     []reqMod
		status   int
		errCode  string
		wantAzp  string
		wantRole bool
	}{
		{"basic", cc, []reqMod{basicAuth("rptguard-api", "secret")}, 200, "", "rptguard-api", true},
		{"client_secret_post", withPost("rptguard-api", "secret"), nil, 200, "", "rptguard-api", true},
		{"basic form-urlencoded special chars", cc, []reqMod{basicAuth("weird client", weirdSecret)}, 200, "", "weird client", false},
		{"post special chars", withPost("weird client", weirdSecret), nil, 200, "", "weird client", false},
		{"basic not urlencoded fails", cc, []reqMod{rawBasic("weird client", weirdSecret)}, 401, "invalid_client", "", false},
		{"bad secret", cc, []reqMod{basicAuth("rptguard-api", "nope")}, 401, "invalid_client", "", false},
		{"unknown client", cc, []reqMod{basicAuth("ghost", "secret")}, 401, "invalid_client", "", false},
		{"no credentials", cc, nil, 401, "invalid_client", "", false},
		{"bad base64", cc, []reqMod{func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }}, 401, "invalid_client", "", false},
		{"public client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, nil, 401, "unauthorized_client", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := postForm(t, kc, kc.TokenURL(), tt.form, tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			if tt.errCode != "" {
				code, desc := oauthErr(t, r)
				assert.Equal(t, tt.errCode, code)
				assert.NotEmpty(t, desc)
				return
			}
			body := r.obj(t)
			assert.Equal(t, "Bearer", body["token_type"])
			assert.Equal(t, "300", body["expires_in"].(interface{ String() string }).String())
			assert.NotContains(t, body, "refresh_token")
			h, c := decodeJWT(t, body["access_token"].(string))
			assert.Equal(t, kc.SigningKeyID(), h["kid"])
			assert.Equal(t, tt.wantAzp, c["azp"])
			assert.Equal(t, kc.Issuer(), c["iss"])
			assert.Equal(t, "Bearer", c["typ"])
			assert.NotContains(t, c, "sid")
			ra, _ := c["resource_access"].(map[string]any)
			_, hasRS := ra["rptguard-api"]
			assert.Equal(t, tt.wantRole, hasRS)
		})
	}
}

func TestPasswordGrant(t *testing.T) {
	t.Parallel()
	kc := tokenServer(t)
	tests := []struct {
		name    string
		form    url.Values
		mods    []reqMod
		status  int
		errCode string
		idToken bool
	}{
		{"confidential client", url.Values{"username": {"carol"}, "password": {"c"}}, []reqMod{basicAuth("rptguard-api", "secret")}, 200, "", false},
		{"public client", url.Values{"username": {"carol"}, "password": {"c"}, "client_id": {"spa"}}, nil, 200, "", false},
		{"openid scope", url.Values{"username": {"carol"}, "password": {"c"}, "client_id": {"spa"}, "scope": {"openid"}}, nil, 200, "", true},
		{"wrong password", url.Values{"username": {"carol"}, "password": {"x"}, "client_id": {"spa"}}, nil, 401, "invalid_grant", false},
		{"unknown user", url.Values{"username": {"zed"}, "password": {"x"}, "client_id": {"spa"}}, nil, 401, "invalid_grant", false},
		{"bad client", url.Values{"username": {"carol"}, "password": {"c"}}, []reqMod{basicAuth("rptguard-api", "x")}, 401, "invalid_client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.form.Set("grant_type", "password")
			r := postForm(t, kc, kc.TokenURL(), tt.form, tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			if tt.errCode != "" {
				code, _ := oauthErr(t, r)
				assert.Equal(t, tt.errCode, code)
				return
			}
			body := r.obj(t)
			for _, k := range []string{"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type", "not-before-policy", "session_state", "scope"} {
				assert.Contains(t, body, k)
			}
			_, c := decodeJWT(t, body["access_token"].(string))
			assert.Equal(t, "carol", c["preferred_username"])
			assert.Equal(t, "carol@example.com", c["email"])
			assert.Equal(t, body["session_state"], c["sid"])
			assert.Equal(t, []string{"user"}, strList(c["realm_access"].(map[string]any)["roles"]))
			assert.Equal(t, []string{"payer"}, strList(c["resource_access"].(map[string]any)["billing"].(map[string]any)["roles"]))
			assert.Equal(t, []string{"rptguard-api", "billing"}, strList(c["aud"]))
			assert.Equal(t, []string{"/staff"}, strList(c["groups"]))
			_, hasID := body["id_token"]
			assert.Equal(t, tt.idToken, hasID)
			if tt.idToken {
				_, ic := decodeJWT(t, body["id_token"].(string))
				assert.Equal(t, "ID", ic["typ"])
				assert.Equal(t, "spa", ic["aud"])
			}
		})
	}
}

func TestRefreshGrant(t *testing.T) {
	t.Parallel()
	kc := tokenServer(t)
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"}, "client_id": {"spa"}})
	require.Equal(t, http.StatusOK, r.Status)
	body := r.obj(t)
	rt := body["refresh_token"].(string)
	_, rc := decodeJWT(t, rt)
	assert.Equal(t, "Refresh", rc["typ"])

	tests := []struct {
		name    string
		form    url.Values
		mods    []reqMod
		status  int
		errCode string
	}{
		{"ok", url.Values{"refresh_token": {rt}, "client_id": {"spa"}}, nil, 200, ""},
		{"other client", url.Values{"refresh_token": {rt}}, []reqMod{basicAuth("rptguard-api", "secret")}, 400, "invalid_grant"},
		{"access token is not a refresh token", url.Values{"refresh_token": {body["access_token"].(string)}, "client_id": {"spa"}}, nil, 400, "invalid_grant"},
		{"missing", url.Values{"client_id": {"spa"}}, nil, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.form.Set("grant_type", "refresh_token")
			r := postForm(t, kc, kc.TokenURL(), tt.form, tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			if tt.errCode != "" {
				code, _ := oauthErr(t, r)
				assert.Equal(t, tt.errCode, code)
				return
			}
			_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
			assert.Equal(t, rc["sid"], c["sid"])
		})
	}
}

func TestRefreshAfterSessionRevoked(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"}},
		basicAuth(kc.ClientID(), kc.ClientSecret()))
	body := r.obj(t)
	kc.RevokeSession(body["session_state"].(string))
	r = postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}},
		basicAuth(kc.ClientID(), kc.ClientSecret()))
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.False(t, introspect(t, kc, body["access_token"].(string), "")["active"].(bool))
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	tests := []struct {
		name    string
		method  string
		form    url.Values
		status  int
		errCode string
	}{
		{"missing grant_type", http.MethodPost, url.Values{}, 400, "invalid_request"},
		{"unsupported grant_type", http.MethodPost, url.Values{"grant_type": {"implicit-ish"}}, 400, "unsupported_grant_type"},
		{"GET", http.MethodGet, nil, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tt.method == http.MethodGet {
				r = get(t, kc, kc.TokenURL())
			} else {
				r = postForm(t, kc, kc.TokenURL(), tt.form)
			}
			require.Equal(t, tt.status, r.Status)
			if tt.errCode != "" {
				code, _ := oauthErr(t, r)
				assert.Equal(t, tt.errCode, code)
			}
		})
	}
}
