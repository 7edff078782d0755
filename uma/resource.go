package uma

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Resource is Keycloak's ResourceRepresentation as the Protection API
// resource_set endpoint exchanges it (SPEC §6.3).
//
// Decoding accepts both spellings Keycloak uses: "uris" or the legacy
// "uri" string; "resource_scopes" or "scopes", each an array of {"name": …}
// objects or of plain names; "owner" as an object {"id","name"} or an id
// string. Encoding writes "uris", "resource_scopes" and an owner object.
// Empty and blank URIs are dropped on decode, as Keycloak does on input.
type Resource struct {
	ID                 string              `json:"_id,omitempty"`
	Name               string              `json:"name"`
	DisplayName        string              `json:"displayName,omitempty"`
	Type               string              `json:"type,omitempty"`
	URIs               []string            `json:"uris,omitempty"`
	Scopes             []Scope             `json:"resource_scopes,omitempty"`
	IconURI            string              `json:"icon_uri,omitempty"`
	Owner              *Owner              `json:"owner,omitempty"`
	OwnerManagedAccess bool                `json:"ownerManagedAccess"`
	Attributes         map[string][]string `json:"attributes,omitempty"`
}

// Scope is a scope of a resource. Only Name is required.
type Scope struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	IconURI     string `json:"iconUri,omitempty"`
}

// UnmarshalJSON accepts a scope object or a plain scope name.
func (s *Scope) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		*s = Scope{Name: name}
		return nil
	}
	type plain Scope
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = Scope(p)
	return nil
}

// Owner is a resource owner: a user or the resource-server client. On
// input Keycloak accepts an id (or, for search, a client_id or username).
type Owner struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// UnmarshalJSON accepts an owner object or an id string.
func (o *Owner) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var id string
		if err := json.Unmarshal(b, &id); err != nil {
			return err
		}
		*o = Owner{ID: id}
		return nil
	}
	type plain Owner
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*o = Owner(p)
	return nil
}

// ScopeNames returns the names of r's scopes.
func (r *Resource) ScopeNames() []string {
	out := make([]string, 0, len(r.Scopes))
	for _, s := range r.Scopes {
		out = append(out, s.Name)
	}
	return out
}

// UnmarshalJSON implements the lenient decoding described on [Resource].
func (r *Resource) UnmarshalJSON(b []byte) error {
	var w struct {
		ID                 string              `json:"_id"`
		Name               string              `json:"name"`
		DisplayName        string              `json:"displayName"`
		Type               string              `json:"type"`
		URIs               []string            `json:"uris"`
		URI                *string             `json:"uri"`
		Scopes             []Scope             `json:"scopes"`
		ResourceScopes     []Scope             `json:"resource_scopes"`
		IconURI            string              `json:"icon_uri"`
		Owner              *Owner              `json:"owner"`
		OwnerManagedAccess bool                `json:"ownerManagedAccess"`
		Attributes         map[string][]string `json:"attributes"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Resource{
		ID: w.ID, Name: w.Name, DisplayName: w.DisplayName, Type: strings.TrimSpace(w.Type),
		IconURI: w.IconURI, Owner: w.Owner, OwnerManagedAccess: w.OwnerManagedAccess, Attributes: w.Attributes,
	}
	uris := w.URIs
	if len(uris) == 0 && w.URI != nil {
		uris = []string{*w.URI}
	}
	for _, u := range uris {
		if strings.TrimSpace(u) != "" {
			r.URIs = append(r.URIs, u)
		}
	}
	r.Scopes = w.ResourceScopes
	if len(r.Scopes) == 0 {
		r.Scopes = w.Scopes
	}
	return nil
}

// PermissionRequest is one entry of a permission-ticket request (SPEC §6.4):
// a resource (id or name) and the scopes wanted, plus claims the resource
// server pushes into the ticket. A scope-only entry (ResourceID empty) must
// name scopes.
type PermissionRequest struct {
	ResourceID string              `json:"resource_id,omitempty"`
	Scopes     []string            `json:"resource_scopes,omitempty"`
	Claims     map[string][]string `json:"claims,omitempty"`
}
