package enforcer_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// TestFreshIntrospectionPath: a path with fresh-introspection introspects
// every request (revocation seen at once) while other hybrid paths keep
// their interval.
func TestFreshIntrospectionPath(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"},
		{"path":"/admin/*","name":"Admin","rptguard":{"fresh-introspection":true}}],
		"rptguard":{"permissions-source":"token","token-verification":"hybrid","introspection-interval":"1h",
		"introspection-cache":{"max-ttl":"1h"}}}`, shopServer())
	tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders"), perm(v.kc, "Admin"))
	require.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status)
	require.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status)
	base := v.kc.Requests(keycloaktest.EndpointIntrospection)
	assert.Equal(t, 1, base, "interval: one introspection")
	require.Equal(t, 200, v.do(t, "GET", "/admin/a", tok).status)
	require.Equal(t, 200, v.do(t, "GET", "/admin/b", tok).status)
	assert.Equal(t, base+2, v.kc.Requests(keycloaktest.EndpointIntrospection), "fresh: one per request")

	v.kc.Revoke(tok)
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", tok).status, "other paths keep the interval")
	assert.Equal(t, 401, v.do(t, "GET", "/admin/a", tok).status, "revocation seen at once")
	assert.Equal(t, 401, v.do(t, "GET", "/api/orders", tok).status, "the inactive answer is then shared")
}

func TestFreshIntrospectionNeedsHybrid(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, doc string
		wantErr   error
	}{
		{"global local", `{"paths":[{"path":"/a","rptguard":{"fresh-introspection":true}}]}`, enforcer.ErrInvalidConfig},
		{"path introspection", `{"paths":[{"path":"/a","rptguard":{"fresh-introspection":true,"token-verification":"introspection"}}]}`, enforcer.ErrInvalidConfig},
		{"path hybrid", `{"paths":[{"path":"/a","rptguard":{"fresh-introspection":true,"token-verification":"hybrid"}}]}`, nil},
		{"global hybrid", `{"paths":[{"path":"/a","rptguard":{"fresh-introspection":true}}],"rptguard":{"token-verification":"hybrid"}}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := enforcer.ParseConfig([]byte(tt.doc))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "fresh-introspection")
				return
			}
			require.NoError(t, err)
		})
	}
}
