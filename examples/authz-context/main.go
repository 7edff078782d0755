// Command authz-context shows a handler reading the AuthorizationContext the
// enforcer stores for allowed requests: who the caller is, which resource the
// path matched and what the caller's RPT grants, to shape the answer (here:
// hide the edit link from callers without orders:write).
//
//	go run ./examples/authz-context
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
	"github.com/rptguard/rptguard/rpt"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func orderHandler(w http.ResponseWriter, r *http.Request) {
	ac, ok := enforcer.FromContext(r.Context())
	if !ok { // not behind the enforcer: fail closed
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	fmt.Fprintf(w, "order %s for %s (matched %s on resource %s, needed %v)\n",
		r.PathValue("id"), ac.Claims().PreferredUsername, ac.Template(), ac.Resource().Name, ac.RequiredScopes())
	if ac.HasPermission("Orders", "orders:write") {
		fmt.Fprintln(w, "  [edit]")
	}
}

func run(ctx context.Context, out io.Writer) error {
	kc, err := keycloaktest.Start(
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read", "orders:write"}}),
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
		}}},
		// Decide on the token's own permissions only (no UMA exchange).
		RPTGuard: enforcer.Settings{PermissionsSource: enforcer.PermissionsToken},
	}, enforcer.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		return err
	}
	defer e.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", orderHandler)
	srv := httptest.NewServer(e.Middleware(mux))
	defer srv.Close()

	id := kc.ResourceID("Orders")
	tokens := map[string]string{
		"reader": kc.IssueRPT("alice", rpt.Permission{ResourceID: id, ResourceName: "Orders", Scopes: []string{"orders:read"}}),
		"writer": kc.IssueRPT("bob", rpt.Permission{ResourceID: id, ResourceName: "Orders", Scopes: []string{"orders:read", "orders:write"}}),
	}
	for _, who := range []string{"reader", "writer"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/orders/7", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tokens[who])
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d %s", who, resp.StatusCode, body)
	}
	return nil
}
