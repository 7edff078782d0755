package enforcer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// exampleServer starts a Keycloak-compatible server with one resource,
// "Orders" at /orders (scopes view and edit), which bob may view.
func exampleServer() *keycloaktest.Server {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders"}, Scopes: []string{"view", "edit"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders", Scopes: []string{"view"}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	return kc
}

// exampleConfig is a Keycloak policy-enforcer.json pointed at kc.
func exampleConfig(kc *keycloaktest.Server) enforcer.Config {
	cfg, err := enforcer.ParseConfig(fmt.Appendf(nil, `{
		"realm": %q, "auth-server-url": %q, "resource": %q, "credentials": {"secret": %q},
		"paths": [{"path": "/orders", "name": "Orders",
			"methods": [{"method": "GET", "scopes": ["view"]}, {"method": "POST", "scopes": ["edit"]}]}]
	}`, kc.Realm(), kc.URL(), kc.ClientID(), kc.ClientSecret()))
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

// The middleware protects a mux: anonymous requests get a Bearer challenge,
// bob's access token is exchanged for an RPT server-side (Keycloak's
// default), alice has no permission.
func Example_middleware() {
	kc := exampleServer()
	defer kc.Close()
	e, err := enforcer.New(context.Background(), exampleConfig(kc), enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	mux := http.NewServeMux()
	mux.Handle("/orders", e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ac, _ := enforcer.FromContext(r.Context())
		fmt.Fprintf(w, "orders for %s", ac.Claims().PreferredUsername)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, user := range []string{"", "bob", "alice"} {
		req, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+kc.AccessToken(user))
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-5q %d %s", user, res.StatusCode, res.Header.Get("WWW-Authenticate"))))
	}
	// Output:
	// ""    401 Bearer realm="rptguard"
	// "bob" 200
	// "alice" 403 Bearer realm="rptguard", error="insufficient_scope"
}

// Decide runs the same pipeline without HTTP, for gRPC services, queue
// consumers or CLIs.
func ExampleEnforcer_Decide() {
	kc := exampleServer()
	defer kc.Close()
	e, err := enforcer.New(context.Background(), exampleConfig(kc), enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	d, err := e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/orders", Token: kc.AccessToken("bob")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Allowed, d.Reason, d.Template, d.Resource.Name, d.RequiredScopes)
	fmt.Println(d.Context.HasPermission("Orders", "view"))
	// Output:
	// true allowed /orders Orders [view]
	// true
}

// Branching on the reason of a denial, and on ErrUnavailable when no
// decision could be made.
func ExampleEnforcer_Decide_denialReason() {
	kc := exampleServer()
	defer kc.Close()
	e, err := enforcer.New(context.Background(), exampleConfig(kc), enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	requests := []enforcer.Request{
		{Method: "POST", Path: "/orders", Token: kc.AccessToken("bob")},
		{Method: "GET", Path: "/orders", Token: "not-a-token"},
		{Method: "GET", Path: "/orders/../admin"},
		{Method: "GET", Path: "/orders", Token: kc.AccessToken("carol")},
	}
	for i, r := range requests {
		if i == 3 {
			kc.Fail(keycloaktest.EndpointToken, http.StatusServiceUnavailable)
		}
		d, err := e.Decide(context.Background(), r)
		switch {
		case errors.Is(err, enforcer.ErrUnavailable):
			fmt.Println("retry later:", d.Status, d.RetryAfter > 0)
		case err != nil:
			log.Fatal(err)
		case d.Reason == enforcer.ReasonForbidden:
			fmt.Println("forbidden:", d.Status)
		case d.Reason == enforcer.ReasonInvalidToken:
			fmt.Println("log in again:", d.Status)
		case d.Reason == enforcer.ReasonBadRequest:
			fmt.Println("malformed:", d.Status)
		}
	}
	// Output:
	// forbidden: 403
	// log in again: 401
	// malformed: 400
	// retry later: 503 true
}
