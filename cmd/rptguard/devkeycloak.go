package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func runDevKeycloak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev-keycloak", "dev-keycloak [--addr 127.0.0.1:PORT] [--realm NAME] [--realm-file FILE [--client ID]]", stderr)
	realm := fs.String("realm", keycloaktest.DefaultRealm, "realm name")
	addr := fs.String("addr", "", "loopback address to listen on, e.g. 127.0.0.1:8180 (default: a random free port)")
	realmFile := fs.String("realm-file", "", "Keycloak realm export or authorization-settings export to serve instead of the demo realm")
	client := fs.String("client", "", "with --realm-file: clientId of the resource server in a realm export")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *client != "" && *realmFile == "" {
		return usageError(fs, "--client needs --realm-file")
	}
	opts := demoRealm(keycloaktest.WithRealm(*realm))
	if *realmFile != "" {
		data, err := readFile(*realmFile)
		if err != nil {
			return err
		}
		opts = []keycloaktest.Option{keycloaktest.WithRealm(*realm), keycloaktest.WithAuthorizationSettings(data)}
		if *client != "" {
			opts = append(opts, keycloaktest.WithAuthorizationClient(*client))
		}
	}
	if *addr != "" {
		opts = append(opts, keycloaktest.WithListenAddr(*addr))
	}
	srv, err := keycloaktest.Start(opts...)
	if err != nil {
		if *realmFile != "" {
			return fmt.Errorf("%s: %w", *realmFile, err)
		}
		return err
	}
	defer srv.Close()
	printRealm(stdout, srv, *realmFile)
	if *realmFile == "" {
		printDemoTokens(stdout, srv)
	} else {
		fmt.Fprintln(stdout, "\nGet a user's token with the password grant, e.g.")
		fmt.Fprintf(stdout, "  curl -s -d grant_type=password -d username=USER -d password=PASSWORD -u %s:%s %s\n",
			srv.ClientID(), srv.ClientSecret(), srv.TokenURL())
	}
	fmt.Fprintln(stdout, "\nServing until interrupted (Ctrl-C).")
	<-ctx.Done()
	return nil
}

// printRealm prints the server's addresses and the resource server's credentials.
// realmFile, if not empty, names the export the realm was loaded from.
func printRealm(w io.Writer, srv *keycloaktest.Server, realmFile string) {
	fmt.Fprintf(w, "auth-server-url: %s\n", srv.URL())
	fmt.Fprintf(w, "realm:           %s\n", srv.Realm())
	fmt.Fprintf(w, "issuer:          %s\n", srv.Issuer())
	fmt.Fprintf(w, "discovery:       %s/.well-known/uma2-configuration\n", srv.Issuer())
	fmt.Fprintf(w, "jwks:            %s\n", srv.JWKSURL())
	fmt.Fprintf(w, "token:           %s\n", srv.TokenURL())
	fmt.Fprintf(w, "introspection:   %s\n", srv.IntrospectionURL())
	fmt.Fprintf(w, "client:          %s / %s\n", srv.ClientID(), srv.ClientSecret())
	if realmFile != "" {
		fmt.Fprintf(w, "loaded:          %s (users, resources and policies)\n", realmFile)
		return
	}
	fmt.Fprintln(w, "users:           alice/alice (user), bob/bob (user, admin)")
}

// printDemoTokens prints tokens for the demo realm's users (test keys only).
func printDemoTokens(w io.Writer, srv *keycloaktest.Server) {
	fmt.Fprintf(w, "\nalice's access token (no permissions):\n%s\n", srv.AccessToken("alice"))
	fmt.Fprintf(w, "\nalice's RPT (Orders: orders:read):\n%s\n", srv.IssueRPT("alice", rpt.Permission{
		ResourceID: srv.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"orders:read"}}))
	fmt.Fprintf(w, "\nbob's RPT (Orders: orders:read orders:write; Admin: admin:manage):\n%s\n", srv.IssueRPT("bob",
		rpt.Permission{ResourceID: srv.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"orders:read", "orders:write"}},
		rpt.Permission{ResourceID: srv.ResourceID("Admin"), ResourceName: "Admin", Scopes: []string{"admin:manage"}}))
	fmt.Fprintln(w, "\nTokens expire after 5 minutes; get fresh ones with the password grant, e.g.")
	fmt.Fprintf(w, "  curl -s -d grant_type=password -d username=alice -d password=alice -u %s:%s %s\n",
		srv.ClientID(), srv.ClientSecret(), srv.TokenURL())
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
