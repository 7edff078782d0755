package rpt

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClaimRulesValidate(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	rules := ClaimRules{Issuer: "https://kc/realms/r", Audience: []string{"api"}}
	valid := func() *Claims {
		return &Claims{Issuer: "https://kc/realms/r", Subject: "u", Audience: []string{"account", "api"},
			Type: "Bearer", ExpiresAt: now.Add(5 * time.Minute), IssuedAt: now.Add(-time.Minute)}
	}
	tests := []struct {
		name    string
		rules   func(r *ClaimRules)
		claims  func(c *Claims)
		wantErr error
	}{
		{name: "valid"},
		{name: "B1 expired", claims: func(c *Claims) { c.ExpiresAt = now.Add(-61 * time.Second); c.IssuedAt = now.Add(-time.Hour) }, wantErr: ErrExpired},
		{name: "B2 exp missing", claims: func(c *Claims) { c.ExpiresAt = time.Time{} }, wantErr: ErrClaims},
		{name: "B3 exp == now without leeway", rules: func(r *ClaimRules) { r.Leeway = -1 }, claims: func(c *Claims) { c.ExpiresAt = now }, wantErr: ErrExpired},
		{name: "B3 exp == now - leeway", claims: func(c *Claims) { c.ExpiresAt = now.Add(-60 * time.Second); c.IssuedAt = now.Add(-time.Hour) }, wantErr: ErrExpired},
		{name: "B3 exp == now - leeway + 1s", claims: func(c *Claims) { c.ExpiresAt = now.Add(-59 * time.Second); c.IssuedAt = now.Add(-time.Hour) }},
		{name: "B3 exp == now with leeway", claims: func(c *Claims) { c.ExpiresAt = now }},
		{name: "B4 nbf 100s ahead", claims: func(c *Claims) { c.NotBefore = now.Add(100 * time.Second) }, wantErr: ErrNotYetValid},
		{name: "B4 nbf 30s ahead", claims: func(c *Claims) { c.NotBefore = now.Add(30 * time.Second) }},
		{name: "B5 iat 1h ahead", claims: func(c *Claims) { c.IssuedAt = now.Add(time.Hour); c.ExpiresAt = now.Add(2 * time.Hour) }, wantErr: ErrIssuedAt},
		{name: "B5 iat missing", claims: func(c *Claims) { c.IssuedAt = time.Time{} }, wantErr: ErrIssuedAt},
		{name: "B5 iat older than max age", rules: func(r *ClaimRules) { r.MaxAge = 10 * time.Minute },
			claims: func(c *Claims) { c.IssuedAt = now.Add(-time.Hour) }, wantErr: ErrIssuedAt},
		{name: "iat after exp", claims: func(c *Claims) { c.IssuedAt = now.Add(50 * time.Second); c.ExpiresAt = now.Add(10 * time.Second) }, wantErr: ErrIssuedAt},
		{name: "B6 exp negative", claims: func(c *Claims) { c.ExpiresAt = time.Unix(-1, 0); c.IssuedAt = time.Unix(-2, 0) }, wantErr: ErrExpired},
		{name: "B7 huge exp", claims: func(c *Claims) { c.ExpiresAt = time.Unix(maxNumericDate, 0) }, wantErr: ErrClaims},
		{name: "B20 lifetime above max", claims: func(c *Claims) { c.ExpiresAt = now.Add(24*time.Hour + time.Second); c.IssuedAt = now }, wantErr: ErrClaims},
		{name: "B8 aud missing", claims: func(c *Claims) { c.Audience = nil }, wantErr: ErrAudience},
		{name: "B9 aud other", claims: func(c *Claims) { c.Audience = []string{"account"} }, wantErr: ErrAudience},
		{name: "B11 azp not allowed", rules: func(r *ClaimRules) { r.AllowedAuthorizedParties = []string{"web"} },
			claims: func(c *Claims) { c.AuthorizedParty = "evil" }, wantErr: ErrAudience},
		{name: "B11 azp missing", rules: func(r *ClaimRules) { r.AllowedAuthorizedParties = []string{"web"} }, wantErr: ErrAudience},
		{name: "B11 azp allowed", rules: func(r *ClaimRules) { r.AllowedAuthorizedParties = []string{"web"} },
			claims: func(c *Claims) { c.AuthorizedParty = "web" }},
		{name: "B12 other realm", claims: func(c *Claims) { c.Issuer = "https://kc/realms/other" }, wantErr: ErrIssuer},
		{name: "B12 http", claims: func(c *Claims) { c.Issuer = "http://kc/realms/r" }, wantErr: ErrIssuer},
		{name: "B12 trailing slash", claims: func(c *Claims) { c.Issuer = "https://kc/realms/r/" }, wantErr: ErrIssuer},
		{name: "B12 case", claims: func(c *Claims) { c.Issuer = "https://kc/Realms/r" }, wantErr: ErrIssuer},
		{name: "iss missing", claims: func(c *Claims) { c.Issuer = "" }, wantErr: ErrIssuer},
		{name: "iss optional", rules: func(r *ClaimRules) { r.IssuerOptional = true }, claims: func(c *Claims) { c.Issuer = "" }},
		{name: "iss optional but wrong", rules: func(r *ClaimRules) { r.IssuerOptional = true }, claims: func(c *Claims) { c.Issuer = "x" }, wantErr: ErrIssuer},
		{name: "B14 ID token", claims: func(c *Claims) { c.Type = "ID" }, wantErr: ErrTokenType},
		{name: "B14 refresh", claims: func(c *Claims) { c.Type = "Refresh" }, wantErr: ErrTokenType},
		{name: "B14 logout", claims: func(c *Claims) { c.Type = "Logout" }, wantErr: ErrTokenType},
		{name: "B14 offline", claims: func(c *Claims) { c.Type = "Offline" }, wantErr: ErrTokenType},
		{name: "B15 typ missing", claims: func(c *Claims) { c.Type = "" }, wantErr: ErrTokenType},
		{name: "typ case", claims: func(c *Claims) { c.Type = "bearer" }, wantErr: ErrTokenType},
		{name: "B19 sub missing", claims: func(c *Claims) { c.Subject = "" }, wantErr: ErrClaims},
		{name: "sub optional", rules: func(r *ClaimRules) { r.SubjectOptional = true }, claims: func(c *Claims) { c.Subject = "" }},
		{name: "config leeway too big", rules: func(r *ClaimRules) { r.Leeway = 301 * time.Second }, wantErr: ErrConfig},
		{name: "config no audience", rules: func(r *ClaimRules) { r.Audience = nil }, wantErr: ErrConfig},
		{name: "config no issuer", rules: func(r *ClaimRules) { r.Issuer = "" }, wantErr: ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rules
			r.Audience = append([]string(nil), rules.Audience...)
			if tt.rules != nil {
				tt.rules(&r)
			}
			c := valid()
			if tt.claims != nil {
				tt.claims(c)
			}
			err := r.Validate(c, now)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			if tt.wantErr != ErrConfig {
				require.ErrorIs(t, err, ErrInvalidToken)
			} else {
				require.NotErrorIs(t, err, ErrInvalidToken)
			}
		})
	}
}

func TestExpiredErrorCarriesExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(-time.Hour)
	err := ClaimRules{Issuer: "i", Audience: []string{"a"}}.Validate(&Claims{Issuer: "i", Audience: []string{"a"}, Type: "Bearer",
		Subject: "s", ExpiresAt: exp, IssuedAt: exp.Add(-time.Minute)}, now)
	var ee *ExpiredError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exp, ee.Expiry)
	assert.NotErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, "rpt: token expired", err.Error())
}
