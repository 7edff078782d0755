package keycloaktest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	assert.Equal(t, "rptguard", kc.Realm())
	assert.Equal(t, "rptguard-api", kc.ClientID())
	assert.Equal(t, "secret", kc.ClientSecret())
	assert.Equal(t, kc.URL()+"/realms/rptguard", kc.Issuer())
	assert.Equal(t, kc.Issuer()+"/protocol/openid-connect/certs", kc.JWKSURL())
	assert.Equal(t, kc.Issuer()+"/protocol/openid-connect/token", kc.TokenURL())
	assert.Equal(t, kc.Issuer()+"/protocol/openid-connect/token/introspect", kc.IntrospectionURL())
	assert.Equal(t, kc.Issuer()+"/authz/protection/permission", kc.PermissionURL())
	assert.Equal(t, kc.Issuer()+"/authz/protection/resource_set", kc.ResourceSetURL())
	for _, u := range []struct{ user, pass string }{{"alice", "alice"}, {"bob", "bob"}} {
		r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"password"}, "username": {u.user}, "password": {u.pass}},
			basicAuth(kc.ClientID(), kc.ClientSecret()))
		assert.Equal(t, http.StatusOK, r.Status, u.user)
	}
	kc.Close()
	kc.Close() // idempotent
}

func TestStartInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  keycloaktest.Option
	}{
		{"bad alg", keycloaktest.WithSigningAlgorithm("HS256")},
		{"empty realm", keycloaktest.WithRealm("")},
		{"realm with slash", keycloaktest.WithRealm("a/b")},
		{"client without id", keycloaktest.WithClient(keycloaktest.Client{Secret: "x"})},
		{"resource without name", keycloaktest.WithResource(keycloaktest.Resource{URIs: []string{"/x"}})},
		{"resource with unknown owner", keycloaktest.WithResource(keycloaktest.Resource{Name: "x", Owner: "nobody"})},
		{"nil clock", keycloaktest.WithClock(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := keycloaktest.Start(tt.opt)
			require.Error(t, err)
			assert.Nil(t, s)
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithRealm("shop"), keycloaktest.WithTLS())
	iss := kc.Issuer()
	common := []string{"issuer", "authorization_endpoint", "token_endpoint", "introspection_endpoint",
		"end_session_endpoint", "jwks_uri", "grant_types_supported", "response_types_supported",
		"response_modes_supported", "scopes_supported", "token_endpoint_auth_methods_supported",
		"token_endpoint_auth_signing_alg_values_supported"}
	tests := []struct {
		name  string
		path  string
		extra []string
	}{
		{"openid", "/.well-known/openid-configuration", []string{"userinfo_endpoint"}},
		{"uma2", "/.well-known/uma2-configuration", []string{"resource_registration_endpoint", "permission_endpoint", "policy_endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, kc, iss+tt.path)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			doc := r.obj(t)
			for _, k := range append(common, tt.extra...) {
				assert.Contains(t, doc, k)
			}
			assert.Equal(t, iss, doc["issuer"])
			assert.Equal(t, kc.TokenURL(), doc["token_endpoint"])
			assert.Equal(t, kc.IntrospectionURL(), doc["introspection_endpoint"])
			assert.Equal(t, kc.JWKSURL(), doc["jwks_uri"])
			assert.Equal(t, iss+"/protocol/openid-connect/logout", doc["end_session_endpoint"])
			assert.Contains(t, strList(doc["grant_types_supported"]), "urn:ietf:params:oauth:grant-type:uma-ticket")
			assert.Contains(t, strList(doc["grant_types_supported"]), "client_credentials")
			assert.Contains(t, strList(doc["token_endpoint_auth_methods_supported"]), "client_secret_basic")
			assert.Contains(t, strList(doc["token_endpoint_auth_methods_supported"]), "client_secret_post")
			if tt.name == "uma2" {
				assert.Equal(t, kc.ResourceSetURL(), doc["resource_registration_endpoint"])
				assert.Equal(t, kc.PermissionURL(), doc["permission_endpoint"])
				assert.Equal(t, iss+"/authz/protection/uma-policy", doc["policy_endpoint"])
			}
		})
	}
	t.Run("wrong realm is 404", func(t *testing.T) {
		t.Parallel()
		r := get(t, kc, kc.URL()+"/realms/other/.well-known/openid-configuration")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
	t.Run("POST is 405", func(t *testing.T) {
		t.Parallel()
		r := postForm(t, kc, iss+"/.well-known/uma2-configuration", url.Values{})
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
	})
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg    string
		kty    string
		fields []string
		crv    string
	}{
		{"RS256", "RSA", []string{"n", "e"}, ""},
		{"PS256", "RSA", []string{"n", "e"}, ""},
		{"ES256", "EC", []string{"crv", "x", "y"}, "P-256"},
		{"EdDSA", "OKP", []string{"crv", "x"}, "Ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			kc := keycloaktest.New(t, keycloaktest.WithSigningAlgorithm(tt.alg))
			r := get(t, kc, kc.JWKSURL())
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			keys := r.obj(t)["keys"].([]any)
			require.Len(t, keys, 1)
			k := keys[0].(map[string]any)
			assert.Equal(t, kc.SigningKeyID(), k["kid"])
			assert.Equal(t, tt.kty, k["kty"])
			assert.Equal(t, tt.alg, k["alg"])
			assert.Equal(t, "sig", k["use"])
			for _, f := range tt.fields {
				assert.NotEmpty(t, k[f], f)
			}
			if tt.crv != "" {
				assert.Equal(t, tt.crv, k["crv"])
			}
			assert.Len(t, k["x5c"], 1)
			assert.NotEmpty(t, k["x5t#S256"])

			tok := kc.AccessToken("alice")
			h, _ := decodeJWT(t, tok)
			assert.Equal(t, tt.alg, h["alg"])
			assert.Equal(t, "JWT", h["typ"])
			assert.Equal(t, kc.SigningKeyID(), h["kid"])
			verifyWithJWKS(t, r.Body, tok, tt.alg)
		})
	}
}

// verifyWithJWKS verifies tok against a JWKS body with keyfunc + golang-jwt.
func verifyWithJWKS(tb testing.TB, jwks []byte, tok, alg string) {
	tb.Helper()
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(jwks))
	require.NoError(tb, err)
	_, err = jwt.Parse(tok, kf.Keyfunc, jwt.WithValidMethods([]string{alg}))
	require.NoError(tb, err)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	old := kc.SigningKeyID()
	oldTok := kc.AccessToken("alice")

	newKID := kc.RotateKey()
	require.NotEmpty(t, newKID)
	assert.NotEqual(t, old, newKID)
	assert.Equal(t, newKID, kc.SigningKeyID())
	newTok := kc.AccessToken("alice")
	h, _ := decodeJWT(t, newTok)
	assert.Equal(t, newKID, h["kid"])

	jwks := get(t, kc, kc.JWKSURL())
	assert.Len(t, jwks.obj(t)["keys"], 2)
	verifyWithJWKS(t, jwks.Body, oldTok, "RS256")
	verifyWithJWKS(t, jwks.Body, newTok, "RS256")

	extra := kc.AddKey("ES256")
	require.NotEmpty(t, extra)
	assert.Equal(t, newKID, kc.SigningKeyID(), "AddKey does not change the signing key")
	assert.Len(t, get(t, kc, kc.JWKSURL()).obj(t)["keys"], 3)
	esTok := kc.SignToken(map[string]any{"iss": kc.Issuer(), "sub": "x", "exp": time.Now().Add(time.Minute).Unix()},
		keycloaktest.WithKeyID(extra))
	h, _ = decodeJWT(t, esTok)
	assert.Equal(t, "ES256", h["alg"])
	assert.Empty(t, kc.AddKey("HS256"))

	assert.True(t, introspect(t, kc, oldTok, "")["active"].(bool))
	kc.RetireKey(old)
	assert.Len(t, get(t, kc, kc.JWKSURL()).obj(t)["keys"], 2)
	assert.False(t, introspect(t, kc, oldTok, "")["active"].(bool), "a token of a retired key is inactive")
	assert.True(t, introspect(t, kc, newTok, "")["active"].(bool))

	kc.SetJWKS([]byte(`{"keys":[]}`))
	r := get(t, kc, kc.JWKSURL())
	assert.JSONEq(t, `{"keys":[]}`, string(r.Body))
	assert.True(t, introspect(t, kc, newTok, "")["active"].(bool), "the server keeps its real keys")
	kc.SetJWKS(nil)
	assert.Len(t, get(t, kc, kc.JWKSURL()).obj(t)["keys"], 2)
}

func TestRotationUnderLoad(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithSigningAlgorithm("ES256"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			kc.RotateKey()
		}
	}()
	for range 20 {
		tok := kc.AccessToken("bob")
		assert.True(t, introspect(t, kc, tok, "")["active"].(bool))
	}
	<-done
}
