package uma_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/uma"
)

// BenchmarkExchange compares a warm exchange-cache hit (rptguard) with the
// UMA grant a resource server would otherwise make on every request
// (baseline: uncached grant over loopback to keycloaktest, RPT verified).
func BenchmarkExchange(b *testing.B) {
	srv := newServer(b)
	c := newClient(b, srv)
	ctx := context.Background()
	alice := srv.AccessToken("alice")
	req := uma.ExchangeRequest{SubjectToken: alice, Permissions: []uma.Permission{
		{Resource: "orders-1", Scopes: []string{"view"}}, {Resource: "invoices-1", Scopes: []string{"view"}},
	}, Claims: map[string][]string{"ip": {"10.0.0.1"}}}

	b.Run("rptguard", func(b *testing.B) {
		_, err := c.Exchange(ctx, req)
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Exchange(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		greq := uma.GrantRequest{SubjectToken: alice, Permissions: req.Permissions, ClaimToken: req.Claims}
		_, err := c.RequestRPT(ctx, greq)
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.RequestRPT(ctx, greq); err != nil {
				b.Fatal(err)
			}
		}
	})
}
