package uma_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/uma"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	umaSecret     = "uma-s3cret:with%odd+chars"
)

// TestPATClientAuthMethods: the PAT is obtained end to end with each of the
// four client authentication methods, and the token endpoint sees exactly
// what RFC 6749 §2.3.1 / RFC 7523 §2.2 prescribe.
func TestPATClientAuthMethods(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name    string
		method  uma.AuthMethod
		key     crypto.Signer
		alg     string
		wantAlg string
	}{
		{name: "default basic"},
		{name: "basic", method: uma.AuthClientSecretBasic},
		{name: "post", method: uma.AuthClientSecretPost},
		{name: "private_key_jwt rsa", method: uma.AuthPrivateKeyJWT, key: rsaKey, wantAlg: "RS256"},
		{name: "private_key_jwt rsa-pss", method: uma.AuthPrivateKeyJWT, key: rsaKey, alg: "PS384", wantAlg: "PS384"},
		{name: "private_key_jwt ecdsa p384", method: uma.AuthPrivateKeyJWT, key: ecKey, wantAlg: "ES384"},
		{name: "private_key_jwt ed25519", method: uma.AuthPrivateKeyJWT, key: edKey, wantAlg: "EdDSA"},
		{name: "client_secret_jwt", method: uma.AuthClientSecretJWT, wantAlg: "HS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			opts := []keycloaktest.Option{keycloaktest.WithClock(clock.Now), keycloaktest.WithResourceServer("orders-api", umaSecret)}
			if tt.key != nil {
				opts = append(opts, keycloaktest.WithResourceServerKey(tt.key.Public()))
			}
			srv := newServer(t, opts...)
			cfg := configFor(srv)
			cfg.AuthMethod, cfg.PrivateKey, cfg.AssertionAlgorithm, cfg.KeyID = tt.method, tt.key, tt.alg, "k1"
			if tt.key != nil {
				cfg.Credentials.Secret = "" // the key alone authenticates
			}
			c := newClientWith(t, srv, cfg, uma.WithClock(clock.Now))
			ticket, err := c.CreateTicket(testCtx(t), orders)
			require.NoError(t, err)
			assert.NotEmpty(t, ticket)

			req := srv.LastRequest(keycloaktest.EndpointToken)
			require.NotNil(t, req)
			assert.Equal(t, "client_credentials", req.Form.Get("grant_type"))
			switch tt.method {
			case "", uma.AuthClientSecretBasic:
				raw := url.QueryEscape("orders-api") + ":" + url.QueryEscape(umaSecret)
				assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)), req.Header.Get("Authorization"))
				assert.NotContains(t, req.Form, "client_secret")
			case uma.AuthClientSecretPost:
				assert.Empty(t, req.Header.Get("Authorization"))
				assert.Equal(t, "orders-api", req.Form.Get("client_id"))
				assert.Equal(t, umaSecret, req.Form.Get("client_secret"))
			default:
				assert.Empty(t, req.Header.Get("Authorization"))
				assert.NotContains(t, req.Form, "client_secret")
				assert.Equal(t, "orders-api", req.Form.Get("client_id"))
				assert.Equal(t, assertionType, req.Form.Get("client_assertion_type"))
				tok, _, err := jwt.NewParser().ParseUnverified(req.Form.Get("client_assertion"), jwt.MapClaims{})
				require.NoError(t, err)
				assert.Equal(t, tt.wantAlg, tok.Method.Alg())
				assert.Equal(t, "k1", tok.Header["kid"])
				mc := tok.Claims.(jwt.MapClaims)
				assert.Equal(t, "orders-api", mc["iss"])
				assert.Equal(t, "orders-api", mc["sub"])
				assert.Equal(t, srv.Issuer(), mc["aud"])
				assert.Len(t, mc["jti"], 32)
			}
		})
	}
}

// replayTransport replaces every client_assertion after the first with the
// first one, so the token endpoint sees a reused jti.
type replayTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	first string
}

func (rt *replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Method != http.MethodPost {
		return rt.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	_ = r.Body.Close()
	r2 := r.Clone(r.Context())
	form, err := url.ParseQuery(string(body))
	if err == nil && form.Has("client_assertion") {
		rt.mu.Lock()
		if rt.first == "" {
			rt.first = form.Get("client_assertion")
		} else {
			form.Set("client_assertion", rt.first)
		}
		rt.mu.Unlock()
		body = []byte(form.Encode())
	}
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return rt.base.RoundTrip(r2)
}

// TestPATClientAssertionRejected: a wrong key, a wrong audience, an expired
// or a replayed assertion get Keycloak's 400 invalid_client, which is
// ErrInvalidClient; neither the secret, the key nor the assertion appears in
// the error or the logs.
func TestPATClientAssertionRejected(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	wrongKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name   string
		mutate func(*uma.Config)
		skew   time.Duration
		replay bool
	}{
		{name: "wrong key", mutate: func(c *uma.Config) { c.PrivateKey = wrongKey }},
		{name: "wrong hmac secret", mutate: func(c *uma.Config) {
			c.AuthMethod, c.PrivateKey, c.Credentials.Secret = uma.AuthClientSecretJWT, nil, "not-"+umaSecret
		}},
		{name: "wrong audience", mutate: func(c *uma.Config) { c.AssertionAudience = "https://elsewhere.example/realms/x" }},
		{name: "expired", skew: -5 * time.Minute},
		{name: "replayed jti", replay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			srv := newServer(t, keycloaktest.WithClock(clock.Now), keycloaktest.WithResourceServer("orders-api", umaSecret),
				keycloaktest.WithResourceServerKey(key.Public()))
			cfg := configFor(srv)
			cfg.AuthMethod, cfg.PrivateKey, cfg.Credentials.Secret = uma.AuthPrivateKeyJWT, key, ""
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			hc := srv.HTTPClient()
			if tt.replay {
				hc = &http.Client{Transport: &replayTransport{base: hc.Transport}}
			}
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := newClientWith(t, srv, cfg, uma.WithHTTPClient(hc), uma.WithLogger(logger),
				uma.WithClock(func() time.Time { return clock.Now().Add(tt.skew) }))
			if tt.replay {
				// The first assertion is accepted; the PAT is then dropped
				// after a Protection API 401, and the refresh replays it.
				_, err := c.CreateTicket(testCtx(t), orders)
				require.NoError(t, err)
				srv.Fail(keycloaktest.EndpointPermission, http.StatusUnauthorized)
			}
			_, err := c.CreateTicket(testCtx(t), orders)
			require.ErrorIs(t, err, uma.ErrInvalidClient)
			var ue *uma.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, http.StatusBadRequest, ue.Status)
			assert.Equal(t, "token", ue.Endpoint)
			assert.Contains(t, ue.Description, "Client authentication with")

			assertion := srv.LastRequest(keycloaktest.EndpointToken).Form.Get("client_assertion")
			require.NotEmpty(t, assertion)
			texts := []string{err.Error(), logs.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)}
			for _, s := range texts {
				assert.NotContains(t, s, umaSecret)
				assert.NotContains(t, s, assertion)
				assert.NotContains(t, s, key.D.String())
				assert.NotContains(t, s, wrongKey.D.String())
				assert.NotContains(t, s, ue.Description, "server descriptions stay out of error text")
			}
		})
	}
}

// TestPublicClientNoPAT: with a secret method and no secret the client is
// public; it sends client_id only and cannot get a PAT.
func TestPublicClientNoPAT(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cfg := configFor(srv)
	cfg.ClientID, cfg.Credentials.Secret = "spa", ""
	c := newClientWith(t, srv, cfg)
	_, err := c.CreateTicket(testCtx(t), orders)
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
	assert.Equal(t, 0, srv.Requests(keycloaktest.EndpointToken))
}

// TestTokenEndpointRetryAfter: a 503 with Retry-After from the token
// endpoint is an unavailability; the body never reaches the error.
func TestTokenEndpointRetryAfter(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.RespondWithHeaders(keycloaktest.EndpointToken, http.StatusServiceUnavailable,
		http.Header{"Retry-After": {"30"}}, "application/json",
		`{"error":"temporarily_unavailable","error_description":"internal host kc-7.corp"}`)
	c := newClient(t, srv)
	_, err := c.CreateTicket(testCtx(t), orders)
	require.ErrorIs(t, err, uma.ErrUnavailable)
	assert.NotContains(t, err.Error(), "kc-7.corp")
}
