package policies

import (
	"github.com/rptguard/rptguard/rpt"
)

// Decision is the answer to an [Input]. The zero Decision denies.
type Decision struct {
	// Allow is true only when the built-in Keycloak decision grants, no user
	// deny rule fired, and the path's named rule (if any) holds.
	Allow bool
	// Reasons explain a deny (sorted, never empty on deny): built-in reasons
	// name resources and rules, user reasons are what user deny rules
	// produced. Empty on allow. Reasons never quote token claims unless a
	// user rule puts them there.
	Reasons []string
	// MatchedPermission is the permission Keycloak's algorithm selected: the
	// first (token order) on the path's resource, or scope-only, whose scopes
	// satisfy the request. Nil when none did (a Permissive grant, or a deny
	// for lack of permissions). It may be set on a deny (claims mismatch, a
	// user rule). It points into the token's permissions: read-only.
	MatchedPermission *rpt.Permission
	// Revision identifies the policy set that decided ([Engine.Revision]).
	Revision string
	// Trace is the evaluation trace, set only by [Engine.EvaluateExplain].
	// It can contain token claims and request data: show it to operators,
	// never to clients.
	Trace string
}

// matchPermission mirrors the built-in matched_permission (Keycloak's first
// matching permission) in Go, for the allow path, which queries only the
// boolean. Tests check that both agree.
func matchPermission(in *Input, perms []rpt.Permission) *rpt.Permission {
	if in.PermissionsSource == PermissionsOffline {
		return nil
	}
	for i := range perms {
		p := &perms[i]
		if p.ResourceID != "" && (in.Resource.ID == "" || p.ResourceID != in.Resource.ID) {
			continue
		}
		if scopesSatisfied(in, p.Scopes) {
			return p
		}
	}
	return nil
}

// scopesSatisfied mirrors rptguard.keycloak.scopes_satisfied.
func scopesSatisfied(in *Input, granted []string) bool {
	if len(granted) == 0 {
		return true
	}
	switch in.ScopesMode {
	case ScopesAny:
		if len(in.RequiredScopes) == 0 {
			return true
		}
		for _, s := range in.RequiredScopes {
			for _, g := range granted {
				if s == g {
					return true
				}
			}
		}
		return false
	case ScopesDisabled:
		return len(in.RequiredScopes) == 0
	default:
		for _, s := range in.RequiredScopes {
			found := false
			for _, g := range granted {
				if s == g {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
}
