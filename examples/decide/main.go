// Command decide uses the enforcer's pipeline without HTTP: a queue consumer
// (or a gRPC interceptor, or a CLI) asks Enforcer.Decide whether the message's
// token may perform an operation, mapped onto the same policy-enforcer paths
// and scopes as the HTTP API.
//
//	go run ./examples/decide
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// message is a job from a queue, carrying the requester's token.
type message struct {
	op, orderID, token string
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read", "orders:cancel"}}),
	)
	if err != nil {
		return err
	}
	defer kc.Close()
	e, err := enforcer.New(ctx, enforcer.Config{
		Realm: kc.Realm(), AuthServerURL: kc.URL(), Resource: kc.ClientID(),
		Credentials: enforcer.Credentials{Secret: enforcer.Secret(kc.ClientSecret())},
		Paths: []enforcer.PathConfig{{Name: "Orders", Path: "/orders/{id}", Methods: []enforcer.MethodConfig{
			{Method: "GET", Scopes: []string{"orders:read"}},
			{Method: "DELETE", Scopes: []string{"orders:cancel"}},
		}}},
		RPTGuard: enforcer.Settings{PermissionsSource: enforcer.PermissionsToken},
	}, enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer e.Close()

	id := kc.ResourceID("Orders")
	reader := kc.IssueRPT("alice", rpt.Permission{ResourceID: id, ResourceName: "Orders", Scopes: []string{"orders:read"}})
	ops := map[string]string{"show": "GET", "cancel": "DELETE"}
	for _, m := range []message{
		{"show", "7", reader},
		{"cancel", "7", reader},
		{"show", "7", "garbage"},
	} {
		d, err := e.Decide(ctx, enforcer.Request{Method: ops[m.op], Path: "/orders/" + m.orderID, Token: m.token})
		if err != nil {
			// No decision could be made (authorization server down, policy
			// error): retry the message later rather than dropping it.
			return fmt.Errorf("decide: %w", err)
		}
		verdict := "processed"
		if !d.Allowed {
			verdict = "rejected"
		}
		fmt.Fprintf(out, "%-6s order %s: %-9s (status %d, reason %s, scopes %v)\n", m.op, m.orderID, verdict, d.Status, d.Reason, d.RequiredScopes)
	}
	return nil
}
