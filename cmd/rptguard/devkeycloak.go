package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rptguard/rptguard/keycloaktest"
)

func runDevKeycloak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev-keycloak", "dev-keycloak [flags]", stderr)
	realm := fs.String("realm", "rptguard", "realm name")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	srv, err := keycloaktest.Start(demoRealm(keycloaktest.WithRealm(*realm))...)
	if err != nil {
		return err
	}
	defer srv.Close()
	printRealm(stdout, srv)
	fmt.Fprintf(stdout, "\nalice's access token:\n%s\n", srv.AccessToken("alice"))
	fmt.Fprintln(stdout, "\nServing until interrupted (Ctrl-C).")
	<-ctx.Done()
	return nil
}

// printRealm prints the server's addresses and the resource server's credentials.
func printRealm(w io.Writer, srv *keycloaktest.Server) {
	fmt.Fprintf(w, "auth-server-url: %s\n", srv.URL())
	fmt.Fprintf(w, "realm:           %s\n", srv.Realm())
	fmt.Fprintf(w, "issuer:          %s\n", srv.Issuer())
	fmt.Fprintf(w, "discovery:       %s/.well-known/uma2-configuration\n", srv.Issuer())
	fmt.Fprintf(w, "jwks:            %s\n", srv.JWKSURL())
	fmt.Fprintf(w, "client:          %s / %s\n", srv.ClientID(), srv.ClientSecret())
	fmt.Fprintln(w, "users:           alice/alice (user), bob/bob (user, admin)")
}

// demoRealm is the embedded realm used by demo and dev-keycloak: a small
// order API with two resources and a grant table.
func demoRealm(extra ...keycloaktest.Option) []keycloaktest.Option {
	opts := []keycloaktest.Option{
		keycloaktest.WithUser(keycloaktest.User{Username: "alice", Password: "alice", RealmRoles: []string{"user"}}),
		keycloaktest.WithUser(keycloaktest.User{Username: "bob", Password: "bob", RealmRoles: []string{"user", "admin"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", Type: "urn:demo:orders", URIs: []string{"/api/orders/*"}, Scopes: []string{"orders:read", "orders:write"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Admin", URIs: []string{"/api/admin/*"}, Scopes: []string{"admin:manage"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Scopes: []string{"orders:read"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Admin"}),
	}
	return append(opts, extra...)
}
