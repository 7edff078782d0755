package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

// groupCConfig is the (f) fixture plus a path whose claim information point
// reads the request body (C13), with a 1 KiB body limit.
const groupCConfig = `{"paths":[
	{"path":"/admin/*","name":"Admin"},
	{"path":"/cip","name":"Orders","claim-information-point":{"claims":{"item":"{request.body['/item']}"}}}],
	"rptguard":{"permissions-source":"token","max-body-bytes":1024}}`

// TestAttackC_Size runs security.md (c) end to end: oversized and
// malformed input is refused cheaply with the contract's status.
func TestAttackC_Size(t *testing.T) {
	t.Parallel()
	own := ownRSA(t)
	huge := make([]byte, 2048) // a 16,384-bit modulus (C11)
	huge[0] = 0x80
	huge[len(huge)-1] = 1
	v := newEnv(t, groupCConfig, withExtraKeys(
		own.jwk(t, nil),
		// C8: broken keys beside the good one are skipped.
		json.RawMessage(`{"kty":"RSA","kid":"bad-n","use":"sig","n":"!!not-base64!!","e":"AQAB"}`),
		json.RawMessage(`{"kty":"RSA","kid":"e-one","use":"sig","n":"`+b64.EncodeToString(big.NewInt(0).Lsh(big.NewInt(1), 2047).Bytes())+`","e":"AQ"}`),
		own.jwk(t, map[string]any{"kid": "e-even", "e": "AQAC"}),
		json.RawMessage(`{"kty":"foo","kid":"kty-foo","use":"sig"}`),
		own.jwk(t, map[string]any{"kid": "bad-x5c", "x5c": []string{"not a certificate"}}),
		// C11: oversized modulus and exponent.
		json.RawMessage(`{"kty":"RSA","kid":"huge-n","use":"sig","alg":"RS256","n":"`+b64.EncodeToString(huge)+`","e":"AQAB"}`),
		own.jwk(t, map[string]any{"kid": "huge-e", "e": b64.EncodeToString(big.NewInt(0).Lsh(big.NewInt(1), 40).Bytes())}),
	))
	kc := v.kc
	good := func() string { return kc.SignToken(v.claims()) }
	ownTok := func(kid, payload string) string {
		return own.token(t, fmt.Sprintf(`{"alg":"RS256","typ":"JWT","kid":%q}`, kid), payload)
	}
	nested := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)

	tests := []struct {
		id, name string
		token    string
		want     int
		ch       string
	}{
		{"control", "valid token", good(), 200, chNone},
		{"C1", "one million dots", strings.Repeat(".", 1_000_000), 401, chInvalidToken},
		{"C2", "token of 16 KiB + 1", strings.Repeat("a", 16<<10+1), 401, chInvalidToken},
		{"C2", "signed token padded over 16 KiB", func() string {
			return kc.SignToken(v.with("pad", strings.Repeat("x", 16<<10)))
		}(), 401, chInvalidToken},
		{"C3", "payload of 5,000 nested arrays", ownTok("e2e-rsa", nested), 401, chInvalidToken},
		{"C3", "claim of 5,000 nested arrays", ownTok("e2e-rsa", v.payloadJSON(t, `,"x":`+nested)), 401, chInvalidToken},
		{"C4", "four segments", good() + ".AAAA", 401, chInvalidToken},
		{"C4", "six segments", good() + ".AAAA.BBBB.CCCC", 401, chInvalidToken},
		{"C4", "100 segments", strings.Repeat("AAAA.", 99) + "AAAA", 401, chInvalidToken},
		{"C5", "impossible base64 length", "a.b.c", 401, chInvalidToken},
		{"C5", "empty segments", "..", 401, chInvalidToken},
		{"C6", "exp 1e999999", ownTok("e2e-rsa", strings.Replace(v.payloadJSON(t, ""), `"exp":`, `"exp":1e999999,"x-old-exp":`, 1)), 401, chInvalidToken},
		{"C6", "exp a 10,000-digit number", ownTok("e2e-rsa", strings.Replace(v.payloadJSON(t, ""), `"exp":`, `"exp":1`+strings.Repeat("0", 10000)+`,"x-old-exp":`, 1)), 401, chInvalidToken},
		{"C8", "good key among broken ones", ownTok("e2e-rsa", v.payloadJSON(t, "")), 200, chNone},
		{"C8", "key with an even exponent", ownTok("e-even", v.payloadJSON(t, "")), 401, chInvalidToken},
		// A key whose n and e are good but whose x5c is garbage is usable:
		// rptguard never reads x5c (A9), the JWKS itself is the trust
		// anchor, so the garbage cannot change which key verifies.
		{"C8", "key with a garbage x5c (x5c ignored)", ownTok("bad-x5c", v.payloadJSON(t, "")), 200, chNone},
		{"C11", "16,384-bit modulus", ownTok("huge-n", v.payloadJSON(t, "")), 401, chInvalidToken},
		{"C11", "exponent 2^40", ownTok("huge-e", v.payloadJSON(t, "")), 401, chInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, v.do(t, http.MethodGet, "/admin/x", tt.token), tt.want, tt.ch, tt.token)
		})
	}

	// C5: characters outside RFC 6750's b64token are a malformed
	// credential: 400 invalid_request before any decoding (the catalogue's
	// 401 applies at the verifier level, rpt/verifier_test.go).
	for _, bad := range []string{"a!b.c.d", "a.b.c*", "a.b.c{", "é.b.c"} {
		t.Run("C5 illegal character "+fmt.Sprintf("%q", bad), func(t *testing.T) {
			t.Parallel()
			r := v.raw(t, "GET /admin/x HTTP/1.1", "Authorization: Bearer "+bad)
			check(t, r, 400, chInvalidRequest)
		})
	}

	// C13: a claim information point that needs the body never sees a
	// truncated one.
	orders := kc.IssueRPT("bob", perm(kc, "Orders"))
	body := func(name string, n int, chunked bool, want int) {
		t.Run("C13 "+name, func(t *testing.T) {
			t.Parallel()
			payload := `{"item":"` + strings.Repeat("x", n) + `"}`
			var rd io.Reader = strings.NewReader(payload)
			if chunked {
				rd = io.MultiReader(rd) // unknown length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, v.srv.URL+"/cip", rd)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+orders)
			req.Header.Set("Content-Type", "application/json")
			ch := chNone
			check(t, v.send(t, req), want, ch, orders)
		})
	}
	body("small body", 10, false, 200)
	body("small chunked body", 10, true, 200)
	body("body over the limit", 2048, false, 413)
	body("chunked body over the limit", 2048, true, 413)

	// C14: long paths and many segments answer 414 before matching.
	tok := good()
	t.Run("C14 path of 64 KiB", func(t *testing.T) {
		t.Parallel()
		check(t, v.do(t, http.MethodGet, "/admin/"+strings.Repeat("a", 64<<10), tok), 414, chNone, tok)
	})
	t.Run("C14 10,000 segments", func(t *testing.T) {
		t.Parallel()
		check(t, v.do(t, http.MethodGet, "/admin"+strings.Repeat("/a", 10000), tok), 414, chNone, tok)
	})
	t.Run("C14 257 short segments", func(t *testing.T) {
		t.Parallel()
		check(t, v.do(t, http.MethodGet, "/admin"+strings.Repeat("/a", 256), tok), 414, chNone, tok)
	})

	// C15: repeated credentials or overrides are ambiguous: 400.
	t.Run("C15 500 Authorization headers", func(t *testing.T) {
		t.Parallel()
		var hdr []string
		for range 500 {
			hdr = append(hdr, "Authorization", "Bearer "+tok)
		}
		check(t, v.do(t, http.MethodGet, "/admin/x", "", hdr...), 400, chInvalidRequest, tok)
	})
	t.Run("C15 repeated X-HTTP-Method-Override", func(t *testing.T) {
		t.Parallel()
		check(t, v.do(t, http.MethodPost, "/admin/x", tok, "X-HTTP-Method-Override", "GET", "X-HTTP-Method-Override", "DELETE"), 400, chNone, tok)
	})
	t.Run("C15 500 unrelated headers change nothing", func(t *testing.T) {
		t.Parallel()
		var hdr []string
		for i := range 500 {
			hdr = append(hdr, "X-Noise", fmt.Sprint(i))
		}
		check(t, v.do(t, http.MethodGet, "/admin/x", tok, hdr...), 200, chNone, tok)
	})
}

// TestAttackC_Floods covers C7 (an oversized or overfull JWKS never
// replaces the last good one), C10 (a flood of garbage tokens with random
// kids causes at most one JWKS fetch per cooldown) and C12 (an oversized
// introspection answer is an upstream error, 503, and is not cached).
func TestAttackC_Floods(t *testing.T) {
	t.Parallel()
	keys := make([]string, 101)
	for i := range keys {
		keys[i] = fmt.Sprintf(`{"kty":"oct","kid":"k%d","k":"AAAA"}`, i)
	}
	for name, body := range map[string][]byte{
		"JWKS of 2 MiB":    []byte(`{"keys":[` + strings.Repeat(" ", 2<<20) + `]}`),
		"JWKS of 101 keys": []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`),
	} {
		t.Run("C7 "+name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, fixtureF)
			tok := v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
			v.kc.SetJWKS(body)
			v.clock.Advance(6 * time.Minute) // the periodic refresh is due
			v.kc.ResetCounters()
			fresh := v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", fresh), 200, chNone, fresh)
			require.Eventually(t, func() bool { return v.kc.Requests(keycloaktest.EndpointJWKS) >= 1 }, 5*time.Second, 10*time.Millisecond)
			time.Sleep(50 * time.Millisecond) // let the refused refresh finish
			fresh = v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", fresh), 200, chNone, fresh)
			// Beyond the key set's maximum age (10 min) without a good
			// refresh, nothing is accepted: 503, never an allow.
			v.clock.Advance(5 * time.Minute)
			fresh = v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", fresh), 503, chNone, fresh)
		})
	}
	t.Run("C10 garbage tokens with random kids", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, fixtureF)
		v.clock.Advance(11 * time.Second)
		v.kc.ResetCounters()
		for i := range 200 {
			tok := v.kc.SignToken(v.claims(), keycloaktest.WithForeignKey(), keycloaktest.WithKeyID(fmt.Sprintf("rnd-%d-%s", i, randomID())))
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		}
		assert.LessOrEqual(t, v.kc.Requests(keycloaktest.EndpointJWKS), 1, "at most one JWKS fetch per cooldown")
		assert.Zero(t, v.kc.Requests(keycloaktest.EndpointIntrospection))
		assert.Zero(t, v.kc.Requests(keycloaktest.EndpointToken))
	})
	t.Run("C12 introspection answer of 10 MB", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, `{"paths":[{"path":"/admin/*","name":"Admin"}],
			"rptguard":{"permissions-source":"token","token-verification":"introspection"}}`)
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		v.kc.Respond(keycloaktest.EndpointIntrospection, 200, "application/json",
			`{"active":true,"x":"`+strings.Repeat("a", 10<<20)+`"}`)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 503, chNone, tok)
		v.kc.Respond(keycloaktest.EndpointIntrospection, 200, "application/json", `{"active":true} {"active":false}`)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 503, chNone, tok)
		// Failures are not cached as answers; only the 1 s error back-off
		// (introspection.Config.ErrorBackoff) holds them briefly.
		v.kc.Heal(keycloaktest.EndpointIntrospection)
		v.clock.Advance(2 * time.Second)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
	})
}
