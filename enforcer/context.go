package enforcer

import (
	"context"
	"slices"
	"strings"

	"github.com/rptguard/rptguard/rpt"
)

// AuthorizationContext is what the enforcer knows about an allowed request. The
// middleware puts it into the request context; handlers read it with
// [FromContext]. It mirrors Keycloak's AuthorizationContext (isGranted,
// getPermissions, hasPermission, hasResourcePermission, hasScopePermission).
//
// An AuthorizationContext is immutable and safe for concurrent use.
type AuthorizationContext struct {
	granted     bool
	claims      *rpt.Claims
	permissions []rpt.Permission
	template    string
	resource    Resource
	scopes      []string
	// empty marks Keycloak's "empty context" (DISABLED enforcement, a DISABLED
	// path, scopes-enforcement-mode DISABLED): every Has… answers granted.
	empty bool
}

// Resource identifies the protected resource a request was matched to.
type Resource struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Granted reports whether the request was allowed.
func (a *AuthorizationContext) Granted() bool { return a != nil && a.granted }

// Claims returns the verified claims of the token (or of the RPT obtained for
// the request), or nil for an anonymous request on an unprotected path.
func (a *AuthorizationContext) Claims() *rpt.Claims {
	if a == nil {
		return nil
	}
	return a.claims
}

// Permissions returns the permissions of the token or RPT the decision was
// made with. The slice must not be modified.
func (a *AuthorizationContext) Permissions() []rpt.Permission {
	if a == nil {
		return nil
	}
	return a.permissions
}

// Template returns the configured path template the request matched ("" if none).
func (a *AuthorizationContext) Template() string {
	if a == nil {
		return ""
	}
	return a.template
}

// Resource returns the resource the request's path is bound to.
func (a *AuthorizationContext) Resource() Resource {
	if a == nil {
		return Resource{}
	}
	return a.resource
}

// RequiredScopes returns the scopes the request needed.
func (a *AuthorizationContext) RequiredScopes() []string {
	if a == nil {
		return nil
	}
	return a.scopes
}

// HasPermission reports whether some permission names resource (by name or id,
// compared case-insensitively, as Keycloak does) and, when scope is not empty,
// contains scope (exact case). With an empty scope it is also true when the
// matched path is bound to a resource of that name (case-sensitive).
func (a *AuthorizationContext) HasPermission(resource, scope string) bool {
	if a == nil {
		return false
	}
	if a.empty {
		return a.granted
	}
	for _, p := range a.permissions {
		if !strings.EqualFold(p.ResourceName, resource) && !strings.EqualFold(p.ResourceID, resource) {
			continue
		}
		if scope == "" || slices.Contains(p.Scopes, scope) {
			return true
		}
	}
	return scope == "" && a.resource.Name != "" && a.resource.Name == resource
}

// HasResourcePermission is HasPermission(resource, "").
func (a *AuthorizationContext) HasResourcePermission(resource string) bool {
	return a.HasPermission(resource, "")
}

// HasScopePermission reports whether any permission contains scope.
func (a *AuthorizationContext) HasScopePermission(scope string) bool {
	if a == nil {
		return false
	}
	if a.empty {
		return a.granted
	}
	for _, p := range a.permissions {
		if slices.Contains(p.Scopes, scope) {
			return true
		}
	}
	return false
}

type contextKey struct{}

// FromContext returns the AuthorizationContext the middleware stored for an
// allowed request.
func FromContext(ctx context.Context) (*AuthorizationContext, bool) {
	a, ok := ctx.Value(contextKey{}).(*AuthorizationContext)
	return a, ok && a != nil
}

// NewContext returns a copy of ctx carrying a. It is exported for tests of
// handlers that read [FromContext].
func NewContext(ctx context.Context, a *AuthorizationContext) context.Context {
	return context.WithValue(ctx, contextKey{}, a)
}
