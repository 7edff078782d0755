package interop_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/rpt"
)

// introspectionConfig is an introspection.Config for oidc-provider's RFC 7662
// endpoint, authenticating as client with client_secret_basic. Caching is
// off so every call reaches the server (revocation must show at once).
func introspectionConfig(s *nodeServer, client, audience string) introspection.Config {
	return introspection.Config{
		Endpoint:          s.IntrospectionEndpoint,
		ClientID:          client,
		ClientSecret:      s.Clients[client],
		Rules:             rpt.ClaimRules{Issuer: s.Issuer, Audience: []string{audience}},
		CacheTTL:          -1,
		NegativeCacheTTL:  -1,
		ErrorBackoff:      -1,
		InsecureAllowHTTP: true, // loopback test server only; never in production
	}
}

func newIntrospector(tb testing.TB, cfg introspection.Config) *introspection.Client {
	tb.Helper()
	c, err := introspection.New(cfg)
	require.NoError(tb, err)
	return c
}

// TestIntrospection checks introspection.Client against oidc-provider's
// introspection endpoint with its opaque access tokens.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	orders := s.token(t, clientFrontend, resourceOrdersOpaque, "read write")
	readonly := s.token(t, clientReadonly, resourceOrdersOpaque, "read")
	reports := s.token(t, clientFrontend, resourceReports, "read")
	jwt := s.token(t, clientFrontend, resourceOrdersJWT, "read")
	revoked := s.token(t, clientFrontend, resourceOrdersOpaque, "read")
	s.revoke(t, clientFrontend, revoked)
	notRevoked := s.token(t, clientFrontend, resourceOrdersOpaque, "read")
	s.revoke(t, clientReadonly, notRevoked) // not its token: the server ignores it

	ordersPerm := rpt.Permission{ResourceID: ordersID, ResourceName: "orders", Scopes: []string{"read", "write"}}
	tests := []struct {
		name      string
		client    string
		audience  string
		token     string
		cfg       func(*introspection.Config)
		wantErr   error
		wantNot   error // the error must NOT match this
		wantPerms []rpt.Permission
		wantAzp   string
	}{
		{
			name: "active opaque token", client: clientOrders, audience: clientOrders, token: orders,
			wantPerms: []rpt.Permission{ordersPerm}, wantAzp: clientFrontend,
		},
		{
			name: "other client's narrower grant", client: clientOrders, audience: clientOrders, token: readonly,
			wantPerms: []rpt.Permission{{ResourceID: ordersID, ResourceName: "orders", Scopes: []string{"read"}}},
			wantAzp:   clientReadonly,
		},
		{
			name: "RFC 7662 access_token hint", client: clientOrders, audience: clientOrders, token: orders,
			cfg: func(c *introspection.Config) {
				c.TokenTypeHint = "access_token"
				c.Rules.SubjectOptional = true // oidc-provider omits sub for client-credentials tokens
			},
			wantPerms: []rpt.Permission{ordersPerm}, wantAzp: clientFrontend,
		},
		{
			name: "no hint, sub required: client-credentials answer has no sub", client: clientOrders, audience: clientOrders, token: orders,
			cfg:     func(c *introspection.Config) { c.OmitTokenTypeHint = true },
			wantErr: rpt.ErrClaims,
		},
		{
			name: "token for another resource server (active, wrong aud)", client: clientOrders, audience: clientOrders, token: reports,
			wantErr: rpt.ErrAudience,
		},
		{
			name: "token for this resource server", client: clientReports, audience: clientReports, token: reports,
			wantPerms: []rpt.Permission{{ResourceID: reportsID, ResourceName: "reports", Scopes: []string{"read"}}},
			wantAzp:   clientFrontend,
		},
		{
			name: "unknown token", client: clientOrders, audience: clientOrders, token: "bm90LWEtdG9rZW4tYXQtYWxsLWp1c3QtcmFuZG9tLWJ5dGVz",
			wantErr: introspection.ErrInactive,
		},
		{
			name: "revoked token", client: clientOrders, audience: clientOrders, token: revoked,
			wantErr: introspection.ErrInactive,
		},
		{
			name: "revocation by a client the token was not issued to has no effect", client: clientOrders, audience: clientOrders, token: notRevoked,
			wantPerms: []rpt.Permission{ordersPerm}, wantAzp: clientFrontend,
		},
		{
			// oidc-provider refuses to introspect its own JWT access tokens
			// (400 unsupported_token_type); Keycloak introspects them. The
			// client must fail closed: unavailable (503), never inactive/active.
			name: "JWT access token: 400 unsupported_token_type", client: clientOrders, audience: clientOrders, token: jwt,
			wantErr: introspection.ErrUnavailable, wantNot: rpt.ErrInvalidToken,
		},
		{
			name: "wrong client secret", client: clientOrders, audience: clientOrders, token: orders,
			cfg:     func(c *introspection.Config) { c.ClientSecret = "not-the-secret" },
			wantErr: introspection.ErrClientAuth, wantNot: rpt.ErrInvalidToken,
		},
		{
			// Like Keycloak, oidc-provider accepts either secret method.
			name: "client_secret_post", client: clientOrders, audience: clientOrders, token: orders,
			cfg:       func(c *introspection.Config) { c.AuthMethod = introspection.ClientSecretPost },
			wantPerms: []rpt.Permission{ordersPerm}, wantAzp: clientFrontend,
		},
		{
			name: "client_secret_post with a wrong secret", client: clientOrders, audience: clientOrders, token: orders,
			cfg: func(c *introspection.Config) {
				c.AuthMethod = introspection.ClientSecretPost
				c.ClientSecret = "not-the-secret"
			},
			wantErr: introspection.ErrClientAuth, wantNot: rpt.ErrInvalidToken,
		},
		{
			name: "unknown client", client: clientOrders, audience: clientOrders, token: orders,
			cfg:     func(c *introspection.Config) { c.ClientID = "no-such-client" },
			wantErr: introspection.ErrClientAuth, wantNot: rpt.ErrInvalidToken,
		},
		{
			name: "issuer compared exactly", client: clientOrders, audience: clientOrders, token: orders,
			cfg:     func(c *introspection.Config) { c.Rules.Issuer += "/" },
			wantErr: rpt.ErrIssuer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := introspectionConfig(s, tt.client, tt.audience)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newIntrospector(t, cfg)
			claims, err := c.Verify(context.Background(), tt.token)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				if tt.wantNot != nil {
					require.NotErrorIs(t, err, tt.wantNot)
				}
				assert.Nil(t, claims)
				assert.NotContains(t, err.Error(), tt.token)
				assert.NotContains(t, err.Error(), s.Clients[tt.client])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, s.Issuer, claims.Issuer)
			assert.Equal(t, []string{tt.audience}, claims.Audience)
			assert.Equal(t, "Bearer", claims.Type)
			assert.Equal(t, tt.wantAzp, claims.AuthorizedParty)
			assert.Contains(t, claims.RealmRoles, "default-roles-interop")
			assert.Empty(t, claims.Subject, "oidc-provider: no sub for client-credentials tokens")
			assert.Empty(t, claims.ID, "oidc-provider: no jti for opaque tokens (the token is its own id)")
			assert.Equal(t, 300*time.Second, claims.ExpiresAt.Sub(claims.IssuedAt))
			require.NotNil(t, claims.Authorization)
			assert.Equal(t, tt.wantPerms, claims.Permissions())
		})
	}
}

// TestIntrospectionRevokedAfterActive revokes a token that introspected as
// active a moment before; with caching off the next call sees it inactive.
func TestIntrospectionRevokedAfterActive(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	c := newIntrospector(t, introspectionConfig(s, clientOrders, clientOrders))
	ctx := context.Background()
	token := s.token(t, clientFrontend, resourceOrdersOpaque, "read")

	res, err := c.Introspect(ctx, token)
	require.NoError(t, err)
	assert.Len(t, res.Claims.Permissions(), 1)

	s.revoke(t, clientFrontend, token)
	_, err = c.Verify(ctx, token)
	require.ErrorIs(t, err, introspection.ErrInactive)
	require.ErrorIs(t, err, rpt.ErrInvalidToken)
}

// TestIntrospectionCachedAcrossRevocation documents RFC 7662 §4's trade-off
// with a real server: with the default positive cache, a token revoked after
// its first introspection is still accepted until the cache entry ends.
func TestIntrospectionCachedAcrossRevocation(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	cfg := introspectionConfig(s, clientOrders, clientOrders)
	cfg.CacheTTL = 0 // DefaultCacheTTL
	clock := &stepClock{}
	c, err := introspection.New(cfg, introspection.WithClock(clock.now))
	require.NoError(t, err)
	ctx := context.Background()
	token := s.token(t, clientFrontend, resourceOrdersOpaque, "read")

	_, err = c.Verify(ctx, token)
	require.NoError(t, err)
	s.revoke(t, clientFrontend, token)
	_, err = c.Verify(ctx, token)
	require.NoError(t, err, "answered from the cache")

	clock.advance(introspection.DefaultCacheTTL + time.Second)
	_, err = c.Verify(ctx, token)
	require.ErrorIs(t, err, introspection.ErrInactive)
}

// TestIntrospectionExpired waits for a 1-second token to expire at the
// server (configured with no clock tolerance) and sees it inactive.
func TestIntrospectionExpired(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	c := newIntrospector(t, introspectionConfig(s, clientOrders, clientOrders))
	ctx := context.Background()
	token := s.token(t, clientFrontend, resourceOrdersShort, "read")

	res, err := c.Introspect(ctx, token)
	require.NoError(t, err)
	exp := res.Claims.ExpiresAt
	assert.Equal(t, time.Second, exp.Sub(res.Claims.IssuedAt))

	// exp is whole seconds; the server calls a token expired once now > exp.
	time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
	_, err = c.Verify(ctx, token)
	require.ErrorIs(t, err, introspection.ErrInactive)
}

// TestHybridFailsClosedOnJWT: Hybrid (local verification, then introspection
// for revocation) cannot work with oidc-provider's JWT access tokens, because
// oidc-provider does not introspect them. It must fail closed (503), not
// fall back to the local result.
func TestHybridFailsClosedOnJWT(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	local := newVerifier(t, verifierConfig(s))
	h, err := introspection.NewHybrid(local, newIntrospector(t, introspectionConfig(s, clientOrders, clientOrders)), introspection.Always)
	require.NoError(t, err)
	token := s.token(t, clientFrontend, resourceOrdersJWT, "read")

	_, err = local.Verify(context.Background(), token)
	require.NoError(t, err)
	_, err = h.Verify(context.Background(), token)
	require.ErrorIs(t, err, introspection.ErrUnavailable)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
	var ue *introspection.UnavailableError
	require.True(t, errors.As(err, &ue))
	assert.Equal(t, 400, ue.StatusCode)
}
