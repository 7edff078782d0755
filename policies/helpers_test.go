package policies_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// perm builds a permission; an empty id makes it scope-only.
func perm(id, name string, scopes ...string) rpt.Permission {
	return rpt.Permission{ResourceID: id, ResourceName: name, Scopes: scopes}
}

// claimsWith builds verified claims of an RPT holding perms.
func claimsWith(perms ...rpt.Permission) *rpt.Claims {
	return &rpt.Claims{
		Issuer:            "https://kc.example/realms/demo",
		Subject:           "alice-id",
		PreferredUsername: "alice",
		RealmRoles:        []string{"user"},
		ResourceRoles:     map[string][]string{"orders-api": {"reader"}},
		Groups:            []string{"/staff/sales"},
		Authorization:     &rpt.Authorization{Permissions: perms},
	}
}

// tokenWith builds the cached token value of an RPT holding perms.
func tokenWith(tb testing.TB, perms ...rpt.Permission) *policies.TokenValue {
	tb.Helper()
	tv, err := policies.NewTokenValue(claimsWith(perms...))
	require.NoError(tb, err)
	return tv
}

// newEngine builds an engine from inline modules (name, text pairs).
func newEngine(tb testing.TB, opts ...policies.Option) *policies.Engine {
	tb.Helper()
	e, err := policies.New(context.Background(), opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = e.Close() })
	return e
}
