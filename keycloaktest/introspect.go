package keycloaktest

import (
	"net/http"
)

func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
		return
	}
	// Keycloak's TokenIntrospectionEndpoint turns every client
	// authentication failure (assertions included) into this answer.
	cl, _, e := s.clientAuth(r)
	if e != nil {
		writeError(w, http.StatusUnauthorized, "invalid_request", "Authentication failed.")
		return
	}
	if cl.Public {
		writeError(w, http.StatusForbidden, "invalid_request", "Client not allowed.")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Token not provided.")
		return
	}
	hint := r.PostForm.Get("token_type_hint")
	switch hint {
	case "", "access_token", "refresh_token", "id_token", "requesting_party_token":
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "Unsupported token type ["+hint+"].")
		return
	}
	c, err := s.activeClaims(token)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	if hint == "requesting_party_token" {
		writeJSON(w, http.StatusOK, rptIntrospection(c))
		return
	}
	out := make(map[string]any, len(c)+4)
	for k, v := range c {
		out[k] = v
	}
	if azp := str(c["azp"]); azp != "" {
		out["client_id"] = azp
	}
	if u := str(c["preferred_username"]); u != "" {
		out["username"] = u
	}
	if typ := str(c["typ"]); typ != "" {
		out["token_type"] = typ
	}
	out["active"] = true
	writeJSON(w, http.StatusOK, out)
}

// rptIntrospection is Keycloak's RPTIntrospectionProvider answer (SPEC §4.3).
func rptIntrospection(c map[string]any) map[string]any {
	out := map[string]any{"active": true}
	for _, k := range []string{"jti", "acr", "typ", "exp", "iat", "nbf", "aud"} {
		if v, ok := c[k]; ok && v != nil {
			out[k] = v
		}
	}
	perms, ok := permissionsFromClaims(c)
	if !ok {
		return out
	}
	list := make([]map[string]any, 0, len(perms))
	for _, p := range perms {
		m := map[string]any{}
		if p.ResourceID != "" {
			m["rsid"] = p.ResourceID
			m["resource_id"] = p.ResourceID
		}
		if p.ResourceName != "" {
			m["rsname"] = p.ResourceName
		}
		if len(p.Scopes) > 0 {
			m["scopes"] = p.Scopes
			m["resource_scopes"] = p.Scopes
		} else {
			m["resource_scopes"] = []string{}
		}
		list = append(list, m)
	}
	out["permissions"] = list
	return out
}
