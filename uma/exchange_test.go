package uma_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/uma"
)

func viewOrders(subject string) uma.ExchangeRequest {
	return uma.ExchangeRequest{SubjectToken: subject, Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}}
}

func TestExchangeSingleflight500(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(keycloaktest.EndpointToken, 100*time.Millisecond)
	c := newClient(t, srv)
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")
	srv.ResetCounters()

	const n = 500
	results := make([]*uma.ExchangedRPT, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = c.Exchange(ctx, viewOrders(alice))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Same(t, results[0], results[i])
	}
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken), "one token-endpoint call for 500 callers")
	assert.Equal(t, []string{"Orders#view"}, permSet(results[0].Claims.Permissions()))
	assert.NotContains(t, results[0].String(), results[0].Raw)
}

func TestExchangeCache(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(clock.Now))
	cfg := configFor(srv)
	cfg.Exchange = uma.ExchangeConfig{DenyTTL: 2 * time.Second, ErrorBackoff: time.Second, Skew: 5 * time.Second, MaxTTL: time.Hour}
	c := newClientWith(t, srv, cfg, uma.WithClock(clock.Now))
	ctx := testCtx(t)
	alice := srv.AccessToken("alice", keycloaktest.WithLifetime(time.Hour))
	calls := func() int { return srv.Requests(keycloaktest.EndpointToken) }

	first, err := c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	form := srv.LastRequest(keycloaktest.EndpointToken).Form
	assert.Equal(t, alice, form.Get("subject_token"))
	assert.Equal(t, srv.ClientID(), form.Get("audience"))
	assert.Equal(t, []string{"orders-1#view"}, form["permission"])

	again, err := c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	assert.Same(t, first, again)
	assert.Equal(t, 1, calls())

	// Different permissions, claims or subject: a new exchange.
	_, err = c.Exchange(ctx, uma.ExchangeRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "invoices-1"}}})
	require.NoError(t, err)
	assert.Equal(t, 2, calls())
	withClaims := viewOrders(alice)
	withClaims.Claims = map[string][]string{"ip": {"1.2.3.4"}}
	_, err = c.Exchange(ctx, withClaims)
	require.NoError(t, err)
	assert.Equal(t, 3, calls())
	assert.NotEmpty(t, srv.LastRequest(keycloaktest.EndpointToken).Form.Get("claim_token"))

	// The RPT (server lifetime 5 min) expires: skew 5 s before exp, re-fetched.
	clock.Advance(5*time.Minute - 6*time.Second)
	_, err = c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	assert.Equal(t, 3, calls())
	clock.Advance(2 * time.Second)
	_, err = c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	assert.Equal(t, 4, calls())
}

func TestExchangeSubjectExpiryCapsLifetime(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(clock.Now))
	c := newClient(t, srv, uma.WithClock(clock.Now))
	ctx := testCtx(t)
	alice := srv.AccessToken("alice", keycloaktest.WithLifetime(time.Minute))

	_, err := c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	clock.Advance(50 * time.Second)
	_, err = c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))
	clock.Advance(6 * time.Second) // past subject exp − 5 s skew
	_, _ = c.Exchange(ctx, viewOrders(alice))
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointToken))
}

func TestExchangeDenialCachedBriefly(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(clock.Now))
	cfg := configFor(srv)
	cfg.Exchange.DenyTTL = 2 * time.Second
	c := newClientWith(t, srv, cfg, uma.WithClock(clock.Now))
	ctx := testCtx(t)
	bob := srv.AccessToken("bob")
	req := uma.ExchangeRequest{SubjectToken: bob, Permissions: []uma.Permission{{Resource: "invoices-1"}}}

	for range 100 {
		_, err := c.Exchange(ctx, req)
		require.ErrorIs(t, err, uma.ErrAccessDenied)
	}
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))

	// The grant changes on the server; the denial is forgotten after DenyTTL.
	srv.AddGrant(keycloaktest.Grant{User: "bob", Resource: "Invoices"})
	clock.Advance(2 * time.Second)
	got, err := c.Exchange(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, []string{"Invoices#view"}, permSet(got.Claims.Permissions()))
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointToken))
}

func TestExchangeErrorBackoff(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(clock.Now))
	c := newClient(t, srv, uma.WithClock(clock.Now))
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")

	srv.Fail(keycloaktest.EndpointToken, 503)
	for range 20 {
		_, err := c.Exchange(ctx, viewOrders(alice))
		require.ErrorIs(t, err, uma.ErrUnavailable)
	}
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))

	srv.Heal(keycloaktest.EndpointToken)
	clock.Advance(time.Second) // default backoff
	_, err := c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointToken))
}

func TestExchangeWaiterHonoursContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(keycloaktest.EndpointToken, 1500*time.Millisecond)
	c := newClient(t, srv)
	alice := srv.AccessToken("alice")

	var wg sync.WaitGroup
	var patient *uma.ExchangedRPT
	var patientErr error
	wg.Go(func() { patient, patientErr = c.Exchange(testCtx(t), viewOrders(alice)) })

	time.Sleep(50 * time.Millisecond)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exchange(short, viewOrders(alice))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "did not wait for the shared call")

	wg.Wait()
	require.NoError(t, patientErr)
	require.NotNil(t, patient)
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))
}

func TestExchangeFirstCallerCancelledOthersServed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(keycloaktest.EndpointToken, 300*time.Millisecond)
	c := newClient(t, srv)
	alice := srv.AccessToken("alice")

	first, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Exchange(first, viewOrders(alice))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got, err := c.Exchange(testCtx(t), viewOrders(alice))
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken), "the flight continued after its first caller left")
}

func TestExchangeBounded(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cfg := configFor(srv)
	cfg.Exchange.MaxEntries = 2
	c := newClientWith(t, srv, cfg)
	ctx := testCtx(t)
	tokens := []string{srv.AccessToken("alice"), srv.AccessToken("alice", keycloaktest.WithClaim("x", 1)), srv.AccessToken("alice", keycloaktest.WithClaim("x", 2))}
	for _, tok := range tokens {
		_, err := c.Exchange(ctx, viewOrders(tok))
		require.NoError(t, err)
	}
	_, err := c.Exchange(ctx, viewOrders(tokens[0])) // evicted (LRU of 2)
	require.NoError(t, err)
	assert.Equal(t, 4, srv.Requests(keycloaktest.EndpointToken))

	_, err = c.Exchange(ctx, uma.ExchangeRequest{})
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
}
