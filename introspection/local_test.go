package introspection

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/rpt"
)

var _ TokenVerifier = (*rpt.Verifier)(nil)

// newLocalVerifier returns an rpt.Verifier for the env's realm.
func newLocalVerifier(tb testing.TB, e *env) *rpt.Verifier {
	tb.Helper()
	v, err := rpt.New(tb.Context(), rpt.Config{
		ClaimRules:        rpt.ClaimRules{Issuer: e.srv.Issuer(), Audience: []string{e.srv.ClientID()}},
		JWKSURL:           e.srv.JWKSURL(),
		InsecureAllowHTTP: true,
	}, rpt.WithHTTPClient(e.srv.HTTPClient()), rpt.WithClock(e.clock.Now))
	require.NoError(tb, err)
	tb.Cleanup(v.Close)
	return v
}
