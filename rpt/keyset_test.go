package rpt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var b64u = base64.RawURLEncoding

func rsaJWK(tb testing.TB, bits int, kid string, extra map[string]any) map[string]any {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(tb, err)
	m := map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64u.EncodeToString(k.N.Bytes()), "e": b64u.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	for n, v := range extra {
		if v == nil {
			delete(m, n)
		} else {
			m[n] = v
		}
	}
	return m
}

func ecJWK(tb testing.TB, curve elliptic.Curve, crv, kid string) map[string]any {
	tb.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(tb, err)
	size := (curve.Params().BitSize + 7) / 8
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv,
		"x": b64u.EncodeToString(k.X.FillBytes(make([]byte, size))), "y": b64u.EncodeToString(k.Y.FillBytes(make([]byte, size)))}
}

func jwksBody(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(tb, err)
	return b
}

var discard = slog.New(slog.DiscardHandler)

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	good := rsaJWK(t, 2048, "good", nil)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name     string
		keys     []map[string]any
		raw      string
		wantKIDs []string
		wantErr  bool
	}{
		{name: "one good key", keys: []map[string]any{good}, wantKIDs: []string{"good"}},
		{name: "A15 RSA 1024 rejected", keys: []map[string]any{good, rsaJWK(t, 1024, "weak", nil)}, wantKIDs: []string{"good"}},
		{name: "A14 use enc skipped", keys: []map[string]any{good, rsaJWK(t, 2048, "enc", map[string]any{"use": "enc"})}, wantKIDs: []string{"good"}},
		{name: "A14 key_ops without verify", keys: []map[string]any{good, rsaJWK(t, 2048, "ops", map[string]any{"key_ops": []string{"encrypt"}})}, wantKIDs: []string{"good"}},
		{name: "key_ops with verify", keys: []map[string]any{rsaJWK(t, 2048, "ops", map[string]any{"key_ops": []string{"verify"}})}, wantKIDs: []string{"ops"}},
		{name: "C8 bad n", keys: []map[string]any{good, rsaJWK(t, 2048, "badn", map[string]any{"n": "!!"})}, wantKIDs: []string{"good"}},
		{name: "C8 e=1", keys: []map[string]any{good, rsaJWK(t, 2048, "e1", map[string]any{"e": "AQ"})}, wantKIDs: []string{"good"}},
		{name: "C8 e even", keys: []map[string]any{good, rsaJWK(t, 2048, "e2", map[string]any{"e": "AQAC"})}, wantKIDs: []string{"good"}},
		{name: "C11 huge e", keys: []map[string]any{good, rsaJWK(t, 2048, "ebig", map[string]any{"e": b64u.EncodeToString([]byte{1, 0, 0, 0, 0, 1})})}, wantKIDs: []string{"good"}},
		{name: "C8 unknown kty", keys: []map[string]any{good, {"kty": "foo", "kid": "foo"}}, wantKIDs: []string{"good"}},
		{name: "C8 garbage x5c ignored", keys: []map[string]any{rsaJWK(t, 2048, "x5c", map[string]any{"x5c": []string{"garbage"}})}, wantKIDs: []string{"x5c"}},
		{name: "C8 wrong-typed kid", keys: []map[string]any{good, rsaJWK(t, 2048, "x", map[string]any{"kid": 5})}, wantKIDs: []string{"good"}},
		{name: "padded n rejected", keys: []map[string]any{good, rsaJWK(t, 2048, "pad", map[string]any{"e": "AQAB=="})}, wantKIDs: []string{"good"}},
		{name: "private key published", keys: []map[string]any{good, rsaJWK(t, 2048, "priv", map[string]any{"d": "AQAB"})}, wantKIDs: []string{"good"}},
		{name: "oct key skipped", keys: []map[string]any{good, {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}}, wantKIDs: []string{"good"}},
		{name: "RSA alg RSA-OAEP skipped", keys: []map[string]any{good, rsaJWK(t, 2048, "oaep", map[string]any{"alg": "RSA-OAEP"})}, wantKIDs: []string{"good"}},
		{name: "EC P-256", keys: []map[string]any{ecJWK(t, elliptic.P256(), "P-256", "ec")}, wantKIDs: []string{"ec"}},
		{name: "A16 EC crv mismatch", keys: []map[string]any{good, func() map[string]any {
			m := ecJWK(t, elliptic.P256(), "P-256", "ec")
			m["crv"] = "P-384"
			return m
		}()}, wantKIDs: []string{"good"}},
		{name: "A16 EC point not on curve", keys: []map[string]any{good, func() map[string]any {
			m := ecJWK(t, elliptic.P256(), "P-256", "ec")
			m["y"] = m["x"]
			return m
		}()}, wantKIDs: []string{"good"}},
		{name: "EC alg mismatch", keys: []map[string]any{good, func() map[string]any {
			m := ecJWK(t, elliptic.P256(), "P-256", "ec")
			m["alg"] = "ES384"
			return m
		}()}, wantKIDs: []string{"good"}},
		{name: "Ed25519", keys: []map[string]any{{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64u.EncodeToString(pub)}}, wantKIDs: []string{"ed"}},
		{name: "A13 duplicate kid same type dropped", keys: []map[string]any{good, rsaJWK(t, 2048, "dup", nil), rsaJWK(t, 2048, "dup", nil)}, wantKIDs: []string{"good"}},
		{name: "A13 duplicate kid distinct types kept", keys: []map[string]any{rsaJWK(t, 2048, "dup", nil), ecJWK(t, elliptic.P256(), "P-256", "dup")}, wantKIDs: []string{"dup", "dup"}},
		{name: "H5 empty set", keys: []map[string]any{}, wantErr: true},
		{name: "H5 only broken keys", keys: []map[string]any{rsaJWK(t, 1024, "weak", nil)}, wantErr: true},
		{name: "H5 html", raw: "<html>hi</html>", wantErr: true},
		{name: "H5 truncated", raw: string(jwksBody(t, good))[:100], wantErr: true},
		{name: "keys not an array", raw: `{"keys":{}}`, wantErr: true},
		{name: "duplicate member", raw: `{"keys":[],"keys":[]}`, wantErr: true},
		{name: "C7 too many keys", raw: `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"foo"},`, 101), ",") + `]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.raw)
			if tt.raw == "" {
				body = jwksBody(t, tt.keys...)
			}
			ks, err := parseJWKS(body, DefaultJWKSMaxKeys, nil, discard)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, ks)
				return
			}
			require.NoError(t, err)
			var kids []string
			for _, k := range ks.all {
				kids = append(kids, k.kid)
			}
			assert.ElementsMatch(t, tt.wantKIDs, kids)
		})
	}
}

func TestKeyFitsAndLookup(t *testing.T) {
	t.Parallel()
	ks, err := parseJWKS(jwksBody(t, rsaJWK(t, 2048, "rsa", map[string]any{"alg": nil}), ecJWK(t, elliptic.P256(), "P-256", "ec"),
		rsaJWK(t, 2048, "rs512", map[string]any{"alg": "RS512"}), rsaJWK(t, 2048, "rsa2", nil)), 100, nil, discard)
	require.NoError(t, err)
	k, known, err := ks.lookup("rsa", "RS256")
	require.NoError(t, err)
	assert.True(t, known)
	assert.Equal(t, "rsa", k.kid)
	_, known, err = ks.lookup("rsa", "ES256") // A5
	assert.True(t, known)
	require.ErrorIs(t, err, ErrUnsupportedAlg)
	_, _, err = ks.lookup("rs512", "RS256") // A5: JWK alg pins the algorithm
	require.ErrorIs(t, err, ErrUnsupportedAlg)
	_, _, err = ks.lookup("ec", "ES384")
	require.ErrorIs(t, err, ErrUnsupportedAlg)
	_, known, _ = ks.lookup("nope", "RS256")
	assert.False(t, known)
	// A12: no kid: several RSA keys fit RS256 -> rejected; one EC key fits ES256.
	_, err = ks.single("RS256")
	require.ErrorIs(t, err, ErrKeyNotFound)
	k, err = ks.single("ES256")
	require.NoError(t, err)
	assert.Equal(t, "ec", k.kid)
	// Unchanged keys keep identity across refreshes.
	again, err := parseJWKS(jwksBody(t, rsaJWK(t, 2048, "new", nil)), 100, ks, discard)
	require.NoError(t, err)
	assert.False(t, again.holds(k))
}

// FuzzJWKS: parseJWKS never panics, and whatever it accepts holds only
// keys that passed the checks.
func FuzzJWKS(f *testing.F) {
	f.Add(jwksBody(f, rsaJWK(f, 2048, "a", nil)))
	f.Add(jwksBody(f, ecJWK(f, elliptic.P256(), "P-256", "e")))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"OKP","crv":"Ed25519","x":"AA"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := parseJWKS(data, DefaultJWKSMaxKeys, nil, discard)
		if err != nil {
			return
		}
		require.NotEmpty(t, ks.all)
		for _, k := range ks.all {
			if rk, ok := k.pub.(*rsa.PublicKey); ok {
				require.GreaterOrEqual(t, rk.N.BitLen(), minRSABits)
				require.LessOrEqual(t, rk.N.BitLen(), maxRSABits)
			}
			require.LessOrEqual(t, len(k.kid), maxKIDLen)
		}
	})
}
