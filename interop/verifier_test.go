package interop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/rpt"
)

// verifierConfig is the rpt.Config for oidc-provider's JWT access tokens:
// explicit Issuer and JWKSURL (its issuer is not Keycloak's
// {base}/realms/{realm}), the RFC 9068 typ header "at+jwt" (oidc-provider
// always sets it; Keycloak sets "JWT"), and plain HTTP on loopback.
func verifierConfig(s *nodeServer) rpt.Config {
	return rpt.Config{
		ClaimRules: rpt.ClaimRules{
			Issuer:   s.Issuer,
			Audience: []string{clientOrders},
		},
		JWKSURL:           s.JWKSURI,
		HeaderTypes:       []string{"at+jwt"},
		InsecureAllowHTTP: true, // loopback test server only; never in production
	}
}

func newVerifier(tb testing.TB, cfg rpt.Config, opts ...rpt.Option) *rpt.Verifier {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := rpt.New(ctx, cfg, opts...)
	require.NoError(tb, err)
	tb.Cleanup(v.Close)
	return v
}

// TestVerifier checks rpt.Verifier against oidc-provider's RS256 JWT access
// tokens carrying Keycloak-style claims.
func TestVerifier(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	frontend := s.token(t, clientFrontend, resourceOrdersJWT, "read write")
	readonly := s.token(t, clientReadonly, resourceOrdersJWT, "read")
	reports := s.token(t, clientFrontend, resourceReports, "read") // opaque

	future := &stepClock{}
	future.advance(300*time.Second + rpt.DefaultLeeway + time.Second)

	tests := []struct {
		name      string
		token     string
		cfg       func(*rpt.Config)
		opts      []rpt.Option
		wantErr   error
		wantPerms []rpt.Permission
	}{
		{
			name:  "valid RPT-shaped token",
			token: frontend,
			wantPerms: []rpt.Permission{
				{ResourceID: ordersID, ResourceName: "orders", Scopes: []string{"read", "write"}},
			},
		},
		{
			name:  "second client, narrower permissions",
			token: readonly,
			wantPerms: []rpt.Permission{
				{ResourceID: ordersID, ResourceName: "orders", Scopes: []string{"read"}},
			},
		},
		{
			name:    "wrong audience",
			token:   frontend,
			cfg:     func(c *rpt.Config) { c.Audience = []string{clientReports} },
			wantErr: rpt.ErrAudience,
		},
		{
			name:    "authorized party not allowed",
			token:   frontend,
			cfg:     func(c *rpt.Config) { c.AllowedAuthorizedParties = []string{clientReadonly} },
			wantErr: rpt.ErrAudience,
		},
		{
			name:    "issuer compared exactly (trailing slash)",
			token:   frontend,
			cfg:     func(c *rpt.Config) { c.Issuer += "/" },
			wantErr: rpt.ErrIssuer,
		},
		{
			name:    "at+jwt rejected with the default header types",
			token:   frontend,
			cfg:     func(c *rpt.Config) { c.HeaderTypes = nil },
			wantErr: rpt.ErrTokenType,
		},
		{
			name:    "expired (clock past exp + leeway)",
			token:   frontend,
			opts:    []rpt.Option{rpt.WithClock(future.now)},
			wantErr: rpt.ErrExpired,
		},
		{
			name:    "RS256 not on the allow-list",
			token:   frontend,
			cfg:     func(c *rpt.Config) { c.Algorithms = []string{"ES256"} },
			wantErr: rpt.ErrUnsupportedAlg,
		},
		{
			name:    "tampered signature",
			token:   tamper(frontend),
			wantErr: rpt.ErrSignatureInvalid,
		},
		{
			name:    "opaque token is not a JWT",
			token:   reports,
			wantErr: rpt.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := verifierConfig(s)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v := newVerifier(t, cfg, tt.opts...)
			claims, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, rpt.ErrInvalidToken)
				assert.Nil(t, claims)
				assert.NotContains(t, err.Error(), tt.token[:20], "error leaks token material")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, s.Issuer, claims.Issuer)
			assert.Equal(t, []string{clientOrders}, claims.Audience)
			assert.Equal(t, "Bearer", claims.Type)
			assert.Equal(t, claims.Subject, claims.AuthorizedParty, "client-credentials token: sub is the client id")
			assert.Contains(t, claims.RealmRoles, "default-roles-interop")
			assert.Equal(t, 300*time.Second, claims.ExpiresAt.Sub(claims.IssuedAt))
			assert.NotEmpty(t, claims.ID)
			require.NotNil(t, claims.Authorization)
			assert.Equal(t, tt.wantPerms, claims.Permissions())
		})
	}
}

// TestVerifierExpiredError reads the expiry through errors.As.
func TestVerifierExpiredError(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	raw := s.token(t, clientFrontend, resourceOrdersJWT, "read")
	v := newVerifier(t, verifierConfig(s))
	claims, err := v.Verify(context.Background(), raw)
	require.NoError(t, err)

	clock := &stepClock{}
	clock.advance(claims.ExpiresAt.Sub(time.Now()) + rpt.DefaultLeeway + time.Second)
	late := newVerifier(t, verifierConfig(s), rpt.WithClock(clock.now))
	_, err = late.Verify(context.Background(), raw)
	var expired *rpt.ExpiredError
	require.ErrorAs(t, err, &expired)
	assert.True(t, expired.Expiry.Equal(claims.ExpiresAt))
}

// TestVerifierDiscovery lets rpt.New find the JWKS through
// {issuer}/.well-known/openid-configuration, which oidc-provider serves.
func TestVerifierDiscovery(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	cfg := verifierConfig(s)
	cfg.JWKSURL = ""
	v := newVerifier(t, cfg)
	claims, err := v.Verify(context.Background(), s.token(t, clientFrontend, resourceOrdersJWT, "read"))
	require.NoError(t, err)
	assert.Equal(t, []rpt.Permission{
		{ResourceID: ordersID, ResourceName: "orders", Scopes: []string{"read", "write"}},
	}, claims.Permissions())

	// Without the insecure switch, oidc-provider's http:// metadata is refused.
	cfg.InsecureAllowHTTP = false
	_, err = rpt.New(context.Background(), cfg)
	require.Error(t, err)
	assert.True(t, errors.Is(err, rpt.ErrConfig) || errors.Is(err, rpt.ErrDiscovery), "got %v", err)
}

// TestVerifierKeyRotation rotates oidc-provider's signing key: the JWKS then
// holds the new key and the previous one. A token with the new kid makes the
// Verifier fetch the JWKS again exactly once (no earlier than
// JWKSMinRefreshInterval after the last fetch); old tokens keep verifying.
func TestVerifierKeyRotation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	hc, counter := newCountingClient()
	t.Cleanup(counter.close)
	jwksPath := strings.TrimPrefix(s.JWKSURI, s.Issuer)
	clock := &stepClock{}
	v := newVerifier(t, verifierConfig(s), rpt.WithHTTPClient(hc), rpt.WithClock(clock.now))
	ctx := context.Background()
	require.Equal(t, 1, counter.count(jwksPath), "New fetches the key set once")

	before := s.token(t, clientFrontend, resourceOrdersJWT, "read")
	_, err := v.Verify(ctx, before)
	require.NoError(t, err)

	require.Equal(t, "interop-2", s.rotate(t))
	after := s.token(t, clientFrontend, resourceOrdersJWT, "read")
	require.NotEqual(t, headerKID(t, before), headerKID(t, after))

	// Within the minimum refresh interval (10 s by default) the unknown kid
	// causes no fetch.
	_, err = v.Verify(ctx, after)
	require.ErrorIs(t, err, rpt.ErrKeyNotFound)
	require.Equal(t, 1, counter.count(jwksPath))

	clock.advance(rpt.DefaultJWKSMinRefreshInterval + time.Second)
	claims, err := v.Verify(ctx, after)
	require.NoError(t, err)
	assert.Len(t, claims.Permissions(), 1)
	require.Equal(t, 2, counter.count(jwksPath), "one refresh for the new kid")

	// The old key stays in the set (as Keycloak keeps a passive key), and
	// repeated verifications cause no further fetches.
	_, err = v.Verify(ctx, before)
	require.NoError(t, err)
	for range 5 {
		_, err = v.Verify(ctx, s.token(t, clientFrontend, resourceOrdersJWT, "write"))
		require.NoError(t, err)
	}
	assert.Equal(t, 2, counter.count(jwksPath))
}

// tamper flips one character in the middle of the signature (keeping valid
// base64url).
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	p := []byte(parts[2])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	parts[2] = string(p)
	return strings.Join(parts, ".")
}

// headerKID returns the kid of a compact JWS's protected header.
func headerKID(tb testing.TB, raw string) string {
	tb.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(tb, err)
	var h struct {
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}
	require.NoError(tb, json.Unmarshal(b, &h))
	require.Equal(tb, "at+jwt", h.Typ)
	return h.KID
}
