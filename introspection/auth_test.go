package introspection

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// TestClientAssertion: private_key_jwt and client_secret_jwt send a fresh
// RFC 7523 assertion (iss = sub = client id, aud, jti, iat, exp) in the form.
// keycloaktest does not accept assertions, so the server's 401 is expected;
// the recorded request is what is checked.
func TestClientAssertion(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	const secret = "hmac-secret-0123456789-0123456789"

	tests := []struct {
		name    string
		method  AuthMethod
		key     crypto.Signer
		alg     string
		wantAlg string
		verify  any
	}{
		{name: "rsa", method: PrivateKeyJWT, key: rsaKey, wantAlg: "RS256", verify: &rsaKey.PublicKey},
		{name: "rsa-pss", method: PrivateKeyJWT, key: rsaKey, alg: "PS256", wantAlg: "PS256", verify: &rsaKey.PublicKey},
		{name: "ecdsa", method: PrivateKeyJWT, key: ecKey, wantAlg: "ES256", verify: &ecKey.PublicKey},
		{name: "ed25519", method: PrivateKeyJWT, key: edKey, wantAlg: "EdDSA", verify: edKey.Public()},
		{name: "client secret jwt", method: ClientSecretJWT, wantAlg: "HS256", verify: []byte(secret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.client(t, func(cfg *Config) {
				cfg.AuthMethod, cfg.PrivateKey, cfg.AssertionAlgorithm, cfg.KeyID = tt.method, tt.key, tt.alg, "kid-1"
				if tt.method == ClientSecretJWT {
					cfg.ClientSecret = secret
				}
			})
			_, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
			require.ErrorIs(t, err, ErrClientAuth)

			req := e.srv.LastRequest(keycloaktest.EndpointIntrospection)
			require.NotNil(t, req)
			assert.Empty(t, req.Header.Get("Authorization"))
			assert.Equal(t, e.srv.ClientID(), req.Form.Get("client_id"))
			assert.Equal(t, clientAssertionType, req.Form.Get("client_assertion_type"))
			assert.NotContains(t, req.Form, "client_secret")

			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(req.Form.Get("client_assertion"), claims,
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
			assert.Len(t, claims["jti"], 32)
			exp, err := claims.GetExpirationTime()
			require.NoError(t, err)
			assert.Equal(t, e.clock.Now().Add(DefaultAssertionTTL).Unix(), exp.Unix())
			if tt.method == ClientSecretJWT {
				assertNoSecret(t, secret, err2string(err), e.logs.String())
			}
		})
	}
}

func err2string(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAssertionFreshPerRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := e.client(t, func(cfg *Config) { cfg.AuthMethod, cfg.PrivateKey, cfg.ErrorBackoff = PrivateKeyJWT, key, -1 })
	tok := e.srv.IssueRPT("alice", orders)
	seen := map[string]bool{}
	for range 3 {
		_, err := c.Verify(t.Context(), tok)
		require.ErrorIs(t, err, ErrClientAuth)
		a := e.srv.LastRequest(keycloaktest.EndpointIntrospection).Form.Get("client_assertion")
		assert.False(t, seen[a], "assertion reused")
		seen[a] = true
		e.clock.Advance(time.Second)
	}
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
	}
}
