package uma_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// Obtain an RPT for one resource and scope on behalf of a user, then show
// how a denial is told apart with errors.Is.
func ExampleClient_RequestRPT() {
	kc, err := keycloaktest.Start(fixture()...)
	if err != nil {
		panic(err)
	}
	defer kc.Close()
	ctx := context.Background()

	client, err := uma.New(ctx, uma.Config{
		AuthServerURL:     kc.URL(),
		Realm:             kc.Realm(),
		ClientID:          kc.ClientID(),
		Credentials:       uma.Credentials{Secret: uma.Secret(kc.ClientSecret())},
		InsecureAllowHTTP: true, // the test server speaks plain HTTP
	}, uma.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		panic(err)
	}
	defer client.Close()

	userToken := kc.AccessToken("alice")
	tr, err := client.RequestRPT(ctx, uma.GrantRequest{
		SubjectToken: userToken,
		Permissions:  []uma.Permission{{Resource: "Orders", Scopes: []string{"view"}}},
	})
	if err != nil {
		panic(err)
	}
	for _, p := range tr.Claims.Permissions() {
		fmt.Println("granted:", p.ResourceName, p.Scopes)
	}

	_, err = client.RequestRPT(ctx, uma.GrantRequest{
		SubjectToken: userToken,
		Permissions:  []uma.Permission{{Resource: "Orders", Scopes: []string{"delete"}}},
	})
	switch {
	case errors.Is(err, uma.ErrAccessDenied):
		fmt.Println("delete: denied")
	case errors.Is(err, uma.ErrUnavailable):
		fmt.Println("delete: try again later")
	}
	// Output:
	// granted: Orders [view]
	// delete: denied
}

// A client handles a UMA challenge: the resource server answers 401 with
// WWW-Authenticate: UMA …; the client parses it, exchanges the ticket for an
// RPT and retries with the RPT.
func ExampleParseChallenge() {
	kc, err := keycloaktest.Start(fixture()...)
	if err != nil {
		panic(err)
	}
	defer kc.Close()
	ctx := context.Background()
	cfg := uma.Config{
		AuthServerURL: kc.URL(), Realm: kc.Realm(), ClientID: kc.ClientID(),
		Credentials: uma.Credentials{Secret: uma.Secret(kc.ClientSecret())}, InsecureAllowHTTP: true,
	}
	// The resource server's side: its own uma.Client makes tickets.
	rs, err := uma.New(ctx, cfg, uma.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		panic(err)
	}
	defer rs.Close()
	verifier, err := rpt.New(ctx, rpt.Config{
		ClaimRules: rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}},
		JWKSURL:    kc.JWKSURL(), InsecureAllowHTTP: true,
	}, rpt.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		panic(err)
	}
	defer verifier.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if claims, err := verifier.Verify(r.Context(), tok); err == nil {
				for _, p := range claims.Permissions() {
					if p.ResourceID == "orders-1" {
						fmt.Fprintln(w, "the orders")
						return
					}
				}
			}
		}
		h, err := rs.Challenge(r.Context(), []uma.PermissionRequest{{ResourceID: "orders-1", Scopes: []string{"view"}}})
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("WWW-Authenticate", h)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()

	// The client's side.
	client, err := uma.New(ctx, cfg, uma.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	userToken := kc.AccessToken("alice")
	get := func(token string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/orders/7", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}

	resp := get(userToken)
	resp.Body.Close()
	fmt.Println("first try:", resp.StatusCode)
	ch, err := uma.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
	if err != nil {
		panic(err)
	}
	tr, err := client.RequestRPTForChallenge(ctx, ch, uma.GrantRequest{SubjectToken: userToken})
	if err != nil {
		panic(err)
	}
	resp = get(tr.AccessToken)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print("with RPT: ", resp.StatusCode, " ", string(body))
	// Output:
	// first try: 401
	// with RPT: 200 the orders
}
