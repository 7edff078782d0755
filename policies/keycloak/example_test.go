package keycloak_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
)

func Example() {
	export := []byte(`{
	  "resources": [{"name": "Orders", "uris": ["/orders/*"], "scopes": [{"name": "read"}, {"name": "write"}]}],
	  "policies": [
	    {"name": "Is User", "type": "role", "config": {"roles": "[{\"id\":\"user\"}]"}},
	    {"name": "Owner Only", "type": "js", "config": {"code": "..."}},
	    {"name": "Read Orders", "type": "scope", "config": {"scopes": "[\"read\"]", "applyPolicies": "[\"Is User\"]"}},
	    {"name": "Write Orders", "type": "scope", "config": {"scopes": "[\"write\"]", "applyPolicies": "[\"Owner Only\"]"}}
	  ]}`)
	s, err := keycloak.Parse(export)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := keycloak.Translate(s); errors.Is(err, keycloak.ErrUnsupportedPolicy) {
		fmt.Println("refused:", err)
	}
	res, err := keycloak.Translate(s, keycloak.WithPolicyMapping("Owner Only", keycloak.MapDeny()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("paths:", res.Paths[0].Name, res.Paths[0].Paths)

	ctx := context.Background()
	e, err := policies.New(ctx, policies.WithSources(res.Source()))
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, _ := policies.NewTokenValue(&rpt.Claims{Raw: map[string]any{
		"sub": "u1", "preferred_username": "alice", "realm_access": map[string]any{"roles": []any{"user"}},
	}})
	for _, scope := range []string{"read", "write"} {
		d, _ := e.Evaluate(ctx, policies.Input{
			Resource:          policies.Resource{ID: "orders-id", Name: "Orders"},
			RequiredScopes:    []string{scope},
			Token:             tok, // a plain access token: no RPT needed
			PermissionsSource: policies.PermissionsOffline,
		})
		fmt.Println(scope, d.Allow)
	}
	// Output:
	// refused: keycloak: unsupported policies (map each with WithPolicyMapping to allow, deny or a Rego rule): "Owner Only" (js)
	// paths: Orders [/orders/*]
	// read true
	// write false
}
