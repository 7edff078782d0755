// Command custom-rego adds a user Rego rule to rptguard's built-in
// Keycloak-compatible decision: owner-only access to /users/{user}/orders.
// Tokens come from an embedded Keycloak-compatible realm and are verified
// with rpt.Verifier; the policy engine (policies.Engine) then decides.
// The enforcer does the same per request when a path names the rule.
//
//	go run ./examples/custom-rego
package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

//go:embed policies
var policyFS embed.FS

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "User orders", URIs: []string{"/users/{user}/orders"}, Scopes: []string{"orders:read"}}),
	)
	if err != nil {
		return err
	}
	defer kc.Close()
	verifier, err := rpt.New(ctx, rpt.Config{
		ClaimRules: rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}},
		JWKSURL:    kc.JWKSURL(), InsecureAllowHTTP: true, // loopback test realm; never in production
	}, rpt.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer verifier.Close()

	engine, err := policies.New(ctx, policies.WithSources(policies.FromFS(policyFS, "policies")))
	if err != nil {
		return err // a typo such as input.toekn fails here, at load time
	}
	defer engine.Close()
	if !engine.HasRule("rules.orders.owner_only") {
		return fmt.Errorf("rule rules.orders.owner_only is not defined")
	}

	rsid := kc.ResourceID("User orders")
	perm := rpt.Permission{ResourceID: rsid, ResourceName: "User orders", Scopes: []string{"orders:read"}}
	// Both users hold orders:read on the resource: Keycloak alone would let
	// alice read bob's orders. The rule narrows it to the owner (or an admin).
	cases := []struct{ caller, owner string }{
		{"alice", "alice"}, {"alice", "bob"}, {"bob", "alice"},
	}
	fmt.Fprintf(out, "%-6s %-24s %-6s %s\n", "caller", "request", "allow", "reasons")
	for _, c := range cases {
		claims, err := verifier.Verify(ctx, kc.IssueRPT(c.caller, perm))
		if err != nil {
			return err
		}
		tok, err := policies.NewTokenValue(claims) // once per verified token; cache it with the claims
		if err != nil {
			return err
		}
		path := "/users/" + c.owner + "/orders"
		d, err := engine.Evaluate(ctx, policies.Input{
			Request:        policies.Request{Method: "GET", Path: path, PathParams: map[string]string{"user": c.owner}},
			Resource:       policies.Resource{ID: rsid, Name: "User orders", Template: "/users/{user}/orders"},
			RequiredScopes: []string{"orders:read"},
			Token:          tok,
			Rule:           "rules.orders.owner_only",
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-6s GET %-20s %-6t %v\n", c.caller, path, d.Allow, d.Reasons)
	}
	return nil
}
