package keycloak_test

import (
	"context"
	"testing"
	"time"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
)

// BenchmarkOfflineDecision compares an offline decision (Keycloak's
// policies translated to Rego, evaluated by policies.Engine from the access
// token) with what Keycloak's enforcer does for a plain access token: a UMA
// grant at the token endpoint (response_mode=decision), here over loopback
// to keycloaktest, which evaluates the same export.
func BenchmarkOfflineDecision(b *testing.B) {
	export := readTestdata(b, "rptguard-all-policies-realm.json")
	kc := keycloaktest.New(b,
		keycloaktest.WithAuthorizationSettings(export),
		keycloaktest.WithAuthorizationClient("orders-api"),
		keycloaktest.WithClock(func() time.Time { return fixedNow }))
	token := kc.AccessToken("alice", keycloaktest.WithAuthorizedParty("web-app"))
	rsid := kc.ResourceID("Orders")

	b.Run("rptguard", func(b *testing.B) {
		res := translate(b, export, []keycloak.ParseOption{keycloak.WithClientID("orders-api")})
		e := engine(b, res)
		tok, err := policies.NewTokenValue(tokenClaims(b, token))
		if err != nil {
			b.Fatal(err)
		}
		in := policies.Input{
			Request:           policies.Request{Method: "GET", Path: "/orders/7"},
			Resource:          policies.Resource{ID: rsid, Name: "Orders"},
			RequiredScopes:    []string{"read"},
			Token:             tok,
			PermissionsSource: policies.PermissionsOffline,
		}
		ctx := context.Background()
		if d, err := e.Evaluate(ctx, in); err != nil || !d.Allow {
			b.Fatalf("warm-up: %v %v", d, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			d, err := e.Evaluate(ctx, in)
			if err != nil || !d.Allow {
				b.Fatal("denied")
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		if umaPermissions(b, kc, token, rsid, []string{"read"}, "decision") == nil {
			b.Fatal("warm-up: denied")
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if umaPermissions(b, kc, token, rsid, []string{"read"}, "decision") == nil {
				b.Fatal("denied")
			}
		}
	})
}
