package keycloaktest_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// stepClock is a settable clock for the server.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type assertionKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newAssertionKeys(tb testing.TB) assertionKeys {
	tb.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	return assertionKeys{rsa: rk, ec: ek, ed: dk}
}

// signAssertion signs claims with method and key.
func signAssertion(tb testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(tb, err)
	return s
}

func TestClientAssertionAuth(t *testing.T) {
	t.Parallel()
	keys := newAssertionKeys(t)
	other := newAssertionKeys(t)
	clock := &stepClock{t: time.Now().Truncate(time.Second)}
	kc := keycloaktest.New(t, keycloaktest.WithClock(clock.Now),
		keycloaktest.WithResourceServerKey(&keys.rsa.PublicKey),
		keycloaktest.WithClient(keycloaktest.Client{ID: "ec-client", PublicKey: &keys.ec.PublicKey}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "ed-client", PublicKey: keys.ed.Public()}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
	)
	rs := kc.ClientID()
	claims := func(id string, mutate func(jwt.MapClaims)) jwt.MapClaims {
		now := clock.Now()
		c := jwt.MapClaims{"iss": id, "sub": id, "aud": kc.Issuer(), "jti": rand.Text(),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	tests := []struct {
		name     string
		id       string
		method   jwt.SigningMethod
		key      any
		mutate   func(jwt.MapClaims)
		form     url.Values // extra form parameters
		status   int
		wantCode string
		wantDesc string
	}{
		{name: "rs256", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 200},
		{name: "ps256", id: rs, method: jwt.SigningMethodPS256, key: keys.rsa, status: 200},
		{name: "aud token endpoint", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 200,
			mutate: func(c jwt.MapClaims) { c["aud"] = []string{"other", kc.TokenURL()} }},
		{name: "no exp fresh iat", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 200,
			mutate: func(c jwt.MapClaims) { delete(c, "exp") }},
		{name: "es256", id: "ec-client", method: jwt.SigningMethodES256, key: keys.ec, status: 200},
		{name: "eddsa", id: "ed-client", method: jwt.SigningMethodEdDSA, key: keys.ed, status: 200},
		{name: "client_secret_jwt", id: rs, method: jwt.SigningMethodHS256, key: []byte(kc.ClientSecret()), status: 200},
		{name: "client_secret_jwt hs512", id: rs, method: jwt.SigningMethodHS512, key: []byte(kc.ClientSecret()), status: 200},
		{name: "matching client_id", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 200,
			form: url.Values{"client_id": {rs}}},

		{name: "wrong key", id: rs, method: jwt.SigningMethodRS256, key: other.rsa, status: 400,
			wantCode: "invalid_client", wantDesc: "Client authentication with signed JWT failed: Signature on JWT token failed validation"},
		{name: "wrong hmac secret", id: rs, method: jwt.SigningMethodHS256, key: []byte("not-the-secret"), status: 400,
			wantCode: "invalid_client", wantDesc: "Client authentication with client secret signed JWT failed: Signature on JWT token failed validation"},
		{name: "alg does not fit key", id: "ec-client", method: jwt.SigningMethodRS256, key: keys.rsa, status: 400,
			wantCode: "invalid_client", wantDesc: "Client authentication with signed JWT failed: Signature on JWT token failed validation"},
		{name: "client without key", id: "ec-client", method: jwt.SigningMethodHS256, key: []byte("x"), status: 400,
			wantCode: "invalid_client", wantDesc: "Client authentication with client secret signed JWT failed: Unable to load public key"},
		{name: "wrong aud", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { c["aud"] = "https://elsewhere.example/realms/x" }},
		{name: "no aud", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { delete(c, "aud") }},
		{name: "expired", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			wantDesc: "Client authentication with signed JWT failed: Token is not active",
			mutate:   func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(-time.Second).Unix() }},
		{name: "no exp stale iat", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { delete(c, "exp"); c["iat"] = clock.Now().Add(-time.Minute).Unix() }},
		{name: "not yet valid", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { c["nbf"] = clock.Now().Add(time.Minute).Unix() }},
		{name: "missing jti", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			wantDesc: "Client authentication with signed JWT failed: Missing ID on the token",
			mutate:   func(c jwt.MapClaims) { delete(c, "jti") }},
		{name: "iss mismatch", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { c["iss"] = "someone-else" }},
		{name: "missing sub", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			mutate: func(c jwt.MapClaims) { delete(c, "sub") }},
		{name: "client_id mismatch", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			form: url.Values{"client_id": {"ec-client"}}},
		{name: "unknown client", id: "ghost", method: jwt.SigningMethodRS256, key: keys.rsa, status: 401, wantCode: "invalid_client"},
		{name: "public client", id: "spa", method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client"},
		{name: "wrong assertion type", id: rs, method: jwt.SigningMethodRS256, key: keys.rsa, status: 400, wantCode: "invalid_client",
			form: url.Values{"client_assertion_type": {"urn:example:other"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
				"client_assertion": {signAssertion(t, tt.method, tt.key, claims(tt.id, tt.mutate))}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := postForm(t, kc, kc.TokenURL(), form)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			if tt.status == 200 {
				_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
				assert.Equal(t, tt.id, c["azp"])
				return
			}
			code, desc := oauthErr(t, r)
			assert.Equal(t, tt.wantCode, code)
			if tt.wantDesc != "" {
				assert.Equal(t, tt.wantDesc, desc)
			}
		})
	}
}

func TestClientAssertionReplayAndIntrospection(t *testing.T) {
	t.Parallel()
	keys := newAssertionKeys(t)
	clock := &stepClock{t: time.Now().Truncate(time.Second)}
	kc := keycloaktest.New(t, keycloaktest.WithClock(clock.Now), keycloaktest.WithResourceServerKey(keys.ec.Public()))
	now := clock.Now()
	assertion := signAssertion(t, jwt.SigningMethodES256, keys.ec, jwt.MapClaims{
		"iss": kc.ClientID(), "sub": kc.ClientID(), "aud": kc.Issuer(), "jti": "once",
		"iat": now.Unix(), "exp": now.Add(30 * time.Second).Unix()})
	form := url.Values{"client_assertion_type": {assertionType}, "client_assertion": {assertion},
		"token": {kc.IssueRPT("alice")}, "token_type_hint": {"requesting_party_token"}}

	r := postForm(t, kc, kc.IntrospectionURL(), form)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, true, r.obj(t)["active"])

	// The introspection endpoint answers every client-authentication failure
	// with 401 invalid_request "Authentication failed." (Keycloak).
	r = postForm(t, kc, kc.IntrospectionURL(), form)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	code, desc := oauthErr(t, r)
	assert.Equal(t, "invalid_request", code)
	assert.Equal(t, "Authentication failed.", desc)

	// The token endpoint names the replay.
	tf := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
	r = postForm(t, kc, kc.TokenURL(), tf)
	require.Equal(t, http.StatusBadRequest, r.Status)
	_, desc = oauthErr(t, r)
	assert.Equal(t, "Client authentication with signed JWT failed: Token reuse detected", desc)

	// After the assertion expired its jti is forgotten, but the assertion
	// itself is no longer active.
	clock.Advance(time.Minute)
	r = postForm(t, kc, kc.TokenURL(), tf)
	require.Equal(t, http.StatusBadRequest, r.Status)
	_, desc = oauthErr(t, r)
	assert.Equal(t, "Client authentication with signed JWT failed: Token is not active", desc)

	// Key rotation: the old key stops working.
	rotated := newAssertionKeys(t)
	require.True(t, kc.SetClientPublicKey(kc.ClientID(), rotated.ed.Public()))
	require.False(t, kc.SetClientPublicKey("ghost", rotated.ed.Public()))
	now = clock.Now()
	fresh := func(m jwt.SigningMethod, key any) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
			"client_assertion": {signAssertion(t, m, key, jwt.MapClaims{"iss": kc.ClientID(), "sub": kc.ClientID(),
				"aud": kc.Issuer(), "jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})}}
	}
	assert.Equal(t, http.StatusBadRequest, postForm(t, kc, kc.TokenURL(), fresh(jwt.SigningMethodES256, keys.ec)).Status)
	assert.Equal(t, http.StatusOK, postForm(t, kc, kc.TokenURL(), fresh(jwt.SigningMethodEdDSA, rotated.ed)).Status)
	// The secret methods keep working for the resource server.
	assert.Equal(t, http.StatusOK, postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}},
		basicAuth(kc.ClientID(), kc.ClientSecret())).Status)
}

func TestRespondWithHeaders(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	kc.RespondWithHeaders(keycloaktest.EndpointToken, http.StatusServiceUnavailable,
		http.Header{"Retry-After": {"30"}, "X-Extra": {"a", "b"}, "Content-Type": {"text/plain"}},
		"application/json", `{"error":"temporarily_unavailable"}`)
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basicAuth(kc.ClientID(), kc.ClientSecret()))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, "30", r.Header.Get("Retry-After"))
	assert.Equal(t, []string{"a", "b"}, r.Header.Values("X-Extra"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "contentType overrides the header map")
	assert.JSONEq(t, `{"error":"temporarily_unavailable"}`, string(r.Body))
	kc.Heal(keycloaktest.EndpointToken)
	r = postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basicAuth(kc.ClientID(), kc.ClientSecret()))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Header.Get("Retry-After"))
}
