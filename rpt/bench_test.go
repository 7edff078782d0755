package rpt_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// BenchmarkVerify compares Verifier.Verify (cache miss = cold, cache hit =
// warm) with golang-jwt Parse doing equivalent claim checks, for RPTs with 5
// and 50 permissions.
func BenchmarkVerify(b *testing.B) {
	kc := keycloaktest.New(b, keycloaktest.WithTokenLifetime(time.Hour))
	keys := realmKeys(b, kc)
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid")
		}
		return k, nil
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(kc.ClientID()),
		jwt.WithIssuer(kc.Issuer()), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute))
	ctx := context.Background()
	for _, n := range []int{5, 50} {
		perms := make([]rpt.Permission, n)
		for i := range perms {
			perms[i] = rpt.Permission{ResourceID: fmt.Sprintf("6f1f2a3b-4c5d-4a43-9b8c-%012d", i),
				ResourceName: fmt.Sprintf("Resource %d", i), Scopes: []string{"view", "edit", "delete"}}
		}
		const pool = 32
		tokens := make([]string, pool)
		for i := range tokens {
			tokens[i] = kc.IssueRPT("alice", perms...)
		}
		baseline := func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := parser.Parse(tokens[i%pool], keyFunc); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("cold/p%d/rptguard", n), func(b *testing.B) {
			// A one-entry cache with a pool of tokens: every call misses,
			// hashes, verifies and inserts (evicting).
			cfg := config(kc)
			cfg.CacheSize = 1
			v := newVerifier(b, kc, cfg)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := v.Verify(ctx, tokens[i%pool]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cold/p%d/baseline", n), baseline)
		b.Run(fmt.Sprintf("warm/p%d/rptguard", n), func(b *testing.B) {
			v := newVerifier(b, kc, config(kc))
			for _, t := range tokens {
				_, err := v.Verify(ctx, t)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := v.Verify(ctx, tokens[i%pool]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("warm/p%d/baseline", n), baseline)
	}
}

func realmKeys(tb testing.TB, kc *keycloaktest.Server) map[string]any {
	tb.Helper()
	resp, err := kc.HTTPClient().Get(kc.JWKSURL())
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	var set jwkset.JWKSMarshal
	require.NoError(tb, jsonUnmarshal(body, &set))
	out := map[string]any{}
	for _, m := range set.Keys {
		j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		require.NoError(tb, err)
		out[m.KID] = j.Key()
	}
	return out
}
