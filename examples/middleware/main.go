// Command middleware protects a net/http service with rptguard's enforcer,
// configured with Keycloak's own policy-enforcer JSON, against an embedded
// Keycloak-compatible realm. Requests with an access token that is not yet an
// RPT are exchanged server-side through the UMA grant, as Keycloak's
// enforcers do.
//
//	go run ./examples/middleware
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// policyEnforcerJSON is a policy-enforcer.json as Keycloak documents it;
// {{URL}} is replaced by the embedded realm's address.
const policyEnforcerJSON = `{
  "realm": "rptguard",
  "auth-server-url": "{{URL}}",
  "resource": "rptguard-api",
  "credentials": {"secret": "secret"},
  "paths": [
    {"name": "Orders", "path": "/orders/*", "methods": [
      {"method": "GET", "scopes": ["orders:read"]},
      {"method": "POST", "scopes": ["orders:write"]}
    ]},
    {"path": "/health", "enforcement-mode": "DISABLED"}
  ]
}`

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read", "orders:write"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Scopes: []string{"orders:read"}}),
	)
	if err != nil {
		return err
	}
	defer kc.Close()

	cfg, err := enforcer.ParseConfig([]byte(strings.ReplaceAll(policyEnforcerJSON, "{{URL}}", kc.URL())))
	if err != nil {
		return err // names the field, e.g. paths[0].methods[0].method
	}
	// New discovers the realm, loads its keys and resolves "Orders" to its
	// resource id through the Protection API. It fails fast when the server
	// is unreachable (or use enforcer.WithStartNotReady).
	e, err := enforcer.New(ctx, cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer e.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "order %s\n", r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	srv := httptest.NewServer(e.Middleware(mux))
	defer srv.Close()

	alice := kc.AccessToken("alice") // a plain access token: no permissions yet
	for _, c := range []struct{ method, path, token string }{
		{"GET", "/health", ""},
		{"GET", "/orders/7", ""},
		{"GET", "/orders/7", alice},
		{"POST", "/orders/", alice},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, nil)
		if err != nil {
			return err
		}
		who := "anonymous"
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
			who = "alice"
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Fprintf(out, "%-4s %-10s %-9s -> %d %s\n", c.method, c.path, who, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	fmt.Fprintf(out, "token-endpoint calls (PAT and UMA grants): %d; the RPT is cached per token and resource\n", kc.Requests(keycloaktest.EndpointToken))
	return nil
}
