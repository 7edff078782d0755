package e2e_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// The fixture's realm and credentials. The client secret is distinctive so
// that a leak of it into a response or a log line is detectable.
const (
	realm        = keycloaktest.DefaultRealm
	clientID     = keycloaktest.DefaultClientID
	clientSecret = "e2e-client-s3cret:%+ü" // D13: ':' '%' '+' and non-ASCII
)

// The RFC 6750 challenges of security.md's response contract, for the
// fixture's realm. None carries an error_description (I1).
const (
	chBearer         = `Bearer realm="rptguard"`
	chInvalidToken   = `Bearer realm="rptguard", error="invalid_token"`
	chInvalidRequest = `Bearer realm="rptguard", error="invalid_request"`
	chInsufficient   = `Bearer realm="rptguard", error="insufficient_scope"`
	// chNone asserts that no WWW-Authenticate header is sent.
	chNone = "<none>"
	// chAny skips the exact challenge check (generic rules still apply).
	chAny = ""
)

// reachedHeader is set by the protected handler, and only by it: a response
// carrying it proves the middleware called next.
const (
	reachedHeader = "X-E2e-Reached"
	pathHeader    = "X-E2e-Path"
)

// fixtureF is security.md (f)'s fixture, used by most groups: /public/*
// anonymous, /admin/* needs a permission on Admin, /api/{id} needs scope
// view on Items, /api/orders maps Orders with per-method scopes, everything
// else denied (ENFORCING). Permissions come from the token only, so every
// decision is local and deterministic.
const fixtureF = `{"paths":[
	{"path":"/public/*","enforcement-mode":"DISABLED"},
	{"path":"/admin/*","name":"Admin"},
	{"path":"/api/orders","name":"Orders","methods":[
		{"method":"GET","scopes":["view"]},{"method":"PUT","scopes":["edit"]},{"method":"DELETE","scopes":["delete"]}]},
	{"path":"/api/{id}","name":"Items","methods":[{"method":"GET","scopes":["view"]}]}],
	"rptguard":{"permissions-source":"token"}}`

// shop is the authorization server's side of the fixture.
func shop() []keycloaktest.Option {
	return []keycloaktest.Option{
		keycloaktest.WithResourceServer(clientID, clientSecret),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/api/orders"}, Scopes: []string{"view", "edit", "delete"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Admin", URIs: []string{"/admin/*"}, Scopes: []string{"view"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Items", URIs: []string{"/api/{id}"}, Scopes: []string{"view"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders", Scopes: []string{"view", "edit"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Admin"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Items"}),
	}
}

// ---------------------------------------------------------------------------
// Clock

// fakeClock is a settable clock shared by keycloaktest and the enforcer, so
// time-dependent rows (exp, nbf, iat, cache TTLs, the JWKS refresh cooldown)
// are deterministic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Environment

// env is one end-to-end set-up: an authorization server, an enforcer built
// from a JSON configuration as a user would, and an HTTP server running the
// middleware in front of a handler that records that it was reached.
type env struct {
	kc      *keycloaktest.Server
	e       *enforcer.Enforcer
	srv     *httptest.Server
	clock   *fakeClock
	cfg     enforcer.Config
	reached atomic.Int64
}

type envConfig struct {
	kcOpts    []keycloaktest.Option
	opts      []enforcer.Option
	extraKeys []json.RawMessage
	jwksBody  []byte
	mutate    func(*enforcer.Config)
	noClock   bool
}

type envOption func(*envConfig)

// withKC adds keycloaktest options (after the shop fixture).
func withKC(o ...keycloaktest.Option) envOption {
	return func(c *envConfig) { c.kcOpts = append(c.kcOpts, o...) }
}

// withOpts adds enforcer options.
func withOpts(o ...enforcer.Option) envOption {
	return func(c *envConfig) { c.opts = append(c.opts, o...) }
}

// withExtraKeys publishes more JWKs next to the realm's own keys before the
// enforcer starts (keycloaktest.SetJWKS), for tokens this package signs
// itself byte by byte.
func withExtraKeys(k ...json.RawMessage) envOption {
	return func(c *envConfig) { c.extraKeys = append(c.extraKeys, k...) }
}

// withConfig edits the parsed configuration before New.
func withConfig(f func(*enforcer.Config)) envOption {
	return func(c *envConfig) { c.mutate = f }
}

// withRealClock uses time.Now instead of a fake clock.
func withRealClock() envOption { return func(c *envConfig) { c.noClock = true } }

// parseConfig parses a policy-enforcer JSON document and points it at kc.
func parseConfig(tb testing.TB, kc *keycloaktest.Server, doc string) enforcer.Config {
	tb.Helper()
	cfg, err := enforcer.ParseConfig([]byte(doc))
	require.NoError(tb, err)
	cfg.Realm = kc.Realm()
	cfg.AuthServerURL = kc.URL()
	cfg.Resource = kc.ClientID()
	cfg.Credentials.Secret = enforcer.Secret(kc.ClientSecret())
	return cfg
}

// newKC starts the shop's authorization server.
func newKC(tb testing.TB, clock *fakeClock, o ...keycloaktest.Option) *keycloaktest.Server {
	tb.Helper()
	opts := shop()
	if clock != nil {
		opts = append(opts, keycloaktest.WithClock(clock.Now))
	}
	return keycloaktest.New(tb, append(opts, o...)...)
}

// newEnv builds an environment from a policy-enforcer JSON document.
func newEnv(tb testing.TB, doc string, o ...envOption) *env {
	tb.Helper()
	var c envConfig
	for _, f := range o {
		f(&c)
	}
	v := &env{}
	if !c.noClock {
		v.clock = newFakeClock()
	}
	v.kc = newKC(tb, v.clock, c.kcOpts...)
	if len(c.extraKeys) > 0 {
		publishExtraKeys(tb, v.kc, c.extraKeys)
	}
	v.cfg = parseConfig(tb, v.kc, doc)
	if c.mutate != nil {
		c.mutate(&v.cfg)
	}
	opts := []enforcer.Option{enforcer.WithHTTPClient(v.kc.HTTPClient())}
	if v.clock != nil {
		opts = append(opts, enforcer.WithClock(v.clock.Now))
	}
	e, err := enforcer.New(context.Background(), v.cfg, append(opts, c.opts...)...)
	require.NoError(tb, err)
	v.e = e
	tb.Cleanup(e.Close)
	v.srv = httptestServer(tb, e.Middleware(v.handler()))
	return v
}

// httptestServer starts h on a loopback server closed at cleanup.
func httptestServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(h)
	tb.Cleanup(s.Close)
	return s
}

// handler is the protected application: it marks its responses so a test
// can tell that the middleware let the request through, and echoes the
// path it saw (F26).
func (v *env) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.reached.Add(1)
		ac, ok := enforcer.FromContext(r.Context())
		w.Header().Set(reachedHeader, "1")
		w.Header().Set(pathHeader, r.URL.EscapedPath())
		if !ok || !ac.Granted() {
			w.WriteHeader(http.StatusTeapot) // reached without a grant: always a bug
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func (v *env) now() time.Time {
	if v.clock != nil {
		return v.clock.Now()
	}
	return time.Now()
}

// publishExtraKeys serves the realm's JWKS plus keys.
func publishExtraKeys(tb testing.TB, kc *keycloaktest.Server, keys []json.RawMessage) {
	tb.Helper()
	res, err := kc.HTTPClient().Get(kc.JWKSURL())
	require.NoError(tb, err)
	defer res.Body.Close()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(tb, json.NewDecoder(res.Body).Decode(&set))
	set.Keys = append(set.Keys, keys...)
	b, err := json.Marshal(set)
	require.NoError(tb, err)
	kc.SetJWKS(b)
	kc.ResetCounters()
}

// ---------------------------------------------------------------------------
// Requests

// result is what a client saw.
type result struct {
	status  int
	header  http.Header
	body    string
	reached bool
	path    string // the escaped path the handler saw (if reached)
}

func toResult(tb testing.TB, res *http.Response) result {
	tb.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	require.NoError(tb, err)
	return result{
		status: res.StatusCode, header: res.Header, body: string(b),
		reached: res.Header.Get(reachedHeader) == "1", path: res.Header.Get(pathHeader),
	}
}

// client never follows redirects (a 302 to on-deny-redirect-to is the
// answer under test) and never waits long.
func (v *env) client() *http.Client {
	c := *v.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 20 * time.Second
	return &c
}

// send sends req to the middleware's server.
func (v *env) send(tb testing.TB, req *http.Request) result {
	tb.Helper()
	res, err := v.client().Do(req)
	require.NoError(tb, err)
	return toResult(tb, res)
}

// do sends method target (path and query) with an optional bearer token and
// extra header name/value pairs.
func (v *env) do(tb testing.TB, method, target, token string, hdr ...string) result {
	tb.Helper()
	req, err := http.NewRequest(method, v.srv.URL+target, nil)
	require.NoError(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return v.send(tb, req)
}

// raw writes a request line and headers to the server over a TCP socket, so
// that no Go client cleans or re-encodes the target, and reads the response.
func (v *env) raw(tb testing.TB, requestLine string, headers ...string) result {
	tb.Helper()
	return rawTo(tb, v.srv, requestLine, headers...)
}

func rawTo(tb testing.TB, srv *httptest.Server, requestLine string, headers ...string) result {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	require.NoError(tb, err)
	defer conn.Close()
	require.NoError(tb, conn.SetDeadline(time.Now().Add(20*time.Second)))
	var b strings.Builder
	b.WriteString(requestLine + "\r\nConnection: close\r\n")
	hasHost := false
	for _, h := range headers {
		hasHost = hasHost || strings.HasPrefix(strings.ToLower(h), "host:")
	}
	if !hasHost {
		b.WriteString("Host: e2e.example\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(conn, b.String())
	require.NoError(tb, err)
	method, _, _ := strings.Cut(requestLine, " ")
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	require.NoError(tb, err)
	return toResult(tb, res)
}

// ---------------------------------------------------------------------------
// The response contract

// check asserts security.md's response contract for one response: the
// status; the exact WWW-Authenticate challenge (chAny: only the generic
// rules; chNone: absent); the handler reached exactly when the request was
// allowed; Allow on 405, Retry-After on 503; a generic body on every denial;
// and none of the secrets (tokens, the client secret) in the body or any
// header (I1–I4).
func check(tb testing.TB, r result, status int, challenge string, secrets ...string) {
	tb.Helper()
	require.Equal(tb, status, r.status, "status (body %q)", r.body)
	www := r.header.Values("WWW-Authenticate")
	switch challenge {
	case chAny:
	case chNone:
		assert.Empty(tb, www, "no challenge expected")
	default:
		assert.Equal(tb, []string{challenge}, www, "WWW-Authenticate")
	}
	for _, w := range www {
		assert.NotContains(tb, w, "error_description", "I1: no description")
		assert.NotContains(tb, w, "error_uri")
	}
	allowed := status >= 200 && status < 300
	assert.Equal(tb, allowed, r.reached, "handler reached exactly when allowed")
	if allowed {
		assert.NotEqual(tb, http.StatusTeapot, status)
	} else {
		// The default deny handler's generic body (empty for HEAD).
		assert.Contains(tb, []string{http.StatusText(status) + "\n", ""}, r.body, "generic denial body (I1, I2, I8)")
		assert.Equal(tb, "no-store", r.header.Get("Cache-Control"))
	}
	switch status {
	case http.StatusUnauthorized:
		require.Len(tb, www, 1, "401 carries one challenge")
		assert.True(tb, strings.HasPrefix(www[0], chBearer) || strings.HasPrefix(www[0], `UMA realm="rptguard"`), www[0])
	case http.StatusMethodNotAllowed:
		allow := r.header.Get("Allow")
		assert.NotEmpty(tb, allow, "405 carries Allow (RFC 9110 §15.5.6)")
		assert.NotContains(tb, allow, "CONNECT")
		assert.NotContains(tb, allow, "TRACE")
	case http.StatusServiceUnavailable:
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		assert.NoError(tb, err, "503 carries Retry-After in seconds")
		assert.GreaterOrEqual(tb, ra, 1)
	}
	assertNoSecrets(tb, r, append(secrets, clientSecret)...)
}

// assertNoSecrets fails if any secret (or the signature part of a token)
// appears in the body or a header of r.
func assertNoSecrets(tb testing.TB, r result, secrets ...string) {
	tb.Helper()
	var hay strings.Builder
	hay.WriteString(r.body)
	for k, vs := range r.header {
		hay.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	all := hay.String()
	for _, s := range secrets {
		for _, frag := range secretFragments(s) {
			assert.NotContains(tb, all, frag, "secret material in the response (I1-I4)")
		}
	}
}

// secretFragments returns the parts of s whose presence would be a leak:
// s itself and, for a JWT, its signature and payload segments.
func secretFragments(s string) []string {
	if len(s) < 8 {
		return nil
	}
	out := []string{s}
	parts := strings.Split(s, ".")
	if len(parts) >= 3 {
		for _, p := range parts[1:] {
			if len(p) >= 16 {
				out = append(out, p[:16])
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Tokens

// perm names a resource of the fixture by id and name.
func perm(kc *keycloaktest.Server, name string, scopes ...string) rpt.Permission {
	return rpt.Permission{ResourceID: kc.ResourceID(name), ResourceName: name, Scopes: scopes}
}

// claims is a complete, valid claim set granting Admin (GET /admin/x → 200)
// at the env's time. Rows change one thing in it.
func (v *env) claims() map[string]any {
	now := v.now()
	return map[string]any{
		"iss": v.kc.Issuer(), "aud": v.kc.ClientID(), "sub": "e2e-subject", "typ": "Bearer",
		"azp": v.kc.ClientID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": randomID(),
		"authorization": map[string]any{"permissions": []any{
			map[string]any{"rsid": v.kc.ResourceID("Admin"), "rsname": "Admin"},
		}},
	}
}

// with returns a copy of the valid claim set with k set to val (or deleted
// when val is deleteClaim).
func (v *env) with(kv ...any) map[string]any {
	c := v.claims()
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == deleteClaim {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

type deleteMarker struct{}

var deleteClaim = deleteMarker{}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// payloadJSON renders the valid claim set as JSON text with extra members
// appended verbatim (for duplicate keys and other shapes a map cannot hold).
func (v *env) payloadJSON(tb testing.TB, extra string) string {
	tb.Helper()
	b, err := json.Marshal(v.claims())
	require.NoError(tb, err)
	s := strings.TrimSuffix(string(b), "}")
	return s + extra + "}"
}

var b64 = base64.RawURLEncoding

// ---------------------------------------------------------------------------
// Keys this package signs with itself (published through withExtraKeys)

// ownKey is a key whose private half the test holds, so tokens can be
// built byte by byte: any header, any payload bytes, a valid signature.
type ownKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

var (
	rsaOnce = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	ecOnce  = sync.OnceValues(func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	weak    = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 1024) })
)

func ownRSA(tb testing.TB) ownKey {
	tb.Helper()
	k, err := rsaOnce()
	require.NoError(tb, err)
	return ownKey{kid: "e2e-rsa", alg: "RS256", priv: k}
}

func ownEC(tb testing.TB) ownKey {
	tb.Helper()
	k, err := ecOnce()
	require.NoError(tb, err)
	return ownKey{kid: "e2e-ec", alg: "ES256", priv: k}
}

func ownWeakRSA(tb testing.TB) ownKey {
	tb.Helper()
	k, err := weak()
	require.NoError(tb, err)
	return ownKey{kid: "e2e-rsa1024", alg: "RS256", priv: k}
}

// jwk renders the public key as a JWK with the given extra members.
func (k ownKey) jwk(tb testing.TB, extra map[string]any) json.RawMessage {
	tb.Helper()
	m := map[string]any{"kid": k.kid, "use": "sig", "alg": k.alg}
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64.EncodeToString(p.N.Bytes())
		m["e"] = b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"], m["crv"] = "EC", "P-256"
		pt, err := p.Bytes()
		require.NoError(tb, err)
		m["x"], m["y"] = b64.EncodeToString(pt[1:33]), b64.EncodeToString(pt[33:])
	}
	for kk, vv := range extra {
		if vv == nil {
			delete(m, kk)
		} else {
			m[kk] = vv
		}
	}
	b, err := json.Marshal(m)
	require.NoError(tb, err)
	return b
}

// sign signs signingInput with the key's real algorithm and returns the
// JWS signature bytes (R‖S for ECDSA).
func (k ownKey) sign(tb testing.TB, signingInput string) []byte {
	tb.Helper()
	h := sha256.Sum256([]byte(signingInput))
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		if k.alg == "RS512" {
			h512 := sha512.Sum512([]byte(signingInput))
			s, err := rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA512, h512[:])
			require.NoError(tb, err)
			return s
		}
		s, err := rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, h[:])
		require.NoError(tb, err)
		return s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, h[:])
		require.NoError(tb, err)
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	tb.Fatal("unsupported key")
	return nil
}

// token builds a compact JWS from exact header and payload JSON text,
// signed with k.
func (k ownKey) token(tb testing.TB, header, payload string) string {
	tb.Helper()
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return in + "." + b64.EncodeToString(k.sign(tb, in))
}

// header is the JOSE header of k with extra members appended verbatim.
func (k ownKey) header(extra string) string {
	return fmt.Sprintf(`{"alg":%q,"typ":"JWT","kid":%q%s}`, k.alg, k.kid, extra)
}
