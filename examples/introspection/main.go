// Command introspection verifies RPTs through RFC 7662 introspection at an
// embedded Keycloak-compatible realm, and shows the trade-off between the
// introspection cache and revocation: a plain cached Client keeps accepting a
// revoked token until its cache entry expires, a Hybrid verifier checks the
// signature locally and asks the server again when the caller wants a fresh
// answer (sensitive paths).
//
//	go run ./examples/introspection
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read"}}),
	)
	if err != nil {
		return err
	}
	defer kc.Close()
	rules := rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}}
	newClient := func(ttl time.Duration) (*introspection.Client, error) {
		return introspection.New(introspection.Config{
			Endpoint:          kc.IntrospectionURL(),
			ClientID:          kc.ClientID(),
			ClientSecret:      kc.ClientSecret(),
			Rules:             rules,
			CacheTTL:          ttl,
			InsecureAllowHTTP: true, // the embedded realm speaks plain HTTP on loopback; never in production
		}, introspection.WithHTTPClient(kc.HTTPClient()))
	}

	// 1. Introspection mode: every new token costs one call, then the
	// answer is cached for up to CacheTTL (60 s by default).
	cached, err := newClient(0)
	if err != nil {
		return err
	}
	token := kc.IssueRPT("alice", rpt.Permission{ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"orders:read"}})
	for range 3 {
		if _, err := cached.Verify(ctx, token); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "introspection: 3 verifications, %d call(s) to the server\n", kc.Requests(keycloaktest.EndpointIntrospection))

	kc.Revoke(token)
	_, err = cached.Verify(ctx, token)
	fmt.Fprintf(out, "revoked, cached client:        %s (cached answer, until CacheTTL)\n", verdict(err))

	// 2. Hybrid: the signature and claims are checked locally (forged and
	// expired tokens never reach the server); introspection is asked again
	// every interval, or at once for calls marked fresh.
	local, err := rpt.New(ctx, rpt.Config{ClaimRules: rules, JWKSURL: kc.JWKSURL(), InsecureAllowHTTP: true},
		rpt.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := newClient(0)
	if err != nil {
		return err
	}
	hybrid, err := introspection.NewHybrid(local, remote, introspection.Interval(time.Minute))
	if err != nil {
		return err
	}
	fresh := kc.IssueRPT("bob")
	_, err = hybrid.Verify(ctx, fresh)
	fmt.Fprintf(out, "hybrid, valid token:           %s\n", verdict(err))
	kc.Revoke(fresh)
	_, err = hybrid.Verify(introspection.WithFreshIntrospection(ctx), fresh)
	fmt.Fprintf(out, "hybrid, revoked, fresh check:  %s\n", verdict(err))

	forged := kc.SignToken(map[string]any{"sub": "mallory"}, keycloaktest.WithForeignKey())
	before := kc.Requests(keycloaktest.EndpointIntrospection)
	_, err = hybrid.Verify(ctx, forged)
	fmt.Fprintf(out, "hybrid, forged token:          %s, %d call(s) to the server\n", verdict(err), kc.Requests(keycloaktest.EndpointIntrospection)-before)
	return nil
}

// verdict maps a verification error to the status an enforcer answers.
func verdict(err error) string {
	switch {
	case err == nil:
		return "200 accepted"
	case errors.Is(err, rpt.ErrInvalidToken):
		return "401 invalid_token"
	case errors.Is(err, introspection.ErrUnavailable), errors.Is(err, rpt.ErrUnavailable):
		return "503 unavailable"
	default:
		return "500 " + err.Error()
	}
}
