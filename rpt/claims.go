package rpt

import "time"

// Permission is one entry of an RPT's authorization.permissions claim, as
// Keycloak issues it ({"rsid","rsname","scopes","claims"}), or of an RFC 7662
// introspection response's permissions array (UMA aliases resource_id and
// resource_scopes are folded into the same fields).
//
// A permission without ResourceID is a scope-only grant. Empty Scopes on a
// permission with a ResourceID is a resource-level grant (every scope).
type Permission struct {
	ResourceID   string              `json:"rsid,omitempty"`
	ResourceName string              `json:"rsname,omitempty"`
	Scopes       []string            `json:"scopes,omitempty"`
	Claims       map[string][]string `json:"claims,omitempty"`
	// ExpiresAt is the permission's own exp (UMA FedAuthz 2.0), zero if absent.
	// An expired permission grants nothing even while the token is valid.
	ExpiresAt time.Time `json:"-"`
}

// Authorization is the RPT's "authorization" claim. Its presence (a non-nil
// *Authorization in [Claims]) is what makes a token an RPT.
type Authorization struct {
	Permissions []Permission `json:"permissions,omitempty"`
}

// Claims are the verified claims of an access token or RPT. Values are
// populated only after every check passed; a *Claims is never returned
// together with an error. Claims are read-only once returned and may be
// shared between goroutines (they are cached).
type Claims struct {
	Issuer            string              // iss
	Subject           string              // sub
	Audience          []string            // aud, normalized to a list
	ExpiresAt         time.Time           // exp
	IssuedAt          time.Time           // iat
	NotBefore         time.Time           // nbf (zero if absent)
	ID                string              // jti
	Type              string              // Keycloak "typ" claim: Bearer, ID, Refresh…
	AuthorizedParty   string              // azp
	SessionID         string              // sid
	Scope             string              // space-separated OAuth scopes
	PreferredUsername string              // preferred_username
	RealmRoles        []string            // realm_access.roles
	ResourceRoles     map[string][]string // resource_access.<client>.roles
	Groups            []string            // groups (when a mapper adds them)
	// Authorization is nil unless the token carries an "authorization" claim.
	Authorization *Authorization
	// Raw holds every claim as decoded from JSON (numbers as json.Number), for
	// policies that need claims this struct does not name. Treat as read-only.
	Raw map[string]any
}

// Permissions returns the RPT's permissions, or nil for a plain access token.
func (c *Claims) Permissions() []Permission {
	if c == nil || c.Authorization == nil {
		return nil
	}
	return c.Authorization.Permissions
}

// Active reports whether the permission still grants anything at now: false
// once its own exp (UMA FedAuthz 2.0 per-permission expiry) has passed.
func (p Permission) Active(now time.Time) bool {
	return p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt)
}
