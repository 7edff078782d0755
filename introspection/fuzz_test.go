package introspection

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/internal/strictjson"
	"github.com/rptguard/rptguard/rpt"
)

// fuzzNow is the fixed clock of FuzzParseResponse; seeds use exp 2000000000.
var fuzzNow = time.Unix(1_800_000_000, 0)

func fuzzClient(tb testing.TB) *Client {
	tb.Helper()
	c, err := New(Config{
		Endpoint:     "https://kc.example/realms/r/protocol/openid-connect/token/introspect",
		ClientID:     "api",
		ClientSecret: "s",
		Rules:        rpt.ClaimRules{Issuer: "https://kc.example/realms/r", Audience: []string{"api"}},
	}, WithClock(func() time.Time { return fuzzNow }))
	require.NoError(tb, err)
	return c
}

// FuzzParseResponse: response parsing never panics, every outcome is
// classified (inactive/claim rejection → ErrInvalidToken, anything else →
// ErrUnavailable), and nothing but a strictly well-formed body whose
// "active" is the JSON boolean true ever yields claims.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"active":true,"jti":"j","typ":"Bearer","exp":2000000000,"iat":1799999990,"aud":"api","permissions":[{"rsid":"r1","rsname":"Orders","scopes":["read"],"resource_id":"r1","resource_scopes":["read"]}]}`))
	f.Add([]byte(`{"active":false}`))
	f.Add([]byte(`{"active":"true"}`))
	f.Add([]byte(`{"active":false,"active":true}`))
	f.Add([]byte(`<html>`))
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := c.verdict(200, "application/json", body)
		if err != nil {
			require.Nil(t, res)
			inv, unav := errors.Is(err, rpt.ErrInvalidToken), errors.Is(err, ErrUnavailable)
			require.True(t, inv != unav, "error must be exactly one of invalid/unavailable: %v", err)
			m, perr := strictjson.Decode(body)
			if errors.Is(err, ErrInactive) {
				require.NoError(t, perr)
				require.Equal(t, false, m["active"])
			}
			return
		}
		require.NotNil(t, res)
		require.NotNil(t, res.Claims)
		m, perr := strictjson.Decode(body)
		require.NoError(t, perr, "claims from a non-strict body")
		require.Equal(t, true, m["active"], "claims without active:true")
	})
}
