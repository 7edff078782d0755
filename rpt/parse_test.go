package rpt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseClaims(t *testing.T) {
	t.Parallel()
	base := `"iss":"https://kc/realms/r","sub":"u1","exp":1700000300,"iat":1700000000,"typ":"Bearer"`
	tests := []struct {
		name    string
		in      string
		wantErr error
		check   func(t *testing.T, c *Claims)
	}{
		{name: "full", in: `{` + base + `,"aud":["api","account"],"azp":"web","sid":"s","jti":"j","scope":"openid email",
			"preferred_username":"alice","realm_access":{"roles":["user",1]},"resource_access":{"api":{"roles":["r"]},"bad":1},
			"groups":["/g"],"nbf":1699999999.5}`, check: func(t *testing.T, c *Claims) {
			assert.Equal(t, []string{"api", "account"}, c.Audience)
			assert.Equal(t, time.Unix(1700000300, 0).UTC(), c.ExpiresAt)
			assert.Equal(t, time.Unix(1699999999, 5e8).UTC(), c.NotBefore)
			assert.Equal(t, []string{"user"}, c.RealmRoles)
			assert.Equal(t, map[string][]string{"api": {"r"}}, c.ResourceRoles)
			assert.Equal(t, "openid email", c.Scope)
			assert.Nil(t, c.Authorization)
			assert.Nil(t, c.Permissions())
		}},
		{name: "aud string", in: `{` + base + `,"aud":"api"}`, check: func(t *testing.T, c *Claims) {
			assert.Equal(t, []string{"api"}, c.Audience)
		}},
		// B6
		{name: "exp string", in: `{"exp":"1700000000"}`, wantErr: ErrMalformed},
		{name: "exp bool", in: `{"exp":true}`, wantErr: ErrMalformed},
		{name: "exp null", in: `{"exp":null}`, wantErr: ErrMalformed},
		{name: "exp array", in: `{"exp":[1]}`, wantErr: ErrMalformed},
		{name: "exp object", in: `{"exp":{}}`, wantErr: ErrMalformed},
		{name: "iat string", in: `{"iat":"1"}`, wantErr: ErrMalformed},
		{name: "nbf bool", in: `{"nbf":false}`, wantErr: ErrMalformed},
		// B7: clamped, no overflow
		{name: "exp 1e300", in: `{"exp":1e300}`, check: func(t *testing.T, c *Claims) {
			assert.Equal(t, 9999, c.ExpiresAt.Year())
		}},
		{name: "exp maxint64", in: `{"exp":9223372036854775807}`, check: func(t *testing.T, c *Claims) {
			assert.Equal(t, 9999, c.ExpiresAt.Year())
		}},
		{name: "exp 1e999999", in: `{"exp":1e999999}`, check: func(t *testing.T, c *Claims) {
			assert.Equal(t, 9999, c.ExpiresAt.Year())
		}},
		{name: "exp -1e999999", in: `{"exp":-1e999999}`, check: func(t *testing.T, c *Claims) {
			assert.True(t, c.ExpiresAt.Before(time.Unix(0, 0)))
		}},
		// B10
		{name: "aud number", in: `{"aud":[1]}`, wantErr: ErrMalformed},
		{name: "aud empty entry", in: `{"aud":[""]}`, wantErr: ErrMalformed},
		{name: "aud empty string", in: `{"aud":""}`, wantErr: ErrMalformed},
		{name: "aud nested", in: `{"aud":[["svc"]]}`, wantErr: ErrMalformed},
		{name: "aud empty array", in: `{"aud":[]}`, wantErr: ErrMalformed},
		{name: "aud object", in: `{"aud":{}}`, wantErr: ErrMalformed},
		{name: "iss number", in: `{"iss":1}`, wantErr: ErrMalformed},
		{name: "sub null", in: `{"sub":null}`, wantErr: ErrMalformed},
		{name: "typ array", in: `{"typ":["Bearer"]}`, wantErr: ErrMalformed},
		{name: "azp number", in: `{"azp":1}`, wantErr: ErrMalformed},
		// B17, B18
		{name: "duplicate aud", in: `{"aud":"evil","aud":"svc"}`, wantErr: ErrMalformed},
		{name: "case variant aud", in: `{"aud":"svc","AUD":"evil"}`, wantErr: ErrMalformed},
		{name: "array root", in: `[]`, wantErr: ErrMalformed},
		{name: "null root", in: `null`, wantErr: ErrMalformed},
		{name: "BOM", in: "\xef\xbb\xbf{}", wantErr: ErrMalformed},
		{name: "invalid utf8", in: "{\"sub\":\"\xff\"}", wantErr: ErrMalformed},
		// B21
		{name: "wrong-typed roles and scope", in: `{"scope":1,"realm_access":{"roles":"admin"},"resource_access":{"api":{"roles":{"x":1}}},"groups":"g"}`,
			check: func(t *testing.T, c *Claims) {
				assert.Empty(t, c.Scope)
				assert.Nil(t, c.RealmRoles)
				assert.Nil(t, c.ResourceRoles)
				assert.Nil(t, c.Groups)
			}},
		{name: "realm_access wrong type", in: `{"realm_access":["admin"]}`, check: func(t *testing.T, c *Claims) {
			assert.Nil(t, c.RealmRoles)
		}},
		// B16
		{name: "permissions", in: `{"authorization":{"permissions":[
			{"rsid":"r1","rsname":"Orders","scopes":["read"],"claims":{"a":["1"],"b":"2"},"exp":1700000100},
			null, 5, "x",
			{"rsid":7,"scopes":["read"]},
			{"rsid":"r2","scopes":"read"},
			{"rsid":"r3","scopes":[1]},
			{"rsid":"r4","claims":[]},
			{"rsid":"r5","exp":"soon"},
			{"rsid":"r6","resource_id":"other"},
			{"resource_id":"r7","resource_scopes":["a"],"scopes":["a"]},
			{"rsid":"r8","resource_scopes":["a"],"scopes":["b"]},
			{"scopes":["s1"]},
			{},
			{"rsid":"r9"}]}}`, check: func(t *testing.T, c *Claims) {
			p := c.Permissions()
			require.Len(t, p, 4)
			assert.Equal(t, "r1", p[0].ResourceID)
			assert.Equal(t, "Orders", p[0].ResourceName)
			assert.Equal(t, []string{"read"}, p[0].Scopes)
			assert.Equal(t, map[string][]string{"a": {"1"}, "b": {"2"}}, p[0].Claims)
			assert.True(t, p[0].Active(time.Unix(1700000099, 0)))
			assert.False(t, p[0].Active(time.Unix(1700000100, 0)))
			assert.Equal(t, Permission{ResourceID: "r7", Scopes: []string{"a"}}, p[1])
			assert.Equal(t, Permission{Scopes: []string{"s1"}}, p[2])
			assert.Equal(t, Permission{ResourceID: "r9"}, p[3])
			assert.True(t, p[3].Active(time.Now()))
		}},
		{name: "permissions not an array", in: `{"authorization":{"permissions":{"rsid":"r"}}}`, check: func(t *testing.T, c *Claims) {
			require.NotNil(t, c.Authorization)
			assert.Empty(t, c.Permissions())
		}},
		{name: "authorization not an object", in: `{"authorization":"all"}`, check: func(t *testing.T, c *Claims) {
			require.NotNil(t, c.Authorization)
			assert.Empty(t, c.Permissions())
		}},
		{name: "authorization null", in: `{"authorization":null}`, check: func(t *testing.T, c *Claims) {
			assert.Nil(t, c.Authorization)
		}},
		{name: "too many permissions", in: `{"authorization":{"permissions":[` +
			strings.TrimSuffix(strings.Repeat(`{"rsid":"r"},`, MaxPermissions+1), ",") + `]}}`, wantErr: ErrClaims},
		{name: "max permissions", in: `{"authorization":{"permissions":[` +
			strings.TrimSuffix(strings.Repeat(`{"rsid":"r"},`, MaxPermissions), ",") + `]}}`, check: func(t *testing.T, c *Claims) {
			assert.Len(t, c.Permissions(), MaxPermissions)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseClaims([]byte(tt.in))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, ErrInvalidToken)
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestClaimsFromMapNil(t *testing.T) {
	t.Parallel()
	_, err := ClaimsFromMap(nil)
	require.ErrorIs(t, err, ErrMalformed)
	c, err := ClaimsFromMap(map[string]any{"exp": float64(1700000000), "permissions": []any{}})
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), c.ExpiresAt.Unix())
}

func TestParseErrorsCarryNoClaimValues(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"aud":["secret-aud",1]}`, `{"exp":"secret-exp"}`, `{"secret-key":1,"SECRET-KEY":2}`} {
		_, err := ParseClaims([]byte(in))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "secret", fmt.Sprintf("input %s", in))
	}
}
