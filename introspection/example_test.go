package introspection_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// Example introspects an RPT at a Keycloak-compatible server and branches on
// the outcome the way a resource server maps it to HTTP statuses.
func Example() {
	srv, err := keycloaktest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	client, err := introspection.New(introspection.Config{
		Endpoint:          srv.IntrospectionURL(),
		ClientID:          srv.ClientID(),
		ClientSecret:      srv.ClientSecret(),
		Rules:             rpt.ClaimRules{Issuer: srv.Issuer(), Audience: []string{srv.ClientID()}},
		InsecureAllowHTTP: true, // keycloaktest serves plain http; never in production
	}, introspection.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	token := srv.IssueRPT("alice", rpt.Permission{ResourceID: "r1", ResourceName: "Orders", Scopes: []string{"orders:read"}})
	claims, err := client.Verify(ctx, token)
	if err != nil {
		panic(err)
	}
	for _, p := range claims.Permissions() {
		fmt.Println("granted:", p.ResourceName, p.Scopes)
	}

	status := func(err error) int {
		switch {
		case err == nil:
			return 200
		case errors.Is(err, rpt.ErrInvalidToken):
			return 401
		case errors.Is(err, introspection.ErrUnavailable):
			return 503
		default:
			return 500
		}
	}
	_, err = client.Verify(ctx, "not-a-token")
	fmt.Println("unknown token:", status(err), errors.Is(err, introspection.ErrInactive))

	srv.Fail(keycloaktest.EndpointIntrospection, 502)
	_, err = client.Verify(ctx, srv.IssueRPT("bob"))
	fmt.Println("server down:", status(err))
	// Output:
	// granted: Orders [orders:read]
	// unknown token: 401 true
	// server down: 503
}
