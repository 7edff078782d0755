// Command offline-keycloak decides requests with Keycloak's own
// authorization policies without asking Keycloak: the resource server's
// authorization settings (an export) are translated to Rego once, and a plain
// access token — no RPT — is decided locally, with zero calls to the token
// endpoint. The same requests are then decided the classic way (the enforcer
// exchanges the token for an RPT through the UMA grant) for comparison.
//
// The embedded Keycloak-compatible realm is loaded from the same export, so
// both answers come from the same policies: "Read Orders" needs the realm
// role user; "Delete Orders" needs admin and business hours (9–17 UTC), read
// from the enforcer's clock, never from the request.
//
//	go run ./examples/offline-keycloak
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies/keycloak"
)

// realm is a Keycloak realm export with the orders-api client's
// authorization settings (Realm settings > Action > Partial export, or the
// client's Authorization > Export settings).
//
//go:embed realm.json
var realm []byte

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// A fixed clock, so that "Business Hours" gives the same answer on
	// every run: Wednesday 18 March 2026, 10:30 UTC.
	now := func() time.Time { return time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC) }
	kc, err := keycloaktest.Start(
		keycloaktest.WithAuthorizationSettings(realm),
		keycloaktest.WithAuthorizationClient("orders-api"),
		keycloaktest.WithClock(now))
	if err != nil {
		return err
	}
	defer kc.Close()

	// Translate the export once (rptguard import does the same on disk;
	// rptguard.authorization-settings does it from the configuration).
	settings, err := keycloak.Parse(realm, keycloak.WithClientID("orders-api"))
	if err != nil {
		return err
	}
	res, err := keycloak.Translate(settings)
	if err != nil {
		return err // a JavaScript policy would fail here, by name, until mapped
	}

	cfg := enforcer.Config{
		Realm: kc.Realm(), AuthServerURL: kc.URL(), Resource: kc.ClientID(),
		Credentials: enforcer.Credentials{Secret: enforcer.Secret(kc.ClientSecret())},
		Paths: []enforcer.PathConfig{{Path: "/orders/{id}", Methods: []enforcer.MethodConfig{
			{Method: "GET", Scopes: []string{"read"}},
			{Method: "DELETE", Scopes: []string{"delete"}},
		}}},
		RPTGuard: enforcer.Settings{PermissionsSource: enforcer.PermissionsOffline},
	}
	offline, err := enforcer.New(ctx, cfg, enforcer.WithHTTPClient(kc.HTTPClient()),
		enforcer.WithClock(now), enforcer.WithAuthorizationSettings(res))
	if err != nil {
		return err
	}
	defer offline.Close()

	requests := []struct{ user, method, path string }{
		{"alice", "GET", "/orders/7"},
		{"alice", "DELETE", "/orders/7"},
		{"bob", "DELETE", "/orders/7"},
	}
	tokens := map[string]string{"alice": kc.AccessToken("alice"), "bob": kc.AccessToken("bob")}

	fmt.Fprintln(out, "offline (Keycloak's policies in Rego, plain access token):")
	for _, r := range requests {
		d, err := offline.Decide(ctx, enforcer.Request{Method: r.method, Path: r.path, Token: tokens[r.user]})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-5s %-6s %s: %d %s\n", r.user, r.method, r.path, d.Status, d.Reason)
	}
	fmt.Fprintf(out, "  token endpoint calls: %d\n", kc.Requests(keycloaktest.EndpointToken))

	// The classic way, for comparison: the same configuration with
	// permissions-source "uma" (resolves its paths through the Protection
	// API and exchanges each token for an RPT).
	cfg.RPTGuard.PermissionsSource = enforcer.PermissionsUMA
	online, err := enforcer.New(ctx, cfg, enforcer.WithHTTPClient(kc.HTTPClient()), enforcer.WithClock(now))
	if err != nil {
		return err
	}
	defer online.Close()
	fmt.Fprintln(out, "UMA (the enforcer exchanges the token for an RPT at Keycloak):")
	for _, r := range requests {
		d, err := online.Decide(ctx, enforcer.Request{Method: r.method, Path: r.path, Token: tokens[r.user]})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-5s %-6s %s: %d %s\n", r.user, r.method, r.path, d.Status, d.Reason)
	}
	fmt.Fprintf(out, "  token endpoint calls: %d\n", kc.Requests(keycloaktest.EndpointToken))
	return nil
}
