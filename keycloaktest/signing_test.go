package keycloaktest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func TestSignOptions(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	jwks := get(t, kc, kc.JWKSURL()).Body
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(jwks))
	require.NoError(t, err)
	claims := map[string]any{"iss": kc.Issuer(), "sub": "s", "exp": time.Now().Add(time.Minute).Unix()}
	verify := func(tok string) error {
		_, err := jwt.Parse(tok, kf.Keyfunc, jwt.WithValidMethods([]string{"RS256"}))
		return err
	}
	tests := []struct {
		name      string
		opts      []keycloaktest.SignOption
		verifies  bool
		checkHead func(t *testing.T, h map[string]any, sig string)
	}{
		{"plain", nil, true, func(t *testing.T, h map[string]any, _ string) {
			assert.Equal(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kc.SigningKeyID()}, h)
		}},
		{"unknown kid", []keycloaktest.SignOption{keycloaktest.WithKeyID("nope")}, false, func(t *testing.T, h map[string]any, _ string) {
			assert.Equal(t, "nope", h["kid"])
		}},
		{"without kid", []keycloaktest.SignOption{keycloaktest.WithoutKeyID()}, false /* keyfunc accepts a lone key; the server does not */, func(t *testing.T, h map[string]any, _ string) {
			assert.NotContains(t, h, "kid")
		}},
		{"foreign key", []keycloaktest.SignOption{keycloaktest.WithForeignKey()}, false, func(t *testing.T, h map[string]any, _ string) {
			assert.Equal(t, kc.SigningKeyID(), h["kid"], "same kid, other key")
		}},
		{"alg none", []keycloaktest.SignOption{keycloaktest.WithAlgNone()}, false, func(t *testing.T, h map[string]any, sig string) {
			assert.Equal(t, "none", h["alg"])
			assert.Empty(t, sig)
		}},
		{"extra headers", []keycloaktest.SignOption{keycloaktest.WithHeader("jku", "https://evil/jwks"), keycloaktest.WithHeader("crit", []string{"exp"}), keycloaktest.WithHeader("typ", "at+jwt")}, true,
			func(t *testing.T, h map[string]any, _ string) {
				assert.Equal(t, "https://evil/jwks", h["jku"])
				assert.Equal(t, []any{"exp"}, h["crit"])
				assert.Equal(t, "at+jwt", h["typ"])
			}},
		{"header alg override", []keycloaktest.SignOption{keycloaktest.WithHeader("alg", "RS512")}, false, func(t *testing.T, h map[string]any, _ string) {
			assert.Equal(t, "RS512", h["alg"])
		}},
		{"hmac with public key", []keycloaktest.SignOption{keycloaktest.WithHMACPublicKey()}, false, func(t *testing.T, h map[string]any, _ string) {
			assert.Equal(t, "HS256", h["alg"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := kc.SignToken(claims, tt.opts...)
			require.NotEmpty(t, tok)
			h, c := decodeJWT(t, tok)
			assert.Equal(t, "s", c["sub"])
			tt.checkHead(t, h, tok[strings.LastIndex(tok, ".")+1:])
			switch {
			case tt.verifies:
				assert.NoError(t, verify(tok))
			case tt.name != "without kid":
				assert.Error(t, verify(tok))
			}
			assert.Equal(t, tt.verifies, introspect(t, kc, tok, "")["active"])
		})
	}
	assert.Empty(t, kc.SignToken(map[string]any{"bad": make(chan int)}))
}

func TestTokenHelpers(t *testing.T) {
	t.Parallel()
	now := time.Now()
	kc := keycloaktest.New(t, keycloaktest.WithClock(func() time.Time { return now }), keycloaktest.WithTokenLifetime(10*time.Minute))
	t.Run("access token", func(t *testing.T) {
		t.Parallel()
		_, c := decodeJWT(t, kc.AccessToken("bob"))
		for _, k := range []string{"exp", "iat", "jti", "iss", "aud", "sub", "typ", "azp", "sid", "scope", "realm_access", "preferred_username"} {
			assert.Contains(t, c, k)
		}
		assert.Equal(t, now.Unix(), mustInt(t, c["iat"]))
		assert.Equal(t, now.Add(10*time.Minute).Unix(), mustInt(t, c["exp"]))
		assert.Equal(t, "rptguard-api", c["aud"])
		assert.Equal(t, "rptguard-api", c["azp"])
		assert.Equal(t, "Bearer", c["typ"])
		assert.Equal(t, []string{"user", "admin"}, strList(c["realm_access"].(map[string]any)["roles"]))
		assert.NotContains(t, c, "authorization")
	})
	t.Run("token options", func(t *testing.T) {
		t.Parallel()
		iat := now.Add(-time.Hour)
		_, c := decodeJWT(t, kc.AccessToken("alice",
			keycloaktest.WithAudience("a", "b"), keycloaktest.WithAuthorizedParty("spa"),
			keycloaktest.WithClaim("custom", []string{"x"}), keycloaktest.WithoutClaim("sid"),
			keycloaktest.WithIssuedAt(iat), keycloaktest.WithLifetime(time.Minute)))
		assert.Equal(t, []string{"a", "b"}, strList(c["aud"]))
		assert.Equal(t, "spa", c["azp"])
		assert.Equal(t, []any{"x"}, c["custom"])
		assert.NotContains(t, c, "sid")
		assert.Equal(t, iat.Unix(), mustInt(t, c["iat"]))
		assert.Equal(t, iat.Add(time.Minute).Unix(), mustInt(t, c["exp"]))
		_, c = decodeJWT(t, kc.AccessToken("alice", keycloaktest.WithAudience()))
		assert.NotContains(t, c, "aud")
		_, c = decodeJWT(t, kc.AccessToken("alice", keycloaktest.WithLifetime(-time.Minute)))
		assert.Equal(t, now.Add(-time.Minute).Unix(), mustInt(t, c["exp"]))
	})
	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		_, c := decodeJWT(t, kc.AccessToken("zed"))
		assert.Equal(t, "zed", c["preferred_username"])
		assert.NotEmpty(t, c["sub"])
	})
	t.Run("rpt", func(t *testing.T) {
		t.Parallel()
		exp := now.Add(time.Minute).Truncate(time.Second)
		_, c := decodeJWT(t, kc.IssueRPT("alice",
			rpt.Permission{ResourceID: "r1", ResourceName: "R1", Scopes: []string{"a"}, Claims: map[string][]string{"k": {"v"}}},
			rpt.Permission{Scopes: []string{"b"}},
			rpt.Permission{ResourceID: "r2", ExpiresAt: exp}))
		ps := perms(t, c)
		require.Len(t, ps, 3)
		assert.Equal(t, map[string]any{"rsid": "r1", "rsname": "R1", "scopes": []any{"a"}, "claims": map[string]any{"k": []any{"v"}}}, ps[0])
		assert.Equal(t, map[string]any{"scopes": []any{"b"}}, ps[1])
		assert.Equal(t, "r2", ps[2]["rsid"])
		assert.Equal(t, exp.Unix(), mustInt(t, ps[2]["exp"]))
	})
	t.Run("pat", func(t *testing.T) {
		t.Parallel()
		_, c := decodeJWT(t, kc.PAT())
		assert.Equal(t, "rptguard-api", c["azp"])
		assert.Equal(t, "service-account-rptguard-api", c["preferred_username"])
		assert.Equal(t, []string{"uma_protection"}, strList(c["resource_access"].(map[string]any)["rptguard-api"].(map[string]any)["roles"]))
		assert.NotContains(t, c, "sid")
	})
	t.Run("ticket", func(t *testing.T) {
		t.Parallel()
		_, c := decodeJWT(t, kc.IssueTicket(keycloaktest.RequestedPermission{ResourceID: "x", Scopes: []string{"s"}}, keycloaktest.RequestedPermission{Scopes: []string{"t"}}))
		assert.Equal(t, kc.Issuer(), c["aud"])
		assert.Equal(t, "rptguard-api", c["azp"])
		assert.Equal(t, []any{map[string]any{"rsid": "x", "scopes": []any{"s"}}, map[string]any{"scopes": []any{"t"}}}, c["permissions"])
	})
}
