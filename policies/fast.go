package policies

import (
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/rptguard/rptguard/rpt"
)

// The allow fast path.
//
// Evaluating data.rptguard.authz.allow costs tens of microseconds of OPA
// evaluation, most of it in the built-in Keycloak part (keycloak_granted:
// candidate permissions, scopes, claims), which depends on the input alone.
// The engine computes that part in Go instead, on the token's permissions
// indexed by resource ([TokenValue]), and consults Rego only for what can
// differ: the user's deny rules and the path's named rule, and only when
// some module or data document defines data under rptguard.user or
// rptguard.rules (compiled.noUserRules), with one prepared query per rule
// name (compiled.userQueryFor). Without user rules an allow costs no OPA
// evaluation at all; a deny always goes through Rego (the decision
// object), so its reasons are Rego's.
//
// keycloakGranted mirrors, rule for rule, keycloak_granted of
// rego/authz.rego for input.permissions_source "token" (with the helpers
// scopes_satisfied and claims_valid of rego/keycloak.rego). Offline
// permissions and any input the Go side does not recognise take the Rego
// path. TestKeycloakIsAuthorized and TestFastPathAgreesWithRego check that
// both sides agree.

// fastEligible reports whether in can be decided by the fast path: a
// permission source, modes and rule name that the input builder accepts and
// that keycloakGranted mirrors. Anything else goes to [Input.value], which
// reports invalid input.
func fastEligible(in *Input) bool {
	switch in.ScopesMode {
	case "", ScopesAll, ScopesAny, ScopesDisabled:
	default:
		return false
	}
	switch in.EnforcementMode {
	case "", Enforcing, Permissive, Disabled:
	default:
		return false
	}
	if in.PermissionsSource != "" && in.PermissionsSource != PermissionsToken {
		return false
	}
	return in.Rule == "" || validRuleName(in.Rule)
}

// keycloakGranted is data.rptguard.authz.keycloak_granted for the token
// source, and the permission Keycloak's algorithm matched (as
// matched_permission; nil when none). Permissions whose own exp has passed
// (by clock, read only when some permission has an exp) are ignored, as
// [Input.value] drops them.
func keycloakGranted(in *Input, clock func() time.Time) (bool, *rpt.Permission) {
	t := in.Token
	if t == nil || !t.hasAuthz { // input.has_authorization
		return false, nil
	}
	var now time.Time
	expiring := !t.earliestExp.IsZero()
	if expiring {
		if now = clock(); now.Before(t.earliestExp) {
			expiring = false
		}
	}
	live := func(i int32) bool {
		e := t.perms[i].ExpiresAt
		return !expiring || e.IsZero() || now.Before(e)
	}
	// matched_permission: the smallest index among the permissions on the
	// resource and the scope-only ones whose scopes satisfy the request.
	// Both lists are in token order, so the first satisfying entry of each
	// is its minimum.
	first := func(i int32) int32 {
		for ; i >= 0; i = t.next[i] {
			if live(i) && scopesSatisfied(in, t.perms[i].Scopes) {
				return i
			}
		}
		return -1
	}
	m := first(t.head(in.Resource.ID))
	if s := first(t.headScope); s >= 0 && (m < 0 || s < m) {
		m = s
	}
	if m >= 0 {
		p := &t.perms[m]
		return p.ResourceID == "" || claimsValid(in, p), p
	}
	// The PERMISSIVE fallback: no (live) permission on the resource or on
	// its parent (resource_has_permission).
	if in.EnforcementMode != Permissive {
		return false, nil
	}
	for _, id := range [2]string{in.Resource.ID, in.Resource.ParentID} {
		for i := t.head(id); i >= 0; i = t.next[i] {
			if live(i) {
				return false, nil
			}
		}
	}
	return true, nil
}

// head is the first permission on resource id, -1 if none (or id is "").
func (t *TokenValue) head(id string) int32 {
	if id == "" {
		return -1
	}
	if i, ok := t.headByID[id]; ok {
		return i
	}
	return -1
}

// claimsValid mirrors rptguard.keycloak.claims_valid (Keycloak's
// hasValidClaims): a permission without claims is valid; otherwise the
// request must carry claims, and for every claim of the permission the
// request's values must be non-empty and all granted. A non-nil empty claims
// map is present (an empty object) and still needs request claims.
func claimsValid(in *Input, p *rpt.Permission) bool {
	if p.Claims == nil {
		return true
	}
	if len(in.Claims) == 0 {
		return false
	}
	for name, granted := range p.Claims {
		values := in.Claims[name]
		if len(values) == 0 {
			return false
		}
		for _, v := range values {
			found := false
			for _, g := range granted {
				if v == g {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// The offline fast path.
//
// For input.permissions_source "offline" with no user rules loaded
// (compiled.noUserRules) and no rule named, allow is keycloak_granted, whose
// two offline bodies read only data.rptguard.offline.permission, the
// enforcement mode and the scopes: the engine evaluates that one rule
// (offlineQuery) and does the scope check in Go. Everything else (user
// rules, a named rule, a permission of unexpected shape) takes the allow
// query. TestOfflineFastPathAgreesWithRego checks both sides agree.

// offlineFastEligible reports whether in, an input [Input.value] accepted,
// can be decided by the offline fast path on set.
func offlineFastEligible(set *compiled, in *Input) bool {
	return in.PermissionsSource == PermissionsOffline && set.noUserRules && !set.builtinOnly && in.Rule == ""
}

// offlineGranted is keycloak_granted for the offline source from the
// results of offlineQuery. ok is false when the permission has a shape the
// Go side does not mirror (then the caller asks Rego).
//
//	keycloak_granted if { _offline; keycloak.scopes_satisfied(data.rptguard.offline.permission.scopes) }
//	keycloak_granted if { _offline; input.enforcement_mode == "PERMISSIVE"; not data.rptguard.offline.permission }
//
// No result means the permission is undefined or false (a query that is a
// lone false term fails): not data.rptguard.offline.permission then holds,
// and false.scopes is undefined.
func offlineGranted(in *Input, rs rego.ResultSet) (granted, ok bool) {
	if len(rs) == 0 {
		return in.EnforcementMode == Permissive, true
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return false, false
	}
	p, isObj := rs[0].Expressions[0].Value.(map[string]any)
	if !isObj {
		return false, false
	}
	scopes, has := p["scopes"]
	if !has {
		// scopes_satisfied(undefined) is undefined; the permission is an
		// object, so the PERMISSIVE body does not hold either.
		return false, true
	}
	list, isList := scopes.([]any) // an array, or a set converted to one
	if !isList {
		return false, false
	}
	return scopesSatisfiedValues(in, list), true
}

// scopesSatisfiedValues is scopesSatisfied for scopes of any JSON type, as
// Rego sees them: count counts every element, and only string elements can
// equal a required scope.
func scopesSatisfiedValues(in *Input, granted []any) bool {
	if len(granted) == 0 {
		return true
	}
	has := func(s string) bool {
		for _, g := range granted {
			if gs, ok := g.(string); ok && gs == s {
				return true
			}
		}
		return false
	}
	switch in.ScopesMode {
	case "", ScopesAll:
		for _, s := range in.RequiredScopes {
			if !has(s) {
				return false
			}
		}
		return true
	case ScopesAny:
		if len(in.RequiredScopes) == 0 {
			return true
		}
		for _, s := range in.RequiredScopes {
			if has(s) {
				return true
			}
		}
		return false
	case ScopesDisabled:
		return len(in.RequiredScopes) == 0
	}
	return false
}
