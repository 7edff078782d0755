package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

// groupAConfig allows RS512 and ES256 next to RS256, so that A5 (an alg
// that is allowed in general but wrong for the key) is tested on its own
// and not rejected by the allow-list first.
const groupAConfig = `{"paths":[
	{"path":"/public/*","enforcement-mode":"DISABLED"},
	{"path":"/admin/*","name":"Admin"}],
	"rptguard":{"permissions-source":"token","allowed-algorithms":["RS256","RS512","ES256"]}}`

// groupAEnv publishes the test's own keys next to the realm key: a good
// RSA and EC key (tokens built byte by byte), a 1024-bit RSA key (A15),
// encryption-only keys (A14), and two pairs of keys sharing a kid (A13).
func groupAEnv(tb testing.TB) *env {
	tb.Helper()
	rsaK, ecK, weakK := ownRSA(tb), ownEC(tb), ownWeakRSA(tb)
	kc := newKC(tb, nil) // only to read a second RSA public key for A13
	other := realmPublicJWK(tb, kc)
	other["kid"] = "e2e-dup-rsa"
	otherJSON, err := json.Marshal(other)
	require.NoError(tb, err)
	return newEnv(tb, groupAConfig, withExtraKeys(
		rsaK.jwk(tb, nil),
		ecK.jwk(tb, nil),
		weakK.jwk(tb, nil),
		rsaK.jwk(tb, map[string]any{"kid": "e2e-enc", "use": "enc"}),
		rsaK.jwk(tb, map[string]any{"kid": "e2e-ops", "use": nil, "key_ops": []string{"encrypt"}}),
		// Same kid, different kty: the alg chooses (A13).
		rsaK.jwk(tb, map[string]any{"kid": "e2e-dup"}),
		ecK.jwk(tb, map[string]any{"kid": "e2e-dup"}),
		// Same kid, both RSA: ambiguous, dropped (A13).
		rsaK.jwk(tb, map[string]any{"kid": "e2e-dup-rsa"}),
		otherJSON,
	))
}

// realmPublicJWK returns the realm's current signing key as published.
func realmPublicJWK(tb testing.TB, kc *keycloaktest.Server) map[string]any {
	tb.Helper()
	res, err := kc.HTTPClient().Get(kc.JWKSURL())
	require.NoError(tb, err)
	defer res.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(tb, json.NewDecoder(res.Body).Decode(&set))
	for _, k := range set.Keys {
		if k["kid"] == kc.SigningKeyID() {
			return k
		}
	}
	tb.Fatal("signing key not in the JWKS")
	return nil
}

// realmRSAPublic decodes the realm's RSA signing key.
func realmRSAPublic(tb testing.TB, kc *keycloaktest.Server) *rsa.PublicKey {
	tb.Helper()
	j := realmPublicJWK(tb, kc)
	n, err := b64.DecodeString(j["n"].(string))
	require.NoError(tb, err)
	e, err := b64.DecodeString(j["e"].(string))
	require.NoError(tb, err)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// hmacToken signs header.payload with HS256 and key (A4).
func hmacToken(header, payload string, key []byte) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

// replaceSegment swaps segment i of a compact token.
func replaceSegment(tok string, i int, seg string) string {
	p := strings.Split(tok, ".")
	p[i] = seg
	return strings.Join(p, ".")
}

// hitCounter is a listening stub that counts every request it receives
// (A8, A9: a jku or x5u must never be fetched).
func hitCounter(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	tb.Cleanup(s.Close)
	return s, &hits
}

// TestAttackA_Token runs security.md (a) end to end: every row is one
// request with a crafted bearer token to GET /admin/x, which the valid
// claim set is permitted to reach. Only the JOSE layer differs from the
// control row, so a 401 is caused by the attack, not by the claims.
func TestAttackA_Token(t *testing.T) {
	t.Parallel()
	v := groupAEnv(t)
	kc := v.kc
	rsaK, ecK, weakK := ownRSA(t), ownEC(t), ownWeakRSA(t)
	stub, hits := hitCounter(t)
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	attackerKey := ownKey{kid: "attacker", alg: "ES256", priv: attacker}
	attackerJWK := attackerKey.jwk(t, nil)
	realmPub := realmRSAPublic(t, kc)
	der, err := x509.MarshalPKIXPublicKey(realmPub)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	realmKID := kc.SigningKeyID()

	sign := func(o ...keycloaktest.SignOption) func(testing.TB) string {
		return func(testing.TB) string { return kc.SignToken(v.claims(), o...) }
	}
	own := func(k ownKey, header string) func(testing.TB) string {
		return func(tb testing.TB) string { return k.token(tb, header, v.payloadJSON(tb, "")) }
	}
	hs := func(key []byte) func(testing.TB) string {
		return func(tb testing.TB) string {
			return hmacToken(fmt.Sprintf(`{"alg":"HS256","typ":"JWT","kid":%q}`, realmKID), v.payloadJSON(tb, ""), key)
		}
	}
	mutate := func(f func(string) string) func(testing.TB) string {
		return func(testing.TB) string { return f(kc.SignToken(v.claims())) }
	}

	tests := []struct {
		id, name string
		token    func(testing.TB) string
		want     int
		ch       string
	}{
		{"control", "realm-signed valid token", sign(), 200, chNone},
		{"control", "own RSA key, byte-built token", own(rsaK, rsaK.header("")), 200, chNone},
		{"control", "own EC key, byte-built token", own(ecK, ecK.header("")), 200, chNone},
		{"A1", "alg none, empty signature", sign(keycloaktest.WithAlgNone()), 401, chInvalidToken},
		{"A2", "alg None", sign(keycloaktest.WithHeader("alg", "None")), 401, chInvalidToken},
		{"A2", "alg NONE", sign(keycloaktest.WithHeader("alg", "NONE")), 401, chInvalidToken},
		{"A2", "alg nOnE", sign(keycloaktest.WithHeader("alg", "nOnE")), 401, chInvalidToken},
		{"A2", "alg hs256", sign(keycloaktest.WithHeader("alg", "hs256")), 401, chInvalidToken},
		{"A2", "alg Rs256", sign(keycloaktest.WithHeader("alg", "Rs256")), 401, chInvalidToken},
		{"A3", "alg missing", own(rsaK, `{"typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A3", "alg null", own(rsaK, `{"alg":null,"typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A3", "alg number", own(rsaK, `{"alg":256,"typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A3", "alg array", own(rsaK, `{"alg":["RS256"],"typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A3", "alg empty", own(rsaK, `{"alg":"","typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A3", "alg none with a real signature", sign(keycloaktest.WithHeader("alg", "none")), 401, chInvalidToken},
		{"A4", "HS256 keyed with the realm key as PEM (keycloaktest)", sign(keycloaktest.WithHMACPublicKey()), 401, chInvalidToken},
		{"A4", "HS256 keyed with the realm key as PEM", hs(pemKey), 401, chInvalidToken},
		{"A4", "HS256 keyed with the realm key as DER", hs(der), 401, chInvalidToken},
		{"A4", "HS256 keyed with the raw modulus", hs(realmPub.N.Bytes()), 401, chInvalidToken},
		{"A5", "ES256 naming an RSA key", own(ecK, `{"alg":"ES256","typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A5", "RS512 where the JWK says RS256", own(ownKey{kid: "e2e-rsa", alg: "RS512", priv: rsaK.priv}, `{"alg":"RS512","typ":"JWT","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A6", "alg RS1", sign(keycloaktest.WithHeader("alg", "RS1")), 401, chInvalidToken},
		{"A6", "alg HS1024", sign(keycloaktest.WithHeader("alg", "HS1024")), 401, chInvalidToken},
		{"A6", "alg ES256K", sign(keycloaktest.WithHeader("alg", "ES256K")), 401, chInvalidToken},
		{"A6", "alg PS256 (not configured)", sign(keycloaktest.WithHeader("alg", "PS256")), 401, chInvalidToken},
		{"A6", "alg EdDSA (not configured)", sign(keycloaktest.WithHeader("alg", "EdDSA")), 401, chInvalidToken},
		{"A7", "embedded jwk, attacker's key, no kid", func(tb testing.TB) string {
			return attackerKey.token(tb, `{"alg":"ES256","typ":"JWT","jwk":`+string(attackerJWK)+`}`, v.payloadJSON(tb, ""))
		}, 401, chInvalidToken},
		{"A7", "embedded jwk, attacker's key, realm kid", func(tb testing.TB) string {
			return attackerKey.token(tb, `{"alg":"ES256","typ":"JWT","kid":"e2e-ec","jwk":`+string(attackerJWK)+`}`, v.payloadJSON(tb, ""))
		}, 401, chInvalidToken},
		{"A8", "jku at a listening stub", sign(keycloaktest.WithForeignKey(), keycloaktest.WithKeyID("jku-kid"), keycloaktest.WithHeader("jku", stub.URL+"/jwks")), 401, chInvalidToken},
		{"A8", "jku at the metadata address", sign(keycloaktest.WithForeignKey(), keycloaktest.WithHeader("jku", "http://169.254.169.254/latest/meta-data/")), 401, chInvalidToken},
		{"A9", "x5u at a listening stub", sign(keycloaktest.WithForeignKey(), keycloaktest.WithKeyID("x5u-kid"), keycloaktest.WithHeader("x5u", stub.URL+"/cert.pem")), 401, chInvalidToken},
		{"A9", "x5c chain of the attacker", func(tb testing.TB) string {
			return attackerKey.token(tb, `{"alg":"ES256","typ":"JWT","kid":"attacker","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`, v.payloadJSON(tb, ""))
		}, 401, chInvalidToken},
		{"A11", "kid path traversal", sign(keycloaktest.WithKeyID("../../../../dev/null")), 401, chInvalidToken},
		{"A11", "kid SQL injection", sign(keycloaktest.WithKeyID("' OR 1=1--")), 401, chInvalidToken},
		{"A11", "kid NUL byte", sign(keycloaktest.WithKeyID("e2e-rsa\x00")), 401, chInvalidToken},
		{"A11", "kid 10 kB", sign(keycloaktest.WithKeyID(strings.Repeat("k", 10<<10))), 401, chInvalidToken},
		{"A11", "kid a number", sign(keycloaktest.WithHeader("kid", 7)), 401, chInvalidToken},
		{"A11", "kid an object", sign(keycloaktest.WithHeader("kid", map[string]any{"kid": realmKID})), 401, chInvalidToken},
		// A12 with one key is TestAttackA_KeySelection; here the key set
		// holds several RS256 keys, so a token without kid is refused.
		{"A12", "no kid, several candidate keys", sign(keycloaktest.WithoutKeyID()), 401, chInvalidToken},
		{"A13", "shared kid, the alg picks the RSA key", own(ownKey{kid: "e2e-dup", alg: "RS256", priv: rsaK.priv}, `{"alg":"RS256","typ":"JWT","kid":"e2e-dup"}`), 200, chNone},
		{"A13", "shared kid, the alg picks the EC key", own(ownKey{kid: "e2e-dup", alg: "ES256", priv: ecK.priv}, `{"alg":"ES256","typ":"JWT","kid":"e2e-dup"}`), 200, chNone},
		{"A13", "shared kid, two RSA keys: dropped", own(ownKey{kid: "e2e-dup-rsa", alg: "RS256", priv: rsaK.priv}, `{"alg":"RS256","typ":"JWT","kid":"e2e-dup-rsa"}`), 401, chInvalidToken},
		{"A14", "key with use enc", own(rsaK, `{"alg":"RS256","typ":"JWT","kid":"e2e-enc"}`), 401, chInvalidToken},
		{"A14", "key_ops without verify", own(rsaK, `{"alg":"RS256","typ":"JWT","kid":"e2e-ops"}`), 401, chInvalidToken},
		{"A15", "RSA-1024 key in the JWKS", own(weakK, weakK.header("")), 401, chInvalidToken},
		{"A16", "ECDSA r=s=0", func(tb testing.TB) string {
			return replaceSegment(ecK.token(tb, ecK.header(""), v.payloadJSON(tb, "")), 2, b64.EncodeToString(make([]byte, 64)))
		}, 401, chInvalidToken},
		{"A16", "ECDSA r = n", func(tb testing.TB) string {
			tok := ecK.token(tb, ecK.header(""), v.payloadJSON(tb, ""))
			sig, _ := b64.DecodeString(strings.Split(tok, ".")[2])
			elliptic.P256().Params().N.FillBytes(sig[:32])
			return replaceSegment(tok, 2, b64.EncodeToString(sig))
		}, 401, chInvalidToken},
		{"A16", "ECDSA DER signature", func(tb testing.TB) string {
			tok := ecK.token(tb, ecK.header(""), v.payloadJSON(tb, ""))
			in := tok[:strings.LastIndexByte(tok, '.')]
			h := sha256.Sum256([]byte(in))
			der, err := ecdsa.SignASN1(rand.Reader, ecK.priv.(*ecdsa.PrivateKey), h[:])
			require.NoError(tb, err)
			return in + "." + b64.EncodeToString(der)
		}, 401, chInvalidToken},
		{"A16", "ES256 signature of 63 bytes", func(tb testing.TB) string {
			tok := ecK.token(tb, ecK.header(""), v.payloadJSON(tb, ""))
			sig, _ := b64.DecodeString(strings.Split(tok, ".")[2])
			return replaceSegment(tok, 2, b64.EncodeToString(sig[1:]))
		}, 401, chInvalidToken},
		{"A16", "ES256 signature of 65 bytes", func(tb testing.TB) string {
			tok := ecK.token(tb, ecK.header(""), v.payloadJSON(tb, ""))
			sig, _ := b64.DecodeString(strings.Split(tok, ".")[2])
			return replaceSegment(tok, 2, b64.EncodeToString(append([]byte{0}, sig...)))
		}, 401, chInvalidToken},
		{"A16", "ES384 header on a P-256 key", own(ecK, `{"alg":"ES384","typ":"JWT","kid":"e2e-ec"}`), 401, chInvalidToken},
		{"A17", "signature stripped, h.p.", mutate(func(s string) string { return s[:strings.LastIndexByte(s, '.')+1] }), 401, chInvalidToken},
		{"A17", "two segments h.p", mutate(func(s string) string { return s[:strings.LastIndexByte(s, '.')] }), 401, chInvalidToken},
		{"A18", "one payload bit flipped", mutate(func(s string) string {
			p := strings.Split(s, ".")
			raw, _ := b64.DecodeString(p[1])
			raw[len(raw)/2] ^= 0x01
			return replaceSegment(s, 1, b64.EncodeToString(raw))
		}), 401, chInvalidToken},
		{"A18", "header re-encoded with whitespace", mutate(func(s string) string {
			return replaceSegment(s, 0, b64.EncodeToString([]byte(fmt.Sprintf(`{ "alg" : "RS256", "typ" : "JWT", "kid" : %q }`, realmKID))))
		}), 401, chInvalidToken},
		{"A18", "header re-encoded with other key order", mutate(func(s string) string {
			return replaceSegment(s, 0, b64.EncodeToString([]byte(fmt.Sprintf(`{"kid":%q,"typ":"JWT","alg":"RS256"}`, realmKID))))
		}), 401, chInvalidToken},
		{"A20", "five segments (JWE)", mutate(func(s string) string { return s + ".AAAA.BBBB" }), 401, chInvalidToken},
		{"A20", "alg RSA-OAEP", sign(keycloaktest.WithHeader("alg", "RSA-OAEP"), keycloaktest.WithHeader("enc", "A128GCM")), 401, chInvalidToken},
		{"A20", "alg dir", sign(keycloaktest.WithHeader("alg", "dir")), 401, chInvalidToken},
		{"A20", "PBES2 with p2c 2e9", sign(keycloaktest.WithHeader("alg", "PBES2-HS256+A128KW"), keycloaktest.WithHeader("p2c", 2000000000), keycloaktest.WithHeader("p2s", "c2FsdA")), 401, chInvalidToken},
		{"A20", "zip DEF", sign(keycloaktest.WithHeader("zip", "DEF")), 401, chInvalidToken},
		{"A20", "nested JWT, cty JWT", sign(keycloaktest.WithHeader("cty", "JWT")), 401, chInvalidToken},
		{"A21", "crit unknown", sign(keycloaktest.WithHeader("crit", []string{"x-unknown"})), 401, chInvalidToken},
		{"A21", "crit empty", sign(keycloaktest.WithHeader("crit", []string{})), 401, chInvalidToken},
		{"A21", "crit naming a standard header", sign(keycloaktest.WithHeader("crit", []string{"alg"})), 401, chInvalidToken},
		{"A22", "b64 false", sign(keycloaktest.WithHeader("b64", false)), 401, chInvalidToken},
		{"A22", "b64 false, crit b64", sign(keycloaktest.WithHeader("b64", false), keycloaktest.WithHeader("crit", []string{"b64"})), 401, chInvalidToken},
		// A23: the enforcer accepts the typ header JWT (Keycloak's); there
		// is no configuration key for RFC 9068's at+jwt, so it is refused,
		// as is a token without typ.
		{"A23", "typ JWT", sign(keycloaktest.WithHeader("typ", "JWT")), 200, chNone},
		{"A23", "typ at+jwt (not configured)", sign(keycloaktest.WithHeader("typ", "at+jwt")), 401, chInvalidToken},
		{"A23", "typ absent", own(rsaK, `{"alg":"RS256","kid":"e2e-rsa"}`), 401, chInvalidToken},
		{"A23", "typ other", sign(keycloaktest.WithHeader("typ", "JOSE+JSON")), 401, chInvalidToken},
		{"A23", "cty present", sign(keycloaktest.WithHeader("cty", "json")), 401, chInvalidToken},
		{"A24", "padding on the header", mutate(func(s string) string {
			p := strings.Split(s, ".")
			for len(p[0])%4 != 0 {
				p[0] += "="
			}
			// Padding inside the token: the b64token syntax allows '='
			// only at the end, so this is a malformed credential (400).
			return strings.Join(p, ".")
		}), 400, chInvalidRequest},
		{"A24", "padding on the signature", mutate(func(s string) string {
			for len(s[strings.LastIndexByte(s, '.')+1:])%4 != 0 {
				s += "="
			}
			return s
		}), 401, chInvalidToken},
		{"A24", "standard alphabet", mutate(func(s string) string {
			return strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+/"
		}), 401, chInvalidToken},
		{"A24", "non-canonical trailing bits", mutate(func(s string) string {
			const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alpha, s[len(s)-1])
			return s[:len(s)-1] + string(alpha[last|1])
		}), 401, chInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			tok := tt.token(t)
			r := v.do(t, http.MethodGet, "/admin/x", tok)
			check(t, r, tt.want, tt.ch, tok)
		})
	}
	t.Run("A8 A9 no outbound fetch", func(t *testing.T) {
		// Runs after the parallel rows above have finished.
		assert.Zero(t, hits.Load(), "a jku or x5u must never be fetched")
	})
}

// TestAttackA_Transport covers A19, A24 (whitespace, CR/LF), A25 and A26:
// how the credential travels.
func TestAttackA_Transport(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF)
	tok := v.kc.SignToken(v.claims())
	parts := strings.Split(tok, ".")
	jsonJWS := fmt.Sprintf(`{"payload":%q,"signatures":[{"protected":%q,"signature":%q}]}`, parts[1], parts[0], parts[2])
	flat := fmt.Sprintf(`{"payload":%q,"protected":%q,"header":{"alg":"RS256"},"signature":%q}`, parts[1], parts[0], parts[2])
	tests := []struct {
		id, name, target string
		hdr              []string
		want             int
		ch               string
	}{
		{"A25", "scheme Bearer", "/admin/x", []string{"Authorization", "Bearer " + tok}, 200, chNone},
		{"A25", "scheme bearer in lower case", "/admin/x", []string{"Authorization", "bearer " + tok}, 200, chNone},
		{"A25", "two Authorization headers", "/admin/x", []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}, 400, chInvalidRequest},
		{"A25", "header and access_token query", "/admin/x?access_token=" + tok, []string{"Authorization", "Bearer " + tok}, 400, chInvalidRequest},
		{"A25", "token only in the query is never read", "/admin/x?access_token=" + tok, nil, 401, chBearer},
		// A19: the JSON serializations are not RFC 6750 b64tokens, so the
		// middleware refuses them as a malformed credential (400
		// invalid_request) before any verification; the verifier's own
		// 401 for them is tested in rpt/verifier_test.go.
		{"A19", "JWS general JSON serialization", "/admin/x", []string{"Authorization", "Bearer " + jsonJWS}, 400, chInvalidRequest},
		{"A19", "JWS flattened JSON with unprotected header", "/admin/x", []string{"Authorization", "Bearer " + flat}, 400, chInvalidRequest},
		{"A19", "JSON serialization base64url-wrapped", "/admin/x", []string{"Authorization", "Bearer " + b64.EncodeToString([]byte(jsonJWS))}, 401, chInvalidToken},
		// A24: a space inside the token makes two words: malformed (400).
		{"A24", "embedded space", "/admin/x", []string{"Authorization", "Bearer " + parts[0] + " ." + parts[1] + "." + parts[2]}, 400, chInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			r := v.do(t, http.MethodGet, tt.target, "", tt.hdr...)
			check(t, r, tt.want, tt.ch, tok)
		})
	}
	// A26 and CR/LF need raw bytes: Go's client canonicalizes header names
	// and refuses control characters.
	rawTests := []struct {
		id, name, header string
		want             int
	}{
		{"A26", "authorization in lower case", "authorization: Bearer " + tok, 200},
		{"A26", "AUTHORIZATION in upper case", "AUTHORIZATION: Bearer " + tok, 200},
		{"A26", "lower-case name and scheme", "authorization: bearer " + tok, 200},
		{"A26", "lower-case name, forged token", "authorization: Bearer " + v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey()), 401},
	}
	for _, tt := range rawTests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			r := v.raw(t, "GET /admin/x HTTP/1.1", tt.header)
			ch := chNone
			if tt.want == 401 {
				ch = chInvalidToken
			}
			check(t, r, tt.want, ch, tok)
		})
	}
	t.Run("A24 CR inside the token", func(t *testing.T) {
		t.Parallel()
		// net/http refuses the header itself; the handler is never reached.
		r := v.raw(t, "GET /admin/x HTTP/1.1", "Authorization: Bearer "+parts[0]+"\r."+parts[1]+"."+parts[2])
		assert.Equal(t, 400, r.status)
		assert.False(t, r.reached)
		assertNoSecrets(t, r, tok)
	})
	t.Run("A25 header and access_token form field", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodPost, v.srv.URL+"/admin/x", strings.NewReader("access_token="+tok))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		check(t, v.send(t, req), 400, chInvalidRequest, tok)
	})
	t.Run("A25 token only in a form field is never read", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodPost, v.srv.URL+"/admin/x", strings.NewReader("access_token="+tok))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		check(t, v.send(t, req), 401, chBearer, tok)
	})
}

// TestAttackA_KeySelection covers the rows that depend on the key set's
// state: A10 (unknown kid: one rate-limited refresh, then 401 without
// fetching) and A12 with a single key.
func TestAttackA_KeySelection(t *testing.T) {
	t.Parallel()
	t.Run("A10 unknown kid refreshes once per cooldown", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		v.clock.Advance(11 * time.Second) // past the 10 s minimum since start-up
		v.kc.ResetCounters()
		for i := range 5 {
			tok := v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey(), keycloaktest.WithKeyID(fmt.Sprintf("unknown-%d", i)))
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		}
		assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointJWKS), "one refresh for the first unknown kid, none inside the cooldown")
		v.clock.Advance(11 * time.Second)
		tok := v.kc.SignToken(v.claims(), keycloaktest.WithKeyID("unknown-after-cooldown"))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		assert.Equal(t, 2, v.kc.Requests(keycloaktest.EndpointJWKS), "after the cooldown, one more refresh")
	})
	t.Run("A12 no kid, one key in the JWKS", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		tok := v.kc.SignToken(v.claims(), keycloaktest.WithoutKeyID())
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		forged := v.kc.SignToken(v.claims(), keycloaktest.WithoutKeyID(), keycloaktest.WithForeignKey())
		check(t, v.do(t, http.MethodGet, "/admin/x", forged), 401, chInvalidToken, forged)
	})
	t.Run("A12 no kid, two keys of the realm's algorithm", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF, withKC(keycloaktest.WithSigningAlgorithm("RS256")))
		// A published but unused second RS256 key makes "no kid" ambiguous.
		v.kc.AddKey("RS256")
		v.clock.Advance(6 * time.Minute) // periodic refresh picks up the new key
		tok := v.kc.SignToken(v.claims())
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		require.Eventually(t, func() bool {
			nokid := v.kc.SignToken(v.claims(), keycloaktest.WithoutKeyID())
			return v.do(t, http.MethodGet, "/admin/x", nokid).status == 401
		}, 5*time.Second, 20*time.Millisecond)
	})
}
