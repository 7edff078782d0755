package uma_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/uma"
)

var orders = []uma.PermissionRequest{{ResourceID: "orders-1", Scopes: []string{"view"}}}

func TestPATReuseAndExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(clock.Now), keycloaktest.WithTokenLifetime(5*time.Minute))
	cfg := configFor(srv)
	cfg.TokenMinimumTimeToLive = 30
	c := newClientWith(t, srv, cfg, uma.WithClock(clock.Now))
	ctx := testCtx(t)

	for range 5 {
		_, err := c.CreateTicket(ctx, orders)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken), "PAT reused")
	assert.Equal(t, "client_credentials", srv.LastRequest(keycloaktest.EndpointToken).Form.Get("grant_type"))

	clock.Advance(5*time.Minute - 31*time.Second) // still outside the 30 s margin
	_, err := c.CreateTicket(ctx, orders)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))

	clock.Advance(2 * time.Second) // inside the margin: refresh before expiry
	_, err = c.CreateTicket(ctx, orders)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointToken))
}

func TestPATConcurrentRefreshOnce(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(keycloaktest.EndpointToken, 50*time.Millisecond)
	c := newClient(t, srv)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := c.CreateTicket(ctx, orders)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))
	assert.Equal(t, 50, srv.Requests(keycloaktest.EndpointPermission))
}

func TestPATRefetchedOn401(t *testing.T) {
	t.Parallel()
	// The server's clock runs 10 minutes ahead: the PAT the client still
	// believes valid has expired there, so the Protection API rejects it
	// (Keycloak: 403 invalid_bearer_token).
	serverClock, clientClock := newFakeClock(), newFakeClock()
	srv := newServer(t, keycloaktest.WithClock(serverClock.Now))
	c := newClient(t, srv, uma.WithClock(clientClock.Now))
	ctx := testCtx(t)

	_, err := c.CreateTicket(ctx, orders)
	require.NoError(t, err)
	require.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))

	serverClock.Advance(10 * time.Minute)
	ids, err := c.Resources().Search(ctx, uma.ResourceQuery{Name: "Orders", ExactName: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"orders-1"}, ids)
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointToken), "one re-fetch")
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointResourceSet), "one retry")

	// A persistent 401 is retried once, then reported.
	srv.ResetCounters()
	srv.Fail(keycloaktest.EndpointPermission, http.StatusUnauthorized)
	_, err = c.CreateTicket(ctx, orders)
	var ue *uma.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, http.StatusUnauthorized, ue.Status)
	assert.Equal(t, 2, srv.Requests(keycloaktest.EndpointPermission))
	assert.Equal(t, 1, srv.Requests(keycloaktest.EndpointToken))
}

func TestPATPublicClient(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cfg := configFor(srv)
	cfg.ClientID, cfg.Credentials.Secret = "spa", ""
	c := newClientWith(t, srv, cfg, uma.WithVerifier(uma.VerifierFunc(nil)))
	_, err := c.CreateTicket(testCtx(t), orders)
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
	assert.Zero(t, srv.Requests(keycloaktest.EndpointToken))
}
