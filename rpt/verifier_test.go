package rpt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock shared by keycloaktest and the Verifier.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }
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

func config(kc *keycloaktest.Server) rpt.Config {
	return rpt.Config{
		ClaimRules:        rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}},
		JWKSURL:           kc.JWKSURL(),
		InsecureAllowHTTP: true,
	}
}

func newVerifier(tb testing.TB, kc *keycloaktest.Server, cfg rpt.Config, opts ...rpt.Option) *rpt.Verifier {
	tb.Helper()
	opts = append([]rpt.Option{rpt.WithHTTPClient(kc.HTTPClient())}, opts...)
	v, err := rpt.New(context.Background(), cfg, opts...)
	require.NoError(tb, err)
	tb.Cleanup(v.Close)
	return v
}

var enc = base64.RawURLEncoding

func segments(tok string) []string { return strings.Split(tok, ".") }

// withHeader replaces a token's header segment by the JSON of h (the
// signature is then wrong, but header checks come first).
func withHeader(tb testing.TB, tok string, h any) string {
	tb.Helper()
	var b []byte
	switch x := h.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		b, err = json.Marshal(h)
		require.NoError(tb, err)
	}
	s := segments(tok)
	return enc.EncodeToString(b) + "." + s[1] + "." + s[2]
}

func withPayload(tok, payload string) string {
	s := segments(tok)
	return s[0] + "." + enc.EncodeToString([]byte(payload)) + "." + s[2]
}

func TestVerifyValid(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	v := newVerifier(t, kc, config(kc))
	perms := []rpt.Permission{{ResourceID: "r1", ResourceName: "Orders", Scopes: []string{"orders:read"}}}
	c, err := v.Verify(context.Background(), kc.IssueRPT("alice", perms...))
	require.NoError(t, err)
	assert.Equal(t, kc.Issuer(), c.Issuer)
	assert.Equal(t, "alice", c.PreferredUsername)
	assert.Contains(t, c.Audience, kc.ClientID())
	assert.Equal(t, []string{"user"}, c.RealmRoles)
	require.Len(t, c.Permissions(), 1)
	assert.Equal(t, "r1", c.Permissions()[0].ResourceID)

	// Warm: the same *Claims comes from the cache.
	c2, err := v.Verify(context.Background(), kc.IssueRPT("alice", perms...))
	require.NoError(t, err)
	assert.NotSame(t, c, c2)
	tok := kc.AccessToken("bob")
	a, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	b, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.Nil(t, a.Permissions())
}

// TestVerifyTokenCases covers catalogue sections (a), (b) and (c) for local
// verification.
func TestVerifyTokenCases(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	cfg := config(kc)
	cfg.Algorithms = []string{"RS256", "ES256"}
	v := newVerifier(t, kc, cfg)
	good := kc.AccessToken("alice")
	kid := kc.SigningKeyID()
	hdr := func(extra map[string]any) map[string]any {
		h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
		for k, x := range extra {
			h[k] = x
		}
		return h
	}
	s := segments(good)
	padded := s[0] + "=." + s[1] + "." + s[2]
	// A non-canonical last character (unused trailing bits set) in the signature.
	sig := s[2]
	last := sig[len(sig)-1]
	alt := map[byte]byte{'A': 'B', 'Q': 'R', 'g': 'h', 'w': 'x'}[last]
	if alt == 0 {
		alt = last
	}
	nonCanonical := s[0] + "." + s[1] + "." + sig[:len(sig)-1] + string(alt)
	flipped := []byte(good)
	flipped[len(s[0])+10] ^= 0x01

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "valid", token: good},
		{name: "valid lowercase typ header", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("typ", "jwt"))},
		// (a)
		{name: "A1 alg none", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithAlgNone()), wantErr: rpt.ErrMalformed},
		{name: "A1 alg none with signature", token: withHeader(t, good, hdr(map[string]any{"alg": "none"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A2 None", token: withHeader(t, good, hdr(map[string]any{"alg": "None"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A2 NONE", token: withHeader(t, good, hdr(map[string]any{"alg": "NONE"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A2 nOnE", token: withHeader(t, good, hdr(map[string]any{"alg": "nOnE"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A2 hs256", token: withHeader(t, good, hdr(map[string]any{"alg": "hs256"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A2 Rs256", token: withHeader(t, good, hdr(map[string]any{"alg": "Rs256"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A3 alg missing", token: withHeader(t, good, map[string]any{"typ": "JWT", "kid": kid}), wantErr: rpt.ErrMalformed},
		{name: "A3 alg null", token: withHeader(t, good, hdr(map[string]any{"alg": nil})), wantErr: rpt.ErrMalformed},
		{name: "A3 alg number", token: withHeader(t, good, hdr(map[string]any{"alg": 256})), wantErr: rpt.ErrMalformed},
		{name: "A3 alg array", token: withHeader(t, good, hdr(map[string]any{"alg": []string{"RS256"}})), wantErr: rpt.ErrMalformed},
		{name: "A3 alg empty", token: withHeader(t, good, hdr(map[string]any{"alg": ""})), wantErr: rpt.ErrMalformed},
		{name: "A4 HS256 with public key", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHMACPublicKey()), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A5 ES256 with RSA kid", token: withHeader(t, good, hdr(map[string]any{"alg": "ES256"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A6 RS1", token: withHeader(t, good, hdr(map[string]any{"alg": "RS1"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A6 HS1024", token: withHeader(t, good, hdr(map[string]any{"alg": "HS1024"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A6 ES256K", token: withHeader(t, good, hdr(map[string]any{"alg": "ES256K"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A6 PS256 not configured", token: withHeader(t, good, hdr(map[string]any{"alg": "PS256"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A6 EdDSA not configured", token: withHeader(t, good, hdr(map[string]any{"alg": "EdDSA"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A7 embedded jwk with foreign key", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithForeignKey(),
			keycloaktest.WithHeader("jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"})), wantErr: rpt.ErrSignatureInvalid},
		{name: "A7 x5c with foreign key", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithForeignKey(),
			keycloaktest.WithHeader("x5c", []string{"MIIB"}), keycloaktest.WithHeader("x5t", "abc")), wantErr: rpt.ErrSignatureInvalid},
		{name: "A11 kid path traversal", token: withHeader(t, good, hdr(map[string]any{"kid": "../../../../dev/null"})), wantErr: rpt.ErrKeyNotFound},
		{name: "A11 kid sql", token: withHeader(t, good, hdr(map[string]any{"kid": "' OR 1=1--"})), wantErr: rpt.ErrKeyNotFound},
		{name: "A11 kid NUL", token: withHeader(t, good, hdr(map[string]any{"kid": "\x00"})), wantErr: rpt.ErrKeyNotFound},
		{name: "A11 kid 10kB", token: withHeader(t, good, hdr(map[string]any{"kid": strings.Repeat("k", 10000)})), wantErr: rpt.ErrMalformed},
		{name: "A11 kid number", token: withHeader(t, good, hdr(map[string]any{"kid": 1})), wantErr: rpt.ErrMalformed},
		{name: "A11 kid object", token: withHeader(t, good, hdr(map[string]any{"kid": map[string]any{}})), wantErr: rpt.ErrMalformed},
		{name: "A12 no kid, single key", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithoutKeyID())},
		{name: "A17 signature stripped", token: s[0] + "." + s[1] + ".", wantErr: rpt.ErrMalformed},
		{name: "A17 two segments", token: s[0] + "." + s[1], wantErr: rpt.ErrMalformed},
		{name: "A18 bit flipped", token: string(flipped), wantErr: rpt.ErrInvalidToken},
		{name: "A18 header re-encoded", token: withHeader(t, good, fmt.Sprintf(`{ "alg":"RS256", "kid":%q, "typ":"JWT" }`, kid)), wantErr: rpt.ErrSignatureInvalid},
		{name: "A18 payload re-encoded", token: withPayload(good, " "+string(payloadOf(t, good))), wantErr: rpt.ErrSignatureInvalid},
		{name: "A19 JSON serialization", token: `{"payload":"` + s[1] + `","signatures":[{"protected":"` + s[0] + `","signature":"` + s[2] + `"}]}`, wantErr: rpt.ErrMalformed},
		{name: "A19 flattened", token: `{"payload":"` + s[1] + `","protected":"` + s[0] + `","header":{"alg":"RS256"},"signature":"` + s[2] + `"}`, wantErr: rpt.ErrMalformed},
		{name: "A20 five segments", token: good + ".a.b", wantErr: rpt.ErrMalformed},
		{name: "A20 cty JWT", token: withHeader(t, good, hdr(map[string]any{"cty": "JWT"})), wantErr: rpt.ErrMalformed},
		{name: "A20 alg RSA-OAEP", token: withHeader(t, good, hdr(map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A20 alg dir", token: withHeader(t, good, hdr(map[string]any{"alg": "dir"})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A20 PBES2 p2c", token: withHeader(t, good, hdr(map[string]any{"alg": "PBES2-HS256+A128KW", "p2c": 2000000000})), wantErr: rpt.ErrUnsupportedAlg},
		{name: "A20 zip", token: withHeader(t, good, hdr(map[string]any{"zip": "DEF"})), wantErr: rpt.ErrMalformed},
		{name: "A20 enc", token: withHeader(t, good, hdr(map[string]any{"enc": "A256GCM"})), wantErr: rpt.ErrMalformed},
		{name: "A21 crit unknown", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("crit", []string{"x-unknown"})), wantErr: rpt.ErrMalformed},
		{name: "A21 crit empty", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("crit", []string{})), wantErr: rpt.ErrMalformed},
		{name: "A21 crit standard", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("crit", []string{"exp"})), wantErr: rpt.ErrMalformed},
		{name: "A22 b64 false", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("b64", false)), wantErr: rpt.ErrMalformed},
		{name: "A22 b64 with crit", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("b64", false), keycloaktest.WithHeader("crit", []string{"b64"})), wantErr: rpt.ErrMalformed},
		{name: "A23 typ at+jwt not configured", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("typ", "at+jwt")), wantErr: rpt.ErrTokenType},
		{name: "A23 typ absent", token: withHeader(t, good, map[string]any{"alg": "RS256", "kid": kid}), wantErr: rpt.ErrTokenType},
		{name: "A23 typ other", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("typ", "JOSE")), wantErr: rpt.ErrTokenType},
		{name: "A23 typ number", token: withHeader(t, good, hdr(map[string]any{"typ": 1})), wantErr: rpt.ErrMalformed},
		{name: "A23 cty present", token: kc.SignToken(claimsOf(t, good), keycloaktest.WithHeader("cty", "json")), wantErr: rpt.ErrMalformed},
		{name: "A24 padding", token: padded, wantErr: rpt.ErrMalformed},
		{name: "A24 plus", token: strings.Replace(good, "-", "+", 1) + "+", wantErr: rpt.ErrMalformed},
		{name: "A24 slash", token: good[:20] + "/" + good[21:], wantErr: rpt.ErrMalformed},
		{name: "A24 CRLF", token: good[:20] + "\r\n" + good[20:], wantErr: rpt.ErrMalformed},
		{name: "A24 space", token: good[:20] + " " + good[20:], wantErr: rpt.ErrMalformed},
		{name: "A24 non-canonical trailing bits", token: nonCanonical, wantErr: rpt.ErrInvalidToken},
		{name: "B17 duplicate header alg", token: withHeader(t, good, fmt.Sprintf(`{"alg":"RS256","alg":"none","kid":%q,"typ":"JWT"}`, kid)), wantErr: rpt.ErrMalformed},
		{name: "B17 case-variant header", token: withHeader(t, good, fmt.Sprintf(`{"alg":"RS256","ALG":"none","kid":%q,"typ":"JWT"}`, kid)), wantErr: rpt.ErrMalformed},
		{name: "B17 duplicate aud in payload", token: withPayload(good, `{"aud":"evil","aud":"svc"}`), wantErr: rpt.ErrMalformed},
		{name: "B18 payload array", token: withPayload(good, `[]`), wantErr: rpt.ErrMalformed},
		{name: "B18 payload BOM", token: withPayload(good, "\xef\xbb\xbf{}"), wantErr: rpt.ErrMalformed},
		{name: "B18 payload invalid utf8", token: withPayload(good, "{\"sub\":\"\xff\"}"), wantErr: rpt.ErrMalformed},
		// (b) signed by the realm key
		{name: "B1 expired", token: kc.AccessToken("alice", keycloaktest.WithIssuedAt(time.Now().Add(-time.Hour)), keycloaktest.WithLifetime(time.Minute)), wantErr: rpt.ErrExpired},
		{name: "B2 exp missing", token: kc.AccessToken("alice", keycloaktest.WithoutClaim("exp")), wantErr: rpt.ErrClaims},
		{name: "B4 nbf ahead", token: kc.AccessToken("alice", keycloaktest.WithClaim("nbf", time.Now().Add(100*time.Second).Unix())), wantErr: rpt.ErrNotYetValid},
		{name: "B5 iat ahead", token: kc.AccessToken("alice", keycloaktest.WithIssuedAt(time.Now().Add(time.Hour))), wantErr: rpt.ErrIssuedAt},
		{name: "B5 iat missing", token: kc.AccessToken("alice", keycloaktest.WithoutClaim("iat")), wantErr: rpt.ErrIssuedAt},
		{name: "B6 exp string", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", "1700000000")), wantErr: rpt.ErrMalformed},
		{name: "B6 exp null", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", nil)), wantErr: rpt.ErrMalformed},
		{name: "B6 exp zero", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", 0), keycloaktest.WithClaim("iat", 0)), wantErr: rpt.ErrExpired},
		{name: "B7 exp 1e300", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", 1e300)), wantErr: rpt.ErrClaims},
		{name: "B7 exp maxint64", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", int64(9223372036854775807))), wantErr: rpt.ErrClaims},
		{name: "B7 exp year 10000", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", 253402300800)), wantErr: rpt.ErrClaims},
		{name: "B8 aud missing", token: kc.AccessToken("alice", keycloaktest.WithoutClaim("aud")), wantErr: rpt.ErrAudience},
		{name: "B9 aud other client", token: kc.AccessToken("alice", keycloaktest.WithAudience("other")), wantErr: rpt.ErrAudience},
		{name: "B9 aud only account", token: kc.AccessToken("alice", keycloaktest.WithAudience("account")), wantErr: rpt.ErrAudience},
		{name: "B10 aud array with ours", token: kc.AccessToken("alice", keycloaktest.WithAudience("account", kc.ClientID()))},
		{name: "B10 aud [1]", token: kc.AccessToken("alice", keycloaktest.WithClaim("aud", []any{1})), wantErr: rpt.ErrMalformed},
		{name: "B10 aud [\"\"]", token: kc.AccessToken("alice", keycloaktest.WithClaim("aud", []string{""})), wantErr: rpt.ErrMalformed},
		{name: "B12 other realm iss", token: kc.AccessToken("alice", keycloaktest.WithClaim("iss", kc.URL()+"/realms/other")), wantErr: rpt.ErrIssuer},
		{name: "B12 trailing slash", token: kc.AccessToken("alice", keycloaktest.WithClaim("iss", kc.Issuer()+"/")), wantErr: rpt.ErrIssuer},
		{name: "B12 case", token: kc.AccessToken("alice", keycloaktest.WithClaim("iss", strings.Replace(kc.Issuer(), "/realms/", "/Realms/", 1))), wantErr: rpt.ErrIssuer},
		{name: "B14 ID token", token: kc.AccessToken("alice", keycloaktest.WithClaim("typ", "ID")), wantErr: rpt.ErrTokenType},
		{name: "B14 refresh", token: kc.AccessToken("alice", keycloaktest.WithClaim("typ", "Refresh")), wantErr: rpt.ErrTokenType},
		{name: "B14 logout", token: kc.AccessToken("alice", keycloaktest.WithClaim("typ", "Logout")), wantErr: rpt.ErrTokenType},
		{name: "B14 offline", token: kc.AccessToken("alice", keycloaktest.WithClaim("typ", "Offline")), wantErr: rpt.ErrTokenType},
		{name: "B15 ID token for our client", token: kc.AccessToken("alice", keycloaktest.WithClaim("typ", "ID"), keycloaktest.WithAudience(kc.ClientID())), wantErr: rpt.ErrTokenType},
		{name: "B16 100000 permissions", token: kc.AccessToken("alice", keycloaktest.WithClaim("authorization", map[string]any{"permissions": make([]any, 100000)})), wantErr: rpt.ErrMalformed},
		{name: "B16 1001 permissions", token: kc.AccessToken("alice", keycloaktest.WithClaim("authorization", map[string]any{"permissions": make([]any, 1001)})), wantErr: rpt.ErrClaims},
		{name: "B19 sub missing", token: kc.AccessToken("alice", keycloaktest.WithoutClaim("sub")), wantErr: rpt.ErrClaims},
		{name: "B19 sub empty", token: kc.AccessToken("alice", keycloaktest.WithClaim("sub", "")), wantErr: rpt.ErrClaims},
		{name: "B20 lifetime 25h", token: kc.AccessToken("alice", keycloaktest.WithLifetime(25*time.Hour)), wantErr: rpt.ErrClaims},
		{name: "B21 wrong-typed roles", token: kc.AccessToken("alice", keycloaktest.WithClaim("realm_access", map[string]any{"roles": 1}), keycloaktest.WithClaim("scope", 5))},
		// (c)
		{name: "C1 a million dots", token: strings.Repeat(".", 1_000_000), wantErr: rpt.ErrMalformed},
		{name: "C2 over 16 KiB", token: kc.AccessToken("alice", keycloaktest.WithClaim("pad", strings.Repeat("x", 16<<10))), wantErr: rpt.ErrMalformed},
		{name: "C3 nested arrays", token: withPayload(good, `{"a":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`), wantErr: rpt.ErrMalformed},
		{name: "C4 four segments", token: good + ".x", wantErr: rpt.ErrMalformed},
		{name: "C4 six segments", token: good + ".x.y.z", wantErr: rpt.ErrMalformed},
		{name: "C4 100 segments", token: strings.Repeat("a.", 99) + "a", wantErr: rpt.ErrMalformed},
		{name: "C5 illegal characters", token: "a$b.c.d", wantErr: rpt.ErrMalformed},
		{name: "C5 impossible length", token: "a." + s[1] + "." + s[2], wantErr: rpt.ErrMalformed},
		{name: "C6 1e999999", token: kc.AccessToken("alice", keycloaktest.WithClaim("exp", json.Number("1e999999"))), wantErr: rpt.ErrClaims},
		{name: "empty", token: "", wantErr: rpt.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, tt.name)
			c, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorIs(t, err, rpt.ErrInvalidToken)
			assert.Nil(t, c)
			// A crypto failure is never joined with a claim error.
			if errors.Is(err, rpt.ErrSignatureInvalid) {
				for _, other := range []error{rpt.ErrExpired, rpt.ErrAudience, rpt.ErrIssuer, rpt.ErrClaims, rpt.ErrTokenType} {
					assert.NotErrorIs(t, err, other)
				}
			}
			if len(tt.token) > 20 {
				assert.NotContains(t, err.Error(), tt.token[:20])
			}
		})
	}
}

func claimsOf(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(payloadOf(tb, tok))))
	d.UseNumber()
	require.NoError(tb, d.Decode(&m))
	return m
}

func payloadOf(tb testing.TB, tok string) []byte {
	tb.Helper()
	b, err := enc.DecodeString(segments(tok)[1])
	require.NoError(tb, err)
	return b
}

func TestVerifyMillionDotsAllocs(t *testing.T) {
	kc := keycloaktest.New(t)
	v := newVerifier(t, kc, config(kc))
	tok := strings.Repeat(".", 1_000_000)
	allocs := testing.AllocsPerRun(20, func() { _, _ = v.Verify(context.Background(), tok) })
	assert.LessOrEqual(t, allocs, 2.0)
	tok = strings.Repeat(".", 1000)
	allocs = testing.AllocsPerRun(20, func() { _, _ = v.Verify(context.Background(), tok) })
	assert.LessOrEqual(t, allocs, 2.0)
}

func TestVerifyNoOutboundForHeaderURLs(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer stub.Close()
	kc := keycloaktest.New(t)
	v := newVerifier(t, kc, config(kc))
	kc.ResetCounters()
	claims := claimsOf(t, kc.AccessToken("alice"))
	for _, opts := range [][]keycloaktest.SignOption{
		{keycloaktest.WithForeignKey(), keycloaktest.WithHeader("jku", stub.URL+"/jwks")},
		{keycloaktest.WithForeignKey(), keycloaktest.WithHeader("jku", "http://169.254.169.254/latest")},
		{keycloaktest.WithForeignKey(), keycloaktest.WithHeader("x5u", stub.URL+"/cert")},
		{keycloaktest.WithForeignKey(), keycloaktest.WithKeyID("attacker"), keycloaktest.WithHeader("jku", stub.URL+"/jwks")},
	} {
		_, err := v.Verify(context.Background(), kc.SignToken(claims, opts...))
		require.ErrorIs(t, err, rpt.ErrInvalidToken)
	}
	assert.Zero(t, hits.Load())
	assert.LessOrEqual(t, kc.Requests(keycloaktest.EndpointJWKS), 1) // only the unknown-kid refresh
}

func TestVerifyES256Signatures(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithSigningAlgorithm("ES256"))
	cfg := config(kc)
	cfg.Algorithms = []string{"ES256", "ES384"}
	v := newVerifier(t, kc, cfg)
	good := kc.AccessToken("alice")
	_, err := v.Verify(context.Background(), good)
	require.NoError(t, err)
	s := segments(good)
	sig, _ := enc.DecodeString(s[2])
	require.Len(t, sig, 64)
	mk := func(b []byte) string { return s[0] + "." + s[1] + "." + enc.EncodeToString(b) }
	der := append([]byte{0x30, 0x44, 0x02, 0x20}, sig[:32]...)
	der = append(append(der, 0x02, 0x20), sig[32:]...)
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "A16 r=s=0", token: mk(make([]byte, 64)), wantErr: rpt.ErrSignatureInvalid},
		{name: "A16 63 bytes", token: mk(sig[:63]), wantErr: rpt.ErrSignatureInvalid},
		{name: "A16 65 bytes", token: mk(append(append([]byte{}, sig...), 0)), wantErr: rpt.ErrSignatureInvalid},
		{name: "A16 DER", token: mk(der), wantErr: rpt.ErrSignatureInvalid},
		{name: "A16 r >= n", token: mk(append(bytesFF(32), sig[32:]...)), wantErr: rpt.ErrSignatureInvalid},
		{name: "A16 ES384 with P-256 key", token: withHeader(t, good, map[string]any{"alg": "ES384", "typ": "JWT", "kid": kc.SigningKeyID()}), wantErr: rpt.ErrUnsupportedAlg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tt.token)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func bytesFF(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

func TestVerifyNoKIDSeveralKeys(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	kc.AddKey("RS256")
	v := newVerifier(t, kc, config(kc))
	_, err := v.Verify(context.Background(), kc.SignToken(claimsOf(t, kc.AccessToken("alice")), keycloaktest.WithoutKeyID()))
	require.ErrorIs(t, err, rpt.ErrKeyNotFound)
}

func TestVerifyOtherRealm(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	other := keycloaktest.New(t, keycloaktest.WithRealm("other"))
	v := newVerifier(t, kc, config(kc))
	// B13: a token of another Keycloak realm (another key) is rejected, and
	// its iss never selects a key set.
	_, err := v.Verify(context.Background(), other.AccessToken("alice", keycloaktest.WithAudience(kc.ClientID())))
	require.ErrorIs(t, err, rpt.ErrInvalidToken)
	assert.Zero(t, other.Requests(keycloaktest.EndpointJWKS))
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
	ctx := context.Background()
	oldKID := kc.SigningKeyID()
	oldTok := kc.AccessToken("alice")
	_, err := v.Verify(ctx, oldTok)
	require.NoError(t, err)

	// H3: new kid -> exactly one refresh -> success.
	clk.Advance(rpt.DefaultJWKSMinRefreshInterval)
	kc.ResetCounters()
	newKID := kc.RotateKey()
	require.NotEqual(t, oldKID, newKID)
	_, err = v.Verify(ctx, kc.AccessToken("bob"))
	require.NoError(t, err)
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointJWKS))
	_, err = v.Verify(ctx, kc.AccessToken("alice"))
	require.NoError(t, err)
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointJWKS))

	// G3: retired key -> rejected after the next periodic refresh, even
	// though the token is still cached.
	kc.RetireKey(oldKID)
	_, err = v.Verify(ctx, oldTok)
	require.NoError(t, err, "still valid until the key set is refreshed")
	clk.Advance(rpt.DefaultJWKSRefreshInterval + time.Second)
	_, _ = v.Verify(ctx, kc.AccessToken("alice")) // due: kicks a background refresh
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, oldTok)
		return errors.Is(err, rpt.ErrKeyNotFound)
	}, 5*time.Second, 10*time.Millisecond)
}

// TestCacheHonoursMaxAge: a cached token is not served once its iat is
// older than MaxAge + leeway (B5 must hold on the cache path too).
func TestCacheHonoursMaxAge(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	cfg := config(kc)
	cfg.MaxAge = 2 * time.Minute
	v := newVerifier(t, kc, cfg, rpt.WithClock(clk.Now))
	ctx := context.Background()
	tok := kc.AccessToken("alice", keycloaktest.WithIssuedAt(clk.Now().Add(-150*time.Second)), keycloaktest.WithLifetime(time.Hour))
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, rpt.ErrIssuedAt)
}

func TestUnknownKIDRateLimited(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
	claims := claimsOf(t, kc.AccessToken("alice"))
	clk.Advance(11 * time.Second)
	kc.ResetCounters()
	// A10: one refresh for an unknown kid, none for more unknown kids
	// inside the cooldown.
	for i := range 5 {
		_, err := v.Verify(context.Background(), kc.SignToken(claims, keycloaktest.WithKeyID(fmt.Sprintf("unknown-%d", i))))
		require.ErrorIs(t, err, rpt.ErrKeyNotFound)
	}
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointJWKS))
	clk.Advance(rpt.DefaultJWKSMinRefreshInterval)
	_, err := v.Verify(context.Background(), kc.SignToken(claims, keycloaktest.WithKeyID("unknown-x")))
	require.ErrorIs(t, err, rpt.ErrKeyNotFound)
	assert.Equal(t, 2, kc.Requests(keycloaktest.EndpointJWKS))
}

// G1: 1,000 concurrent requests with a new kid cause at most one JWKS fetch.
func TestConcurrentUnknownKIDOneFetch(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
	clk.Advance(11 * time.Second)
	kc.SetLatency(keycloaktest.EndpointJWKS, 50*time.Millisecond)
	kc.RotateKey()
	tok := kc.AccessToken("alice")
	randomKID := kc.SignToken(claimsOf(t, tok), keycloaktest.WithKeyID("random"))
	kc.ResetCounters()
	var wg sync.WaitGroup
	var ok, notFound atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := tok
			if i%2 == 1 {
				raw = randomKID
			}
			_, err := v.Verify(context.Background(), raw)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, rpt.ErrKeyNotFound):
				notFound.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointJWKS))
	assert.Equal(t, int64(500), ok.Load())
	assert.Equal(t, int64(500), notFound.Load())
}

func TestJWKSOutage(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
	ctx := context.Background()
	kc.Fail(keycloaktest.EndpointJWKS, http.StatusInternalServerError)
	// H2: cached keys keep working up to the maximum age...
	clk.Advance(rpt.DefaultJWKSRefreshInterval + time.Second)
	_, err := v.Verify(ctx, kc.AccessToken("alice"))
	require.NoError(t, err)
	clk.Advance(rpt.DefaultJWKSMaxAge - rpt.DefaultJWKSRefreshInterval - 2*time.Second)
	_, err = v.Verify(ctx, kc.AccessToken("alice"))
	require.NoError(t, err)
	tok := kc.AccessToken("bob")
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	// ...then ErrUnavailable (not ErrInvalidToken), cached tokens included.
	clk.Advance(2 * time.Second)
	_, err = v.Verify(ctx, kc.AccessToken("alice"))
	require.ErrorIs(t, err, rpt.ErrUnavailable)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
	clk.Advance(rpt.DefaultJWKSMinRefreshInterval)
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, rpt.ErrUnavailable)
	// Recovery once the endpoint heals.
	kc.Heal(keycloaktest.EndpointJWKS)
	clk.Advance(rpt.DefaultJWKSMinRefreshInterval)
	_, err = v.Verify(ctx, kc.AccessToken("alice"))
	require.NoError(t, err)
}

// H5, C7, C9: bad JWKS answers never replace the last good set.
func TestBadJWKSKeepsLastGoodSet(t *testing.T) {
	t.Parallel()
	bodies := []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{name: "empty set", status: 200, contentType: "application/json", body: `{"keys":[]}`},
		{name: "html", status: 200, contentType: "text/html", body: `<html></html>`},
		{name: "html labelled json", status: 200, contentType: "application/json", body: `<html></html>`},
		{name: "truncated", status: 200, contentType: "application/json", body: `{"keys":[{"kty":"RSA"`},
		{name: "too large", status: 200, contentType: "application/json", body: `{"keys":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`},
		{name: "too many keys", status: 200, contentType: "application/json", body: `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"x"},`, 101), ",") + `]}`},
		{name: "server error", status: 503, contentType: "application/json", body: `{}`},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
			v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
			tok := kc.AccessToken("alice")
			kc.Respond(keycloaktest.EndpointJWKS, b.status, b.contentType, b.body)
			clk.Advance(11 * time.Second)
			kc.ResetCounters()
			_, err := v.Verify(context.Background(), kc.SignToken(claimsOf(t, tok), keycloaktest.WithKeyID("new")))
			require.ErrorIs(t, err, rpt.ErrUnavailable)
			assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointJWKS))
			_, err = v.Verify(context.Background(), tok)
			require.NoError(t, err)
		})
	}
}

func TestJWKSRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirect.Close()
	cfg := config(kc)
	cfg.JWKSURL = redirect.URL + "/certs?secret=x"
	_, err := rpt.New(context.Background(), cfg)
	require.ErrorIs(t, err, rpt.ErrUnavailable)
	assert.NotContains(t, err.Error(), "secret")
	assert.Zero(t, targetHits.Load())
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	clk := newClock()
	kc := keycloaktest.New(t, keycloaktest.WithClock(clk.Now))
	v := newVerifier(t, kc, config(kc), rpt.WithClock(clk.Now))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, kc.AccessToken("alice"))
	require.ErrorIs(t, err, context.Canceled)

	kc.Hang(keycloaktest.EndpointJWKS)
	clk.Advance(11 * time.Second)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = v.Verify(ctx, kc.SignToken(claimsOf(t, kc.AccessToken("alice")), keycloaktest.WithKeyID("unknown")))
	require.ErrorIs(t, err, context.Canceled)
	kc.Heal(keycloaktest.EndpointJWKS)
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	tests := []struct {
		name    string
		mutate  func(c *rpt.Config)
		wantErr error
	}{
		{name: "no issuer", mutate: func(c *rpt.Config) { c.Issuer = "" }, wantErr: rpt.ErrConfig},
		{name: "no audience", mutate: func(c *rpt.Config) { c.Audience = nil }, wantErr: rpt.ErrConfig},
		{name: "HS256", mutate: func(c *rpt.Config) { c.Algorithms = []string{"HS256"} }, wantErr: rpt.ErrConfig},
		{name: "none", mutate: func(c *rpt.Config) { c.Algorithms = []string{"none"} }, wantErr: rpt.ErrConfig},
		{name: "leeway 301s", mutate: func(c *rpt.Config) { c.Leeway = 301 * time.Second }, wantErr: rpt.ErrConfig},
		{name: "token size 65 KiB", mutate: func(c *rpt.Config) { c.MaxTokenSize = 65 << 10 }, wantErr: rpt.ErrConfig},
		{name: "http without insecure", mutate: func(c *rpt.Config) { c.InsecureAllowHTTP = false }, wantErr: rpt.ErrConfig},
		{name: "max age below refresh", mutate: func(c *rpt.Config) { c.JWKSMaxAge = time.Minute }, wantErr: rpt.ErrConfig},
		{name: "negative JWKS refresh interval", mutate: func(c *rpt.Config) { c.JWKSRefreshInterval = -time.Second }, wantErr: rpt.ErrConfig},
		{name: "negative JWKS max bytes", mutate: func(c *rpt.Config) { c.JWKSMaxBytes = -1 }, wantErr: rpt.ErrConfig},
		{name: "H1 keycloak down", mutate: func(c *rpt.Config) { c.JWKSURL = "http://127.0.0.1:1/certs" }, wantErr: rpt.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(kc)
			tt.mutate(&cfg)
			v, err := rpt.New(context.Background(), cfg, rpt.WithHTTPClient(kc.HTTPClient()))
			require.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, v)
		})
	}
}

func TestNewWithDiscovery(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithTLS())
	cfg := config(kc)
	cfg.JWKSURL = ""
	cfg.InsecureAllowHTTP = false
	v := newVerifier(t, kc, cfg)
	_, err := v.Verify(context.Background(), kc.AccessToken("alice"))
	require.NoError(t, err)
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointOIDCDiscovery))
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	md, err := rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL()+"/", kc.Realm(), rpt.InsecureAllowHTTP())
	require.NoError(t, err)
	assert.Equal(t, kc.Issuer(), md.Issuer)
	assert.Equal(t, kc.JWKSURL(), md.JWKSURI)
	assert.Equal(t, kc.TokenURL(), md.TokenEndpoint)
	assert.Equal(t, kc.IntrospectionURL(), md.IntrospectionEndpoint)
	assert.Equal(t, kc.PermissionURL(), md.PermissionEndpoint)
	assert.Equal(t, kc.ResourceSetURL(), md.ResourceRegistrationEndpoint)
	assert.NotEmpty(t, md.PolicyEndpoint)

	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), kc.Realm())
	require.ErrorIs(t, err, rpt.ErrDiscovery, "http refused without the insecure option")
	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), kc.Realm(), rpt.InsecureAllowHTTP(), rpt.UseOpenIDConfiguration())
	require.NoError(t, err)
	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), "a/b", rpt.InsecureAllowHTTP())
	require.ErrorIs(t, err, rpt.ErrConfig)

	// H6: issuer mismatch.
	kc.Respond(keycloaktest.EndpointUMADiscovery, 200, "application/json", `{"issuer":"`+kc.URL()+`/realms/other","jwks_uri":"`+kc.JWKSURL()+`"}`)
	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), kc.Realm(), rpt.InsecureAllowHTTP())
	require.ErrorIs(t, err, rpt.ErrDiscovery)
	kc.Respond(keycloaktest.EndpointUMADiscovery, 200, "application/json", `{"issuer":"`+kc.Issuer()+`","issuer":"x"}`)
	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), kc.Realm(), rpt.InsecureAllowHTTP())
	require.ErrorIs(t, err, rpt.ErrDiscovery)
	kc.Heal(keycloaktest.EndpointUMADiscovery)
	kc.Fail(keycloaktest.EndpointUMADiscovery, 503)
	_, err = rpt.Discover(context.Background(), kc.HTTPClient(), kc.URL(), kc.Realm(), rpt.InsecureAllowHTTP())
	require.ErrorIs(t, err, rpt.ErrUnavailable)
}

func TestCloseIdempotentNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	kc := keycloaktest.New(t)
	v, err := rpt.New(context.Background(), config(kc), rpt.WithHTTPClient(kc.HTTPClient()))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), kc.AccessToken("alice"))
	require.NoError(t, err)
	v.Close()
	v.Close()
	_, err = v.Verify(context.Background(), kc.AccessToken("alice"))
	require.NoError(t, err, "verification from the cached key set still works after Close")
	kc.HTTPClient().CloseIdleConnections()
	kc.Close()
}
