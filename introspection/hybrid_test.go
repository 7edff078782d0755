package introspection

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func newHybrid(tb testing.TB, e *env, policy Policy, mutate func(*Config)) *Hybrid {
	tb.Helper()
	h, err := NewHybrid(newLocalVerifier(tb, e), e.client(tb, mutate), policy)
	require.NoError(tb, err)
	return h
}

func TestHybridAlways(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newHybrid(t, e, Always, func(c *Config) { c.CacheTTL = 20 * time.Second })
	tok := e.srv.IssueRPT("alice", orders)

	claims, err := h.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.NotEmpty(t, claims.Subject, "claims are the locally verified ones (the RPT introspection shape has no sub)")
	require.Len(t, claims.Permissions(), 1)
	assert.Equal(t, 1, e.introspections())

	e.srv.Revoke(tok)
	_, err = h.Verify(t.Context(), tok)
	require.NoError(t, err, "within the positive TTL")
	e.clock.Advance(21 * time.Second)
	_, err = h.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrInactive)
	require.ErrorIs(t, err, rpt.ErrInvalidToken)
	assert.Equal(t, 2, e.introspections())
}

func TestHybridInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newHybrid(t, e, Interval(10*time.Second), nil)
	tok := e.srv.IssueRPT("alice", orders)

	_, err := h.Verify(t.Context(), tok)
	require.NoError(t, err)
	e.srv.Revoke(tok)
	e.clock.Advance(5 * time.Second)
	_, err = h.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 1, e.introspections())

	e.clock.Advance(6 * time.Second)
	_, err = h.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, 2, e.introspections())
}

func TestHybridOnDemand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newHybrid(t, e, OnDemand, nil)
	tok := e.srv.IssueRPT("alice", orders)

	for range 3 {
		_, err := h.Verify(t.Context(), tok)
		require.NoError(t, err)
	}
	assert.Zero(t, e.introspections())

	_, err := h.VerifyFresh(t.Context(), tok)
	require.NoError(t, err)
	_, err = h.VerifyFresh(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 2, e.introspections(), "fresh checks skip the positive cache")

	e.srv.Revoke(tok)
	_, err = h.Verify(t.Context(), tok)
	require.NoError(t, err, "without a freshness request only local checks run")
	_, err = h.Verify(WithFreshIntrospection(t.Context()), tok)
	require.ErrorIs(t, err, ErrInactive)
	_, err = h.VerifyFresh(t.Context(), tok)
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, 3, e.introspections(), "the inactive answer is negatively cached")
}

func TestHybridLocalRejectionFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newHybrid(t, e, Always, nil)
	forged := e.srv.SignToken(map[string]any{
		"iss": e.srv.Issuer(), "aud": e.srv.ClientID(), "sub": "x", "typ": "Bearer",
		"iat": e.clock.Now().Unix(), "exp": e.clock.Now().Add(time.Minute).Unix(),
	}, keycloaktest.WithForeignKey())
	for _, tok := range []string{forged, "garbage"} {
		_, err := h.Verify(t.Context(), tok)
		require.ErrorIs(t, err, rpt.ErrInvalidToken)
	}
	assert.Zero(t, e.introspections())
}

func TestHybridUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newHybrid(t, e, Always, nil)
	e.srv.Fail(keycloaktest.EndpointIntrospection, 503)
	_, err := h.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
}

func TestNewHybridValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	local := newLocalVerifier(t, e)
	tests := []struct {
		name    string
		local   TokenVerifier
		client  *Client
		policy  Policy
		wantErr bool
	}{
		{name: "always", local: local, client: c, policy: Always},
		{name: "zero policy is always", local: local, client: c},
		{name: "interval", local: local, client: c, policy: Interval(time.Second)},
		{name: "on demand", local: local, client: c, policy: OnDemand},
		{name: "zero interval", local: local, client: c, policy: Interval(0), wantErr: true},
		{name: "no local", client: c, policy: Always, wantErr: true},
		{name: "no client", local: local, policy: Always, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHybrid(tt.local, tt.client, tt.policy)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, h)
				return
			}
			require.NoError(t, err)
		})
	}
	assert.Equal(t, "interval(1s)", Interval(time.Second).String())
	assert.Equal(t, "on-demand", OnDemand.String())
	assert.Equal(t, "always", Policy{}.String())
}
