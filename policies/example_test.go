package policies_test

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

//go:embed testdata/policies all:testdata/bundle
var exampleFS embed.FS

// A custom rule: owner-only access to /users/{user}/notes, using the path
// parameter the matched template captured. The path names the rule
// (Input.Rule) and it must hold on top of Keycloak's decision.
func Example_ownerOnly() {
	ctx := context.Background()
	e, err := policies.New(ctx, policies.WithSources(policies.FromModule("owner.rego", `package rptguard.rules

owner_only if input.request.path_params.user == input.token.preferred_username
`)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()

	// Built once per verified token and cached next to it.
	tok, err := policies.NewTokenValue(&rpt.Claims{
		Subject:           "f3a1",
		PreferredUsername: "alice",
		Authorization: &rpt.Authorization{Permissions: []rpt.Permission{
			{ResourceID: "notes-id", ResourceName: "Notes", Scopes: []string{"notes:read"}},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, user := range []string{"alice", "bob"} {
		d, err := e.Evaluate(ctx, policies.Input{
			Request:        policies.Request{Method: "GET", Path: "/users/" + user + "/notes", PathParams: map[string]string{"user": user}},
			Resource:       policies.Resource{ID: "notes-id", Name: "Notes", Template: "/users/{user}/notes"},
			RequiredScopes: []string{"notes:read"},
			Token:          tok,
			Rule:           "rules.owner_only",
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(user, d.Allow, d.Reasons)
	}
	// Output:
	// alice true []
	// bob false [rule "rules.owner_only" is not satisfied]
}

// Policies embedded in the binary (an embed.FS) and an OPA bundle: the
// bundle's manifest revision identifies the policy set when it is the only
// source.
func Example_fsAndBundle() {
	ctx := context.Background()
	e, err := policies.New(ctx, policies.WithSources(policies.FromFS(exampleFS, "testdata/policies")))
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, _ := policies.NewTokenValue(&rpt.Claims{
		Subject:           "f3a1",
		PreferredUsername: "alice",
		RealmRoles:        []string{"user"},
		Authorization:     &rpt.Authorization{Permissions: []rpt.Permission{{ResourceID: "notes-id"}}},
	})
	in := policies.Input{
		Request:  policies.Request{Method: "DELETE", PathParams: map[string]string{"user": "alice"}},
		Resource: policies.Resource{ID: "notes-id", Name: "Notes"},
		Token:    tok,
		Rule:     "rules.owner_only",
	}
	d, _ := e.Evaluate(ctx, in)
	fmt.Println("fs:", d.Allow, d.Reasons)

	b, err := policies.New(ctx, policies.WithSources(policies.FromBundleFS(exampleFS, "testdata/bundle")))
	if err != nil {
		fmt.Println(err)
		return
	}
	in = policies.Input{
		Request:  policies.Request{Method: "GET", Headers: map[string][]string{"X-Hour": {"9"}}},
		Resource: policies.Resource{ID: "notes-id"},
		Token:    tok,
		Rule:     "rules.office.open",
	}
	d, _ = b.Evaluate(ctx, in)
	fmt.Println("bundle:", b.Revision(), d.Allow)
	// Output:
	// fs: false [deleting requires the editor role]
	// bundle: 2026-11-22.1 true
}

// Errors always come with a denying decision; branch on them with errors.Is.
func ExampleEngine_Evaluate_errors() {
	ctx := context.Background()
	_, err := policies.New(ctx, policies.WithSources(policies.FromModule("typo.rego", `package rptguard.user

deny contains "no" if input.toekn.sub == "mallory"
`)))
	fmt.Println(errors.Is(err, policies.ErrCompile))

	e, _ := policies.New(ctx)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	d, err := e.Evaluate(cancelled, policies.Input{})
	fmt.Println(d.Allow, errors.Is(err, policies.ErrEvaluation), errors.Is(err, context.Canceled))

	_, err = e.Evaluate(ctx, policies.Input{ScopesMode: "SOME"})
	fmt.Println(errors.Is(err, policies.ErrInvalidInput))
	// Output:
	// true
	// false true true
	// true
}
