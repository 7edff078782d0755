package enforcer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

const credSecret = "enforcer-s3cret-0123456789abcdef"

// writePEM writes blocks to a file in a test directory and returns its path.
func writePEM(tb testing.TB, blocks ...*pem.Block) string {
	tb.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	p := filepath.Join(tb.TempDir(), "client-key.pem")
	require.NoError(tb, os.WriteFile(p, data, 0o600))
	return p
}

func pkcs8(tb testing.TB, k crypto.Signer) *pem.Block {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(tb, err)
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func selfSigned(tb testing.TB, k crypto.Signer) *pem.Block {
	tb.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	require.NoError(tb, err)
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}
}

// credConfig is an enforcer config for kc with the given credentials JSON,
// verifying tokens by introspection so both clients authenticate.
func credConfig(tb testing.TB, kc *keycloaktest.Server, credentials string) enforcer.Config {
	tb.Helper()
	doc := `{"paths":[{"path":"/orders/*","name":"Orders"}],"rptguard":{"token-verification":"introspection"},"credentials":` + credentials + `}`
	cfg, err := enforcer.ParseConfig([]byte(doc))
	require.NoError(tb, err)
	cfg.Realm, cfg.AuthServerURL, cfg.Resource = kc.Realm(), kc.URL(), kc.ClientID()
	return cfg
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestClientCredentialsEndToEnd: credentials.jwt (PEM key) and
// credentials.secret-jwt authenticate the enforcer's PAT requests and its
// introspection calls to keycloaktest with RFC 7523 assertions.
func TestClientCredentialsEndToEnd(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)

	tests := []struct {
		name    string
		key     crypto.Signer // nil: secret-jwt
		file    func(t *testing.T) string
		extra   string // extra keys of the "jwt" object
		wantAlg string
	}{
		{name: "pkcs8 rsa", key: rsaKey, file: func(t *testing.T) string { return writePEM(t, pkcs8(t, rsaKey)) }, wantAlg: "RS256"},
		{name: "pkcs1 rsa with cert, PEM type", key: rsaKey, extra: `,"client-keystore-type":"PEM","algorithm":"PS256","token-expiration":30`,
			file: func(t *testing.T) string {
				return writePEM(t, selfSigned(t, rsaKey), &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
			}, wantAlg: "PS256"},
		{name: "sec1 ec", key: ecKey, file: func(t *testing.T) string {
			return writePEM(t, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
		}, wantAlg: "ES256"},
		{name: "pkcs8 ed25519", key: edKey, file: func(t *testing.T) string { return writePEM(t, pkcs8(t, edKey)) }, wantAlg: "EdDSA"},
		{name: "secret-jwt", wantAlg: "HS384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []keycloaktest.Option{keycloaktest.WithResourceServer("orders-api", credSecret),
				keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"view"}})}
			creds := `{"secret-jwt":{"secret":` + quoteJSON(credSecret) + `,"algorithm":"HS384"}}`
			if tt.key != nil {
				opts = append(opts, keycloaktest.WithResourceServerKey(tt.key.Public()))
				creds = `{"jwt":{"client-keystore-file":` + quoteJSON(tt.file(t)) + tt.extra + `}}`
			}
			kc := keycloaktest.New(t, opts...)
			e, err := enforcer.New(context.Background(), credConfig(t, kc, creds), enforcer.WithHTTPClient(kc.HTTPClient()))
			require.NoError(t, err)
			t.Cleanup(e.Close)
			h := e.Middleware(echo)

			tok := kc.IssueRPT("alice", rpt.Permission{ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"view"}})
			req, err := http.NewRequest(http.MethodGet, "/orders/1", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := newRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

			for _, ep := range []keycloaktest.Endpoint{keycloaktest.EndpointToken, keycloaktest.EndpointIntrospection} {
				last := kc.LastRequest(ep)
				require.NotNil(t, last, ep)
				assert.Empty(t, last.Header.Get("Authorization"), ep)
				assert.NotContains(t, last.Form, "client_secret", ep)
				assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", last.Form.Get("client_assertion_type"), ep)
				tk, _, err := jwt.NewParser().ParseUnverified(last.Form.Get("client_assertion"), jwt.MapClaims{})
				require.NoError(t, err)
				assert.Equal(t, tt.wantAlg, tk.Method.Alg())
				claims := tk.Claims.(jwt.MapClaims)
				assert.Equal(t, kc.Issuer(), claims["aud"])
				iat, exp := claims["iat"].(float64), claims["exp"].(float64)
				wantTTL := 10.0
				if tt.name == "pkcs1 rsa with cert, PEM type" {
					wantTTL = 30
				}
				assert.Equal(t, wantTTL, exp-iat, "token-expiration (default 10 s, Keycloak's)")
				if tt.key != nil {
					der, err := x509.MarshalPKIXPublicKey(tt.key.Public())
					require.NoError(t, err)
					sum := sha256.Sum256(der)
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), tk.Header["kid"], "Keycloak's KeyUtils.createKeyId")
				}
			}
		})
	}
}

// TestClientCredentialsRejected: a key the server does not know makes New
// fail with the uma client's ErrInvalidClient, without key material or
// secrets in the error.
func TestClientCredentialsRejected(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	kc := keycloaktest.New(t, keycloaktest.WithResourceServerKey(other.Public()),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}}))
	block := pkcs8(t, key)
	path := writePEM(t, block)
	_, err = enforcer.New(context.Background(), credConfig(t, kc, `{"jwt":{"client-keystore-file":`+quoteJSON(path)+`}}`),
		enforcer.WithHTTPClient(kc.HTTPClient()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_client")
	assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(block.Bytes)[:40])
	assert.NotContains(t, err.Error(), key.D.String())
}

func TestClientCredentialsConfigErrors(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	good := writePEM(t, pkcs8(t, key))
	dir := t.TempDir()
	jks := filepath.Join(dir, "client.jks")
	require.NoError(t, os.WriteFile(jks, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1}, 0o600))
	encrypted := writePEM(t, &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")})
	legacyEnc := writePEM(t, &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"},
		Bytes: []byte("opaque")})
	twoKeys := writePEM(t, pkcs8(t, key), pkcs8(t, rsaKey))
	certOnly := writePEM(t, selfSigned(t, key))
	garbled := writePEM(t, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not der")})
	kc := keycloaktest.New(t)
	jwtCred := func(extra string) string { return `{"jwt":{"client-keystore-file":` + quoteJSON(good) + extra + `}}` }
	file := func(p string) string { return `{"jwt":{"client-keystore-file":` + quoteJSON(p) + `}}` }
	tests := []struct {
		name      string
		creds     string
		wantField string
		wantText  string
	}{
		{name: "jks type", creds: jwtCred(`,"client-keystore-type":"JKS"`), wantField: "credentials.jwt.client-keystore-type", wantText: "not supported"},
		{name: "pkcs12 type", creds: jwtCred(`,"client-keystore-type":"PKCS12"`), wantField: "credentials.jwt.client-keystore-type", wantText: "PEM"},
		{name: "jks file without type", creds: file(jks), wantField: "credentials.jwt.client-keystore-file", wantText: "not a PEM file"},
		{name: "missing file", creds: file(filepath.Join(dir, "nope.pem")), wantField: "credentials.jwt.client-keystore-file", wantText: "cannot open"},
		{name: "no file", creds: `{"jwt":{"algorithm":"RS256"}}`, wantField: "credentials.jwt.client-keystore-file", wantText: "required"},
		{name: "classpath", creds: file("classpath:keystore.jks"), wantField: "credentials.jwt.client-keystore-file", wantText: "classpath"},
		{name: "encrypted pkcs8", creds: file(encrypted), wantField: "credentials.jwt.client-keystore-file", wantText: "encrypted"},
		{name: "encrypted legacy", creds: file(legacyEnc), wantField: "credentials.jwt.client-keystore-file", wantText: "encrypted"},
		{name: "two keys", creds: file(twoKeys), wantField: "credentials.jwt.client-keystore-file", wantText: "more than one"},
		{name: "certificate only", creds: file(certOnly), wantField: "credentials.jwt.client-keystore-file", wantText: "no private key"},
		{name: "garbled der", creds: file(garbled), wantField: "credentials.jwt.client-keystore-file", wantText: "invalid PRIVATE KEY"},
		{name: "algorithm does not fit", creds: jwtCred(`,"algorithm":"RS256"`), wantField: "credentials.jwt.algorithm", wantText: "does not fit"},
		{name: "secret-jwt rs256", creds: `{"secret-jwt":{"secret":"` + credSecret + `","algorithm":"RS256"}}`, wantField: "credentials.secret-jwt.algorithm"},
		{name: "secret-jwt empty", creds: `{"secret-jwt":{"algorithm":"HS256"}}`, wantField: "credentials.secret-jwt.secret", wantText: "required"},
		{name: "ambiguous", creds: `{"secret":"` + credSecret + `","secret-jwt":{"secret":"` + credSecret + `"}}`, wantField: "credentials", wantText: "provider"},
		{name: "provider not configured", creds: `{"secret":"` + credSecret + `","provider":"jwt"}`, wantField: "credentials.provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := enforcer.New(context.Background(), credConfig(t, kc, tt.creds), enforcer.WithHTTPClient(kc.HTTPClient()))
			require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
			var ce *enforcer.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantField, ce.Field)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.NotContains(t, err.Error(), credSecret)
			assert.NotContains(t, err.Error(), key.D.String())
		})
	}
}

// TestCredentialsProviderSelects: with several entries, Keycloak's
// "provider" key picks one.
func TestCredentialsProviderSelects(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithResourceServer("orders-api", credSecret),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}}))
	creds := fmt.Sprintf(`{"provider":"secret","secret":%s,"jwt":{"client-keystore-file":"/nonexistent.jks"}}`, quoteJSON(credSecret))
	e, err := enforcer.New(context.Background(), credConfig(t, kc, creds), enforcer.WithHTTPClient(kc.HTTPClient()))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	last := kc.LastRequest(keycloaktest.EndpointToken)
	require.NotNil(t, last)
	assert.NotEmpty(t, last.Header.Get("Authorization"), "client_secret_basic")
	assert.NotContains(t, last.Form, "client_assertion")
}
