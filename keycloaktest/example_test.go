package keycloaktest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rptguard/rptguard/keycloaktest"
)

// ExampleNew starts a server, gets a PAT from the token endpoint and an RPT
// through the UMA grant, using plain net/http.
func ExampleNew() {
	t := &exampleTB{}
	kc := keycloaktest.New(t,
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read", "orders:write"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Scopes: []string{"orders:read"}}),
	)
	defer t.cleanup()
	hc := kc.HTTPClient()

	token := func(form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, kc.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(kc.ClientID()), url.QueryEscape(kc.ClientSecret()))
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}

	// A PAT: client_credentials of the resource server.
	status, pat := token(url.Values{"grant_type": {"client_credentials"}})
	fmt.Println("PAT:", status, pat["token_type"])

	// An RPT for alice: the UMA grant with her access token as subject_token.
	status, body := token(url.Values{
		"grant_type":    {"urn:ietf:params:oauth:grant-type:uma-ticket"},
		"audience":      {kc.ClientID()},
		"subject_token": {kc.AccessToken("alice")},
		"permission":    {"Orders#orders:read,orders:write"},
	})
	fmt.Println("RPT:", status, body["upgraded"])
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(body["access_token"].(string), ".")[1])
	var claims struct {
		Authorization struct {
			Permissions []struct {
				RSName string   `json:"rsname"`
				Scopes []string `json:"scopes"`
			} `json:"permissions"`
		} `json:"authorization"`
	}
	_ = json.Unmarshal(payload, &claims)
	fmt.Printf("%+v\n", claims.Authorization.Permissions)

	// Bob holds no grant: Keycloak answers 403 access_denied.
	status, body = token(url.Values{
		"grant_type":    {"urn:ietf:params:oauth:grant-type:uma-ticket"},
		"audience":      {kc.ClientID()},
		"subject_token": {kc.AccessToken("bob")},
		"permission":    {"Orders#orders:read"},
	})
	fmt.Println("bob:", status, body["error"], body["error_description"])
	fmt.Println("token endpoint calls:", kc.Requests(keycloaktest.EndpointToken))
	// Output:
	// PAT: 200 Bearer
	// RPT: 200 false
	// [{RSName:Orders Scopes:[orders:read]}]
	// bob: 403 access_denied not_authorized
	// token endpoint calls: 3
}
