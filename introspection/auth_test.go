package introspection

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

const hmacSecret = "hmac-secret-0123456789-0123456789"

type testKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newTestKeys(tb testing.TB) testKeys {
	tb.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	return testKeys{rsa: rk, ec: ek, ed: dk}
}

// TestClientAssertion: private_key_jwt and client_secret_jwt send a fresh
// RFC 7523 assertion (iss = sub = client id, aud, jti, iat, exp) that
// keycloaktest verifies end to end.
func TestClientAssertion(t *testing.T) {
	t.Parallel()
	keys := newTestKeys(t)
	tests := []struct {
		name    string
		method  AuthMethod
		key     crypto.Signer
		alg     string
		wantAlg string
		verify  any
	}{
		{name: "rsa", method: PrivateKeyJWT, key: keys.rsa, wantAlg: "RS256", verify: &keys.rsa.PublicKey},
		{name: "rsa-pss", method: PrivateKeyJWT, key: keys.rsa, alg: "PS256", wantAlg: "PS256", verify: &keys.rsa.PublicKey},
		{name: "ecdsa", method: PrivateKeyJWT, key: keys.ec, wantAlg: "ES256", verify: &keys.ec.PublicKey},
		{name: "ed25519", method: PrivateKeyJWT, key: keys.ed, wantAlg: "EdDSA", verify: keys.ed.Public()},
		{name: "client secret jwt", method: ClientSecretJWT, wantAlg: "HS256", verify: []byte(hmacSecret)},
		{name: "client secret jwt hs384", method: ClientSecretJWT, alg: "HS384", wantAlg: "HS384", verify: []byte(hmacSecret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []keycloaktest.Option{keycloaktest.WithResourceServer("api", hmacSecret)}
			if tt.key != nil {
				opts = append(opts, keycloaktest.WithResourceServerKey(tt.key.Public()))
			}
			e := newEnv(t, opts...)
			c := e.client(t, func(cfg *Config) {
				cfg.AuthMethod, cfg.PrivateKey, cfg.AssertionAlgorithm, cfg.KeyID = tt.method, tt.key, tt.alg, "kid-1"
			})
			claims, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
			require.NoError(t, err)
			require.Len(t, claims.Permissions(), 1)
			assert.Equal(t, "Orders", claims.Permissions()[0].ResourceName)

			req := e.srv.LastRequest(keycloaktest.EndpointIntrospection)
			require.NotNil(t, req)
			assert.Empty(t, req.Header.Get("Authorization"))
			assert.Equal(t, e.srv.ClientID(), req.Form.Get("client_id"))
			assert.Equal(t, clientAssertionType, req.Form.Get("client_assertion_type"))
			assert.NotContains(t, req.Form, "client_secret")

			mc := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(req.Form.Get("client_assertion"), mc,
				func(*jwt.Token) (any, error) { return tt.verify, nil },
				jwt.WithValidMethods([]string{tt.wantAlg}),
				jwt.WithTimeFunc(e.clock.Now),
				jwt.WithAudience(e.srv.Issuer()),
				jwt.WithIssuer(e.srv.ClientID()),
				jwt.WithSubject(e.srv.ClientID()),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
			)
			require.NoError(t, err)
			assert.Equal(t, "kid-1", tok.Header["kid"])
			assert.Len(t, mc["jti"], 32)
			exp, err := mc.GetExpirationTime()
			require.NoError(t, err)
			assert.Equal(t, e.clock.Now().Add(DefaultAssertionTTL).Unix(), exp.Unix())
			assertNoSecret(t, hmacSecret, e.logs.String())
		})
	}
}

// replayTransport sends the first client_assertion it saw in place of every
// later one, so the server sees a reused jti.
type replayTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	first string
}

func (rt *replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	_ = r.Body.Close()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	if rt.first == "" {
		rt.first = form.Get("client_assertion")
	} else {
		form.Set("client_assertion", rt.first)
	}
	rt.mu.Unlock()
	enc := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader([]byte(enc))), int64(len(enc))
	return rt.base.RoundTrip(r2)
}

// TestClientAssertionRejected: wrong key, wrong audience, an expired or a
// replayed assertion are refused by the server (Keycloak: 401
// invalid_request "Authentication failed.") and surface as ErrClientAuth,
// an unavailability, never as an inactive token; no key material or secret
// reaches the error or the logs.
func TestClientAssertionRejected(t *testing.T) {
	t.Parallel()
	keys := newTestKeys(t)
	wrong := newTestKeys(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		skew   time.Duration // client clock offset
		replay bool
	}{
		{name: "wrong key", mutate: func(c *Config) { c.PrivateKey = wrong.ec }},
		{name: "wrong hmac secret", mutate: func(c *Config) {
			c.AuthMethod, c.PrivateKey, c.ClientSecret = ClientSecretJWT, nil, "not-"+hmacSecret
		}},
		{name: "wrong audience", mutate: func(c *Config) { c.AssertionAudience = "https://elsewhere.example/realms/x" }},
		{name: "expired", skew: -2 * DefaultAssertionTTL},
		{name: "replayed jti", replay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, keycloaktest.WithResourceServer("api", hmacSecret),
				keycloaktest.WithResourceServerKey(keys.ec.Public()))
			cfg := e.config()
			cfg.AuthMethod, cfg.PrivateKey, cfg.ClientSecret, cfg.ErrorBackoff = PrivateKeyJWT, keys.ec, "", -1
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			hc := e.srv.HTTPClient()
			if tt.replay {
				hc = &http.Client{Transport: &replayTransport{base: hc.Transport}}
			}
			clock := func() time.Time { return e.clock.Now().Add(tt.skew) }
			c, err := New(cfg, WithHTTPClient(hc), WithClock(clock), WithLogger(newTestLogger(e.logs)))
			require.NoError(t, err)
			tok := e.srv.IssueRPT("alice", orders)
			if tt.replay {
				_, err := c.Verify(t.Context(), tok)
				require.NoError(t, err, "the first use of the assertion is accepted")
				tok = e.srv.IssueRPT("bob", orders)
			}
			_, err = c.Verify(t.Context(), tok)
			require.ErrorIs(t, err, ErrClientAuth)
			require.ErrorIs(t, err, ErrUnavailable)
			require.NotErrorIs(t, err, rpt.ErrInvalidToken)
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, http.StatusUnauthorized, ue.StatusCode)

			assertion := e.srv.LastRequest(keycloaktest.EndpointIntrospection).Form.Get("client_assertion")
			require.NotEmpty(t, assertion)
			texts := []string{err.Error(), e.logs.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, cfg)}
			assertNoSecret(t, hmacSecret, texts...)
			for _, s := range texts {
				assert.NotContains(t, s, assertion)
				assert.NotContains(t, s, keys.ec.D.String())
				assert.NotContains(t, s, wrong.ec.D.String())
			}
		})
	}
}

// TestAssertionOverTokenEndpointAnswer: a server answering 400
// invalid_client (Keycloak's token endpoint for a rejected assertion) is
// ErrClientAuth too.
func TestAssertionOverTokenEndpointAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.Respond(keycloaktest.EndpointIntrospection, http.StatusBadRequest, "application/json",
		`{"error":"invalid_client","error_description":"Client authentication with signed JWT failed: Token reuse detected"}`)
	c := e.client(t, nil)
	_, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
	require.ErrorIs(t, err, ErrClientAuth)
	assert.NotContains(t, err.Error(), "reuse")

	e.srv.Respond(keycloaktest.EndpointIntrospection, http.StatusBadRequest, "application/json", `{"error":"invalid_request"}`)
	c = e.client(t, nil)
	_, err = c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, ErrClientAuth)
}

func TestAssertionFreshPerRequest(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	e := newEnv(t, keycloaktest.WithResourceServerKey(key.Public()))
	c := e.client(t, func(cfg *Config) { cfg.AuthMethod, cfg.PrivateKey, cfg.CacheTTL = PrivateKeyJWT, key, -1 })
	tok := e.srv.IssueRPT("alice", orders)
	seen := map[string]bool{}
	for range 3 {
		_, err := c.Verify(t.Context(), tok)
		require.NoError(t, err)
		a := e.srv.LastRequest(keycloaktest.EndpointIntrospection).Form.Get("client_assertion")
		assert.False(t, seen[a], "assertion reused")
		seen[a] = true
	}
	assert.Equal(t, 3, e.introspections())
}

func TestAssertionKeyMismatch(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, alg := range []string{"RS256", "ES384", "HS256", "none"} {
		_, err := New(Config{
			Endpoint: "https://kc.example/i", ClientID: "api", AuthMethod: PrivateKeyJWT,
			PrivateKey: ecKey, AssertionAlgorithm: alg,
			Rules: rpt.ClaimRules{Issuer: "https://kc.example/realms/r", Audience: []string{"api"}},
		})
		require.Error(t, err, alg)
		assert.Contains(t, err.Error(), "does not fit the key")
		assert.Contains(t, err.Error(), "introspection: ")
	}
}
