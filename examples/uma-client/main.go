// Command uma-client walks through the UMA 2.0 flow against an embedded
// Keycloak-compatible realm: the API, behind rptguard's enforcer in UMA mode,
// answers 401 with a "WWW-Authenticate: UMA" challenge carrying a permission
// ticket; the client exchanges the ticket for an RPT at the token endpoint,
// and the retry with the RPT succeeds.
//
//	go run ./examples/uma-client
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/uma"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Scopes: []string{"orders:read"}}),
	)
	if err != nil {
		return err
	}
	defer kc.Close()
	cfg := uma.Config{
		AuthServerURL: kc.URL(), Realm: kc.Realm(), ClientID: kc.ClientID(),
		Credentials:       uma.Credentials{Secret: uma.Secret(kc.ClientSecret())},
		InsecureAllowHTTP: true, // the embedded realm speaks plain HTTP on loopback; never in production
	}

	// The resource server: rptguard's enforcer with Keycloak's
	// "user-managed-access": it accepts RPTs holding orders:read on Orders
	// and answers anything less with a UMA challenge and a fresh ticket.
	e, err := enforcer.New(ctx, enforcer.Config{
		Realm: kc.Realm(), AuthServerURL: kc.URL(), Resource: kc.ClientID(),
		Credentials:       enforcer.Credentials{Secret: enforcer.Secret(kc.ClientSecret())},
		UserManagedAccess: &enforcer.UserManagedAccessConfig{},
		Paths: []enforcer.PathConfig{{Name: "Orders", Path: "/orders/*", Methods: []enforcer.MethodConfig{
			{Method: "GET", Scopes: []string{"orders:read"}},
		}}},
	}, enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer e.Close()
	api := httptest.NewServer(e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "order 7: 3 books")
	})))
	defer api.Close()

	// The client: a confidential client acting for alice. It trusts only
	// its own authorization server (RequestRPTForChallenge checks as_uri).
	client, err := uma.New(ctx, cfg, uma.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer client.Close()
	hc := api.Client()
	userToken := kc.AccessToken("alice")

	resp, body, err := get(ctx, hc, api.URL+"/orders/7", userToken)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "1. GET /orders/7 with alice's access token  -> %d\n", resp.StatusCode)
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("want a 401 challenge, got %d", resp.StatusCode)
	}
	ch, err := uma.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "2. challenge: realm=%q as_uri=%q ticket=<%d bytes>\n", ch.Realm, ch.ASURI, len(ch.Ticket))

	tr, err := client.RequestRPTForChallenge(ctx, ch, uma.GrantRequest{SubjectToken: userToken})
	if err != nil {
		return err
	}
	for _, p := range tr.Claims.Permissions() {
		fmt.Fprintf(out, "3. RPT from the token endpoint grants %s %v\n", p.ResourceName, p.Scopes)
	}

	resp, body, err = get(ctx, hc, api.URL+"/orders/7", tr.AccessToken)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. retry with the RPT                       -> %d %s", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("want 200 with the RPT, got %d", resp.StatusCode)
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, url, token string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, string(b), err
}
