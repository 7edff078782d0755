package policies_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// TestKeycloakIsAuthorized walks every rule of SPEC §3.3 through
// Engine.Evaluate, and checks that the allow path's matched permission (Go)
// agrees with the decision object's (Rego) through EvaluateExplain.
func TestKeycloakIsAuthorized(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	orders := policies.Resource{ID: "r-orders", Name: "Orders", URIs: []string{"/orders/*"}}
	instance := policies.Resource{ID: "r-order-7", Name: "Order 7", ParentID: "r-orders", Template: "/orders/{id}"}
	withClaims := func(p rpt.Permission, c map[string][]string) rpt.Permission { p.Claims = c; return p }

	tests := []struct {
		name     string
		token    *rpt.Claims // nil = anonymous
		resource policies.Resource
		scopes   []string
		mode     policies.ScopesEnforcementMode
		enforce  policies.EnforcementMode
		claims   map[string][]string
		want     bool
		matched  string // rsid (or "scope:"+first scope) of the matched permission, "" for none
		reason   string // substring of a reason on deny
	}{
		{name: "anonymous denied", resource: orders, scopes: []string{"read"}, want: false, reason: "not an RPT"},
		{name: "no authorization claim denied", token: &rpt.Claims{Subject: "a"}, resource: orders, scopes: []string{"read"}, want: false, reason: "not an RPT"},
		{name: "no authorization claim denied even permissive", token: &rpt.Claims{Subject: "a"}, resource: orders, enforce: policies.Permissive, want: false},
		{name: "empty authorization claim denied", token: claimsWith(), resource: orders, scopes: []string{"read"}, want: false, reason: `no permission for resource "Orders"`},
		{name: "resource-level permission grants every scope", token: claimsWith(perm("r-orders", "Orders")), resource: orders, scopes: []string{"read", "write"}, want: true, matched: "r-orders"},
		{name: "ALL: granted superset", token: claimsWith(perm("r-orders", "Orders", "read", "write", "delete")), resource: orders, scopes: []string{"read", "write"}, want: true, matched: "r-orders"},
		{name: "ALL: one scope missing", token: claimsWith(perm("r-orders", "Orders", "read")), resource: orders, scopes: []string{"read", "write"}, want: false, reason: "grants the required scopes"},
		{name: "ALL: no scope required", token: claimsWith(perm("r-orders", "Orders", "read")), resource: orders, want: true, matched: "r-orders"},
		{name: "ANY: one scope granted", token: claimsWith(perm("r-orders", "Orders", "write")), resource: orders, scopes: []string{"read", "write"}, mode: policies.ScopesAny, want: true, matched: "r-orders"},
		{name: "ANY: none granted", token: claimsWith(perm("r-orders", "Orders", "delete")), resource: orders, scopes: []string{"read", "write"}, mode: policies.ScopesAny, want: false},
		{name: "ANY: none required", token: claimsWith(perm("r-orders", "Orders", "delete")), resource: orders, mode: policies.ScopesAny, want: true, matched: "r-orders"},
		{name: "DISABLED: none required", token: claimsWith(perm("r-orders", "Orders", "read")), resource: orders, mode: policies.ScopesDisabled, want: true, matched: "r-orders"},
		{name: "DISABLED: scopes required, scoped permission", token: claimsWith(perm("r-orders", "Orders", "read")), resource: orders, scopes: []string{"read"}, mode: policies.ScopesDisabled, want: false},
		{name: "DISABLED: resource-level permission", token: claimsWith(perm("r-orders", "Orders")), resource: orders, scopes: []string{"read"}, mode: policies.ScopesDisabled, want: true, matched: "r-orders"},
		{name: "permission on another resource does not count", token: claimsWith(perm("r-other", "Other")), resource: orders, scopes: []string{"read"}, want: false, reason: "no permission for resource"},
		{name: "instance: permission on the instance", token: claimsWith(perm("r-order-7", "Order 7", "read")), resource: instance, scopes: []string{"read"}, want: true, matched: "r-order-7"},
		{name: "instance: permission on the parent does not grant", token: claimsWith(perm("r-orders", "Orders", "read")), resource: instance, scopes: []string{"read"}, want: false, reason: "parent resource"},
		{name: "instance: parent permission disables permissive", token: claimsWith(perm("r-orders", "Orders")), resource: instance, scopes: []string{"read"}, enforce: policies.Permissive, want: false},
		{name: "instance: parent then instance permission", token: claimsWith(perm("r-orders", "Orders"), perm("r-order-7", "Order 7")), resource: instance, scopes: []string{"read"}, want: true, matched: "r-order-7"},
		{name: "scope-only permission grants any resource", token: claimsWith(perm("", "", "read")), resource: orders, scopes: []string{"read"}, want: true, matched: "scope:read"},
		{name: "scope-only permission with unsatisfied scopes", token: claimsWith(perm("", "", "read")), resource: orders, scopes: []string{"write"}, want: false},
		{name: "scope-only permission ignores its claims", token: claimsWith(withClaims(perm("", "", "read"), map[string][]string{"amount": {"50"}})), resource: orders, scopes: []string{"read"}, want: true, matched: "scope:read"},
		{name: "claims: none on the permission", token: claimsWith(perm("r-orders", "Orders", "read")), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"x": {"1"}}, want: true, matched: "r-orders"},
		{name: "claims: request resolved none", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}})), resource: orders, scopes: []string{"read"}, want: false, matched: "r-orders", reason: "other claim values"},
		{name: "claims: request values granted", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50", "100"}})), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"amount": {"50"}}, want: true, matched: "r-orders"},
		{name: "claims: request value not granted", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}})), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"amount": {"200"}}, want: false, matched: "r-orders"},
		{name: "claims: request list empty", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}})), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"amount": {}}, want: false},
		{name: "claims: request lacks a granted claim", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}, "cur": {"EUR"}})), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"amount": {"50"}}, want: false},
		{name: "claims: empty permission claims need request claims", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{})), resource: orders, scopes: []string{"read"}, want: false},
		{name: "claims: empty permission claims with request claims", token: claimsWith(withClaims(perm("r-orders", "Orders", "read"), map[string][]string{})), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"x": {"1"}}, want: true, matched: "r-orders"},
		{name: "first match decides: claims mismatch denies despite a later match", token: claimsWith(
			withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}}),
			withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"200"}}),
		), resource: orders, scopes: []string{"read"}, claims: map[string][]string{"amount": {"200"}}, want: false, matched: "r-orders"},
		{name: "first match skips permissions with unsatisfied scopes", token: claimsWith(perm("r-orders", "Orders", "write"), perm("r-orders", "Orders", "read")), resource: orders, scopes: []string{"read"}, want: true, matched: "r-orders"},
		{name: "earlier scope-only permission wins over a claims mismatch", token: claimsWith(
			perm("", "", "read"),
			withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}}),
		), resource: orders, scopes: []string{"read"}, want: true, matched: "scope:read"},
		{name: "later scope-only permission loses to a claims mismatch", token: claimsWith(
			withClaims(perm("r-orders", "Orders", "read"), map[string][]string{"amount": {"50"}}),
			perm("", "", "read"),
		), resource: orders, scopes: []string{"read"}, want: false, matched: "r-orders"},
		{name: "permissive: no permission for the resource", token: claimsWith(perm("r-other", "Other")), resource: orders, scopes: []string{"read"}, enforce: policies.Permissive, want: true},
		{name: "permissive: permission with wrong scopes", token: claimsWith(perm("r-orders", "Orders", "write")), resource: orders, scopes: []string{"read"}, enforce: policies.Permissive, want: false},
		{name: "permissive: unsatisfied scope-only permission", token: claimsWith(perm("", "", "write")), resource: orders, scopes: []string{"read"}, enforce: policies.Permissive, want: true},
		{name: "enforcing: no permission", token: claimsWith(perm("r-other", "Other")), resource: orders, scopes: []string{"read"}, enforce: policies.Enforcing, want: false},
		{name: "path without resource id: permissive", token: claimsWith(perm("r-orders", "Orders")), resource: policies.Resource{}, enforce: policies.Permissive, want: true},
		{name: "path without resource id: enforcing", token: claimsWith(perm("r-orders", "Orders")), resource: policies.Resource{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := policies.Input{
				Resource:        tt.resource,
				RequiredScopes:  tt.scopes,
				ScopesMode:      tt.mode,
				EnforcementMode: tt.enforce,
				Claims:          tt.claims,
				Request:         policies.Request{Method: "GET", Path: "/orders/7"},
			}
			if tt.token != nil {
				tv, err := policies.NewTokenValue(tt.token)
				require.NoError(t, err)
				in.Token = tv
			}
			d, err := e.Evaluate(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Allow)
			assert.Equal(t, e.Revision(), d.Revision)
			if tt.want {
				assert.Empty(t, d.Reasons)
			} else {
				assert.NotEmpty(t, d.Reasons)
			}
			if tt.reason != "" {
				assert.Contains(t, joinReasons(d.Reasons), tt.reason)
			}
			if tt.want || tt.matched != "" {
				assert.Equal(t, tt.matched, matchedLabel(d.MatchedPermission), "matched permission")
			}

			x, err := e.EvaluateExplain(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, x.Allow, "explain allow")
			assert.Equal(t, matchedLabel(d.MatchedPermission), matchedLabel(x.MatchedPermission), "Go and Rego matched permission")
			assert.NotEmpty(t, x.Trace)
		})
	}
}

func matchedLabel(p *rpt.Permission) string {
	switch {
	case p == nil:
		return ""
	case p.ResourceID == "":
		return "scope:" + p.Scopes[0]
	default:
		return p.ResourceID
	}
}

func joinReasons(rs []string) string {
	s := ""
	for _, r := range rs {
		s += r + "\n"
	}
	return s
}

func TestExpiredPermissionGrantsNothing(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := newEngine(t, policies.WithClock(func() time.Time { return now }))
	expired := perm("r-orders", "Orders", "read")
	expired.ExpiresAt = now.Add(-time.Second)
	valid := perm("r-orders", "Orders", "read")
	valid.ExpiresAt = now.Add(time.Hour)
	in := policies.Input{Resource: policies.Resource{ID: "r-orders"}, RequiredScopes: []string{"read"}}

	in.Token = tokenWith(t, expired)
	d, err := e.Evaluate(context.Background(), in)
	require.NoError(t, err)
	assert.False(t, d.Allow)

	in.Token = tokenWith(t, expired, valid)
	d, err = e.Evaluate(context.Background(), in)
	require.NoError(t, err)
	assert.True(t, d.Allow)
	require.NotNil(t, d.MatchedPermission)
	assert.Equal(t, valid.ExpiresAt, d.MatchedPermission.ExpiresAt)
}
