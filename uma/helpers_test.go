package uma_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/uma"
)

// fakeClock is a settable clock shared by the server and the client.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Fixture resources and grants:
//
//	Orders   (view, edit, delete; /orders/*)  alice: view; bob: all
//	Invoices (view; /invoices/{id})           alice: view
//	Private  (view; owner-managed, owned by alice)  nobody else
//	Premium  (view)                           anyone, only with claim tier=gold
func fixture(extra ...keycloaktest.Option) []keycloaktest.Option {
	opts := []keycloaktest.Option{
		keycloaktest.WithResource(keycloaktest.Resource{ID: "orders-1", Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"view", "edit", "delete"}}),
		keycloaktest.WithResource(keycloaktest.Resource{ID: "invoices-1", Name: "Invoices", URIs: []string{"/invoices/{id}"}, Scopes: []string{"view"}}),
		keycloaktest.WithResource(keycloaktest.Resource{ID: "private-1", Name: "Private", Scopes: []string{"view"}, Owner: "alice", OwnerManagedAccess: true}),
		keycloaktest.WithResource(keycloaktest.Resource{ID: "premium-1", Name: "Premium", Scopes: []string{"view"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Scopes: []string{"view"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Invoices", Scopes: []string{"view"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "*", Resource: "Premium", Claims: map[string][]string{"tier": {"gold"}}}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
	}
	return append(opts, extra...)
}

func newServer(tb testing.TB, extra ...keycloaktest.Option) *keycloaktest.Server {
	tb.Helper()
	return keycloaktest.New(tb, fixture(extra...)...)
}

func configFor(srv *keycloaktest.Server) uma.Config {
	return uma.Config{
		AuthServerURL:     srv.URL(),
		Realm:             srv.Realm(),
		ClientID:          srv.ClientID(),
		Credentials:       uma.Credentials{Secret: uma.Secret(srv.ClientSecret())},
		InsecureAllowHTTP: true,
	}
}

func newClient(tb testing.TB, srv *keycloaktest.Server, opts ...uma.Option) *uma.Client {
	tb.Helper()
	return newClientWith(tb, srv, configFor(srv), opts...)
}

func newClientWith(tb testing.TB, srv *keycloaktest.Server, cfg uma.Config, opts ...uma.Option) *uma.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]uma.Option{uma.WithHTTPClient(srv.HTTPClient())}, opts...)
	c, err := uma.New(ctx, cfg, opts...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
