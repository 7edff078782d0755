package clientauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "p:ss%20w+rd/ü€ ="

func TestBasicAuthorization(t *testing.T) {
	t.Parallel()
	got := BasicAuthorization("api:v2+ü", secret)
	raw, err := base64.StdEncoding.DecodeString(got[len("Basic "):])
	require.NoError(t, err)
	assert.Equal(t, url.QueryEscape("api:v2+ü")+":"+url.QueryEscape(secret), string(raw))
}

func TestApplySecretMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    Method
		wantAuthz string
		wantForm  url.Values
	}{
		{name: "default is basic", wantAuthz: BasicAuthorization("api", secret), wantForm: url.Values{}},
		{name: "basic", method: ClientSecretBasic, wantAuthz: BasicAuthorization("api", secret), wantForm: url.Values{}},
		{name: "post", method: ClientSecretPost, wantForm: url.Values{"client_id": {"api"}, "client_secret": {secret}}},
		{name: "none", method: None, wantForm: url.Values{"client_id": {"api"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(Config{Method: tt.method, ClientID: "api", Secret: secret})
			require.NoError(t, err)
			form := url.Values{}
			authz, err := a.Apply(form, time.Now())
			require.NoError(t, err)
			assert.Equal(t, tt.wantAuthz, authz)
			assert.Equal(t, tt.wantForm, form)
			_, err = a.Assertion(time.Now())
			require.Error(t, err)
		})
	}
}

func TestAssertion(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ec256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ec521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		method  Method
		key     crypto.Signer
		alg     string
		ttl     time.Duration
		wantAlg string
		verify  any
	}{
		{name: "rsa default", method: PrivateKeyJWT, key: rsaKey, wantAlg: "RS256", verify: &rsaKey.PublicKey},
		{name: "rsa rs512", method: PrivateKeyJWT, key: rsaKey, alg: "RS512", wantAlg: "RS512", verify: &rsaKey.PublicKey},
		{name: "rsa ps256", method: PrivateKeyJWT, key: rsaKey, alg: "PS256", wantAlg: "PS256", verify: &rsaKey.PublicKey},
		{name: "ec p256", method: PrivateKeyJWT, key: ec256, wantAlg: "ES256", verify: &ec256.PublicKey},
		{name: "ec p521", method: PrivateKeyJWT, key: ec521, wantAlg: "ES512", verify: &ec521.PublicKey},
		{name: "ed25519", method: PrivateKeyJWT, key: edKey, wantAlg: "EdDSA", verify: edKey.Public(), ttl: 10 * time.Second},
		{name: "hs256", method: ClientSecretJWT, wantAlg: "HS256", verify: []byte(secret)},
		{name: "hs512", method: ClientSecretJWT, alg: "HS512", wantAlg: "HS512", verify: []byte(secret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(Config{Method: tt.method, ClientID: "api", Secret: secret, PrivateKey: tt.key,
				Algorithm: tt.alg, KeyID: "k", Audience: "https://kc.example/realms/r", TTL: tt.ttl})
			require.NoError(t, err)
			form := url.Values{"grant_type": {"client_credentials"}}
			authz, err := a.Apply(form, now)
			require.NoError(t, err)
			assert.Empty(t, authz)
			assert.Equal(t, "api", form.Get("client_id"))
			assert.Equal(t, AssertionType, form.Get("client_assertion_type"))
			assert.NotContains(t, form, "client_secret")
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(form.Get("client_assertion"), claims,
				func(*jwt.Token) (any, error) { return tt.verify, nil },
				jwt.WithValidMethods([]string{tt.wantAlg}), jwt.WithTimeFunc(func() time.Time { return now }),
				jwt.WithAudience("https://kc.example/realms/r"), jwt.WithIssuer("api"), jwt.WithSubject("api"),
				jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			require.NoError(t, err)
			assert.Equal(t, "k", tok.Header["kid"])
			ttl := tt.ttl
			if ttl == 0 {
				ttl = DefaultAssertionTTL
			}
			assert.Equal(t, float64(now.Add(ttl).Unix()), claims["exp"])
			assert.Equal(t, float64(now.Unix()), claims["iat"])
			assert.Len(t, claims["jti"], 32)

			second, err := a.Assertion(now)
			require.NoError(t, err)
			assert.NotEqual(t, form.Get("client_assertion"), second, "a fresh jti per assertion")
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ec224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	const aud = "https://kc.example/realms/r"
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no client id", cfg: Config{Secret: secret}, wantErr: "client id"},
		{name: "control char in client id", cfg: Config{ClientID: "a\nb", Secret: secret}, wantErr: "control"},
		{name: "basic without secret", cfg: Config{ClientID: "api"}, wantErr: "client_secret_basic needs a client secret"},
		{name: "post without secret", cfg: Config{ClientID: "api", Method: ClientSecretPost}, wantErr: "needs a client secret"},
		{name: "secret jwt without secret", cfg: Config{ClientID: "api", Method: ClientSecretJWT, Audience: aud}, wantErr: "needs a client secret"},
		{name: "secret jwt rs256", cfg: Config{ClientID: "api", Method: ClientSecretJWT, Secret: secret, Algorithm: "RS256", Audience: aud}, wantErr: "unsupported algorithm"},
		{name: "secret jwt none", cfg: Config{ClientID: "api", Method: ClientSecretJWT, Secret: secret, Algorithm: "none", Audience: aud}, wantErr: "unsupported algorithm"},
		{name: "private key jwt without key", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, Audience: aud}, wantErr: "needs a private key"},
		{name: "ec with rs256", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, PrivateKey: ecKey, Algorithm: "RS256", Audience: aud}, wantErr: "does not fit the key"},
		{name: "ec with es384", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, PrivateKey: ecKey, Algorithm: "ES384", Audience: aud}, wantErr: "does not fit the key"},
		{name: "ec with hs256", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, PrivateKey: ecKey, Algorithm: "HS256", Audience: aud}, wantErr: "does not fit the key"},
		{name: "p224", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, PrivateKey: ec224, Audience: aud}, wantErr: "unsupported elliptic curve"},
		{name: "no audience", cfg: Config{ClientID: "api", Method: PrivateKeyJWT, PrivateKey: ecKey}, wantErr: "audience"},
		{name: "unknown method", cfg: Config{ClientID: "api", Method: "tls_client_auth", Secret: secret}, wantErr: "unsupported client authentication method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, err.Error(), ecKey.D.String())
		})
	}
}

// TestNoSecretInOutput: a Secret and an Authenticator print no secret
// under any fmt verb, slog or JSON.
func TestNoSecretInOutput(t *testing.T) {
	t.Parallel()
	s := Secret(secret)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	a, err := New(Config{Method: ClientSecretBasic, ClientID: "api", Secret: s})
	require.NoError(t, err)
	k, err := New(Config{Method: PrivateKeyJWT, ClientID: "api", PrivateKey: key, Audience: "aud"})
	require.NoError(t, err)

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("x", "secret", s, "auth", a)
	js, err := json.Marshal(struct{ S Secret }{s})
	require.NoError(t, err)
	out := fmt.Sprintf("%s %v %+v %#v %q %x %X %10s", s, s, s, s, s, s, s, s) +
		fmt.Sprintf("%s %v %+v %#v", a, a, a, a) + fmt.Sprintf("%v %+v %#v", k, k, k) +
		logs.String() + string(js)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("api") + ":" + url.QueryEscape(secret)))
	for _, leak := range []string{secret, basic, fmt.Sprintf("%x", secret), key.D.String()} {
		assert.NotContains(t, out, leak)
	}
	assert.Contains(t, out, Redacted)
	assert.Equal(t, "", Secret("").String())
	assert.Equal(t, `clientauth.Secret("[REDACTED]")`, fmt.Sprintf("%#v", s))
}
