package uma

import (
	"context"
	"net/http"
)

// MaxTicketPermissions caps the entries of one permission-ticket request.
const MaxTicketPermissions = 256

// CreateTicket asks the permission endpoint (SPEC §6.4) for a permission
// ticket covering perms, authenticating with the PAT. Each entry names a
// resource (id or name) and/or scopes; claims are pushed into the ticket.
//
// Errors: an [*Error] matching ErrInvalidResourceID, ErrInvalidScope or
// ErrInvalidRequest for 400 answers, ErrUnavailable for transport failures,
// 5xx and malformed answers. The ticket expires with the PAT.
func (c *Client) CreateTicket(ctx context.Context, perms []PermissionRequest) (string, error) {
	if c.ep.Permission == "" {
		return "", invalidRequest("no permission endpoint configured")
	}
	if len(perms) == 0 || len(perms) > MaxTicketPermissions {
		return "", invalidRequest("ticket needs 1 to 256 permissions")
	}
	for _, p := range perms {
		if p.ResourceID == "" && len(p.Scopes) == 0 {
			return "", invalidRequest("scope-only permission needs scopes")
		}
	}
	resp, err := c.protected(ctx, request{
		endpoint: "permission", method: http.MethodPost, url: c.ep.Permission, jsonBody: perms,
	})
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusCreated && resp.status != http.StatusOK {
		return "", statusError("permission", resp)
	}
	ticket, err := decodeTicket(resp.body)
	if err != nil {
		return "", malformed("permission", "ticket response")
	}
	return ticket, nil
}

// decodeTicket parses {"ticket": "<token>"}; the ticket must be a printable
// string without spaces of bounded length.
func decodeTicket(body []byte) (string, error) {
	var w struct {
		Ticket string `json:"ticket"`
	}
	if err := decodeObject(body, &w); err != nil {
		return "", err
	}
	t := w.Ticket
	if t == "" || len(t) > maxTokenBytes {
		return "", errBadField
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '"' || t[i] == '\\' {
			return "", errBadField
		}
	}
	return t, nil
}

// Challenge creates a permission ticket for perms and returns the
// WWW-Authenticate value an enforcer sends with 401, exactly as Keycloak
// renders it: UMA realm="<realm>",as_uri="<issuer>",ticket="<ticket>".
func (c *Client) Challenge(ctx context.Context, perms []PermissionRequest) (string, error) {
	t, err := c.CreateTicket(ctx, perms)
	if err != nil {
		return "", err
	}
	return BuildChallenge(c.cfg.Realm, c.ep.Issuer, t)
}
