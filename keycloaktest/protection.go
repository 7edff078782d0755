package keycloaktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// protectionAuth authenticates a Protection API call by its PAT. Keycloak
// answers 403 for a missing or inactive token (which is what makes its Java
// client re-fetch the PAT), 403 invalid_clientId when the token's client is
// not a resource server, and 403 invalid_scope without uma_protection.
func (s *Server) protectionAuth(w http.ResponseWriter, r *http.Request, needProtection bool) (map[string]any, bool) {
	tok := bearerToken(r)
	c, err := s.activeClaims(tok)
	if tok == "" || err != nil {
		writeError(w, http.StatusForbidden, "invalid_bearer_token", "Could not obtain bearer access_token from request.")
		return nil, false
	}
	if azp := str(c["azp"]); azp != s.cfg.rsID {
		writeError(w, http.StatusForbidden, "invalid_clientId", "Client application ["+azp+"] is not registered as a resource server.")
		return nil, false
	}
	if needProtection && !hasClientRole(c, s.cfg.rsID, "uma_protection") {
		writeError(w, http.StatusForbidden, "invalid_scope", "Requires uma_protection scope.")
		return nil, false
	}
	return c, true
}

func hasClientRole(c map[string]any, clientID, role string) bool {
	ra, _ := c["resource_access"].(map[string]any)
	entry, _ := ra[clientID].(map[string]any)
	return slices.Contains(strs(entry["roles"]), role)
}

// permissionRequest is one entry of a permission endpoint request.
type permissionRequest struct {
	ResourceID       string                     `json:"resource_id"`
	ResourceServerID string                     `json:"resource_server_id"`
	ResourceScopes   []string                   `json:"resource_scopes"`
	Claims           map[string]json.RawMessage `json:"claims"`
}

func (s *Server) handlePermission(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	pat, ok := s.protectionAuth(w, r, false)
	if !ok {
		return
	}
	body, _ := io.ReadAll(r.Body)
	body = bytes.TrimSpace(body)
	var reqs []permissionRequest
	var err error
	if len(body) > 0 && body[0] == '{' {
		var one permissionRequest
		err = json.Unmarshal(body, &one)
		reqs = []permissionRequest{one}
	} else {
		err = json.Unmarshal(body, &reqs)
	}
	if len(body) == 0 || err != nil || len(reqs) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_permission_request", "Invalid permission request")
		return
	}
	known := s.knownScopes()
	var perms []RequestedPermission
	claims := map[string][]string{}
	for _, pr := range reqs {
		if pr.ResourceID == "" {
			if len(pr.ResourceScopes) == 0 {
				writeError(w, http.StatusBadRequest, "invalid_resource_id", "Resource id or name not provided.")
				return
			}
			for _, sc := range pr.ResourceScopes {
				if !slices.Contains(known, sc) {
					writeError(w, http.StatusBadRequest, "invalid_scope", "Scope ["+sc+"] is invalid")
					return
				}
			}
			perms = append(perms, RequestedPermission{Scopes: slices.Clone(pr.ResourceScopes)})
		} else {
			res := s.resourceForTicket(pr.ResourceID)
			if res == nil {
				writeError(w, http.StatusBadRequest, "invalid_resource_id", "Resource set with id ["+pr.ResourceID+"] does not exists in this server.")
				return
			}
			scopes := pr.ResourceScopes
			for _, sc := range scopes {
				if !slices.Contains(res.Scopes, sc) {
					writeError(w, http.StatusBadRequest, "invalid_scope", "Scope ["+sc+"] is invalid")
					return
				}
			}
			if len(scopes) == 0 {
				scopes = res.Scopes
			}
			perms = append(perms, RequestedPermission{ResourceID: res.ID, Scopes: slices.Clone(scopes)})
		}
		for name, raw := range pr.Claims {
			var v any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&v) != nil {
				continue
			}
			claims[name] = appendUnique(claims[name], strs(scalarList(v))...)
		}
	}
	tok, err := s.sign(s.ticketClaims(pat, perms, claims))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "Signing failed")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"ticket": tok})
}

// resourceForTicket finds a resource by id, then by name (resource server's
// own first).
func (s *Server) resourceForTicket(ref string) *resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.resourceByIDLocked(ref); r != nil {
		cp := *r
		return &cp
	}
	var fallback *resource
	for _, r := range s.resources {
		if r.Name == ref {
			if r.ownerIsRS {
				cp := *r
				return &cp
			}
			if fallback == nil {
				cp := *r
				fallback = &cp
			}
		}
	}
	return fallback
}

// resourceIn is a ResourceRepresentation as clients send it.
type resourceIn struct {
	ID                 string              `json:"_id"`
	Name               string              `json:"name"`
	DisplayName        string              `json:"displayName"`
	Type               string              `json:"type"`
	URI                string              `json:"uri"`
	URIs               []string            `json:"uris"`
	Scopes             []json.RawMessage   `json:"scopes"`
	ResourceScopes     []json.RawMessage   `json:"resource_scopes"`
	IconURI            string              `json:"icon_uri"`
	Owner              json.RawMessage     `json:"owner"`
	OwnerManagedAccess bool                `json:"ownerManagedAccess"`
	Attributes         map[string][]string `json:"attributes"`
}

func (in *resourceIn) toResource() (Resource, bool) {
	r := Resource{ID: in.ID, Name: in.Name, DisplayName: in.DisplayName, Type: strings.TrimSpace(in.Type),
		URIs: in.URIs, IconURI: in.IconURI, OwnerManagedAccess: in.OwnerManagedAccess, Attributes: in.Attributes}
	if in.URI != "" {
		r.URIs = append([]string{in.URI}, r.URIs...)
	}
	for _, raw := range append(slices.Clone(in.Scopes), in.ResourceScopes...) {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			var obj struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(raw, &obj) != nil {
				return r, false
			}
			name = obj.Name
		}
		if name != "" {
			r.Scopes = append(r.Scopes, name)
		}
	}
	if len(in.Owner) > 0 && string(in.Owner) != "null" {
		if json.Unmarshal(in.Owner, &r.Owner) != nil {
			var obj struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			if json.Unmarshal(in.Owner, &obj) != nil {
				return r, false
			}
			r.Owner = obj.ID
			if r.Owner == "" {
				r.Owner = obj.Name
			}
		}
	}
	return r, true
}

// resourceJSONLocked renders a resource; scopesKey is "resource_scopes"
// (single get, create) or "scopes" (deep search).
func (s *Server) resourceJSONLocked(r *resource, scopesKey string) map[string]any {
	scopes := make([]map[string]string, 0, len(r.Scopes))
	for _, sc := range r.Scopes {
		scopes = append(scopes, map[string]string{"id": derivedID(s.cfg.realm, "scope", sc), "name": sc})
	}
	m := map[string]any{
		"_id":                r.ID,
		"name":               r.Name,
		"owner":              map[string]string{"id": r.ownerID, "name": r.ownerName},
		"ownerManagedAccess": r.OwnerManagedAccess,
		"uris":               append([]string{}, r.URIs...),
		"attributes":         map[string][]string{},
		scopesKey:            scopes,
	}
	if len(r.Attributes) > 0 {
		m["attributes"] = cloneValues(r.Attributes)
	}
	if r.DisplayName != "" {
		m["displayName"] = r.DisplayName
	}
	if r.Type != "" {
		m["type"] = r.Type
	}
	if r.IconURI != "" {
		m["icon_uri"] = r.IconURI
	}
	return m
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "Resource not found")
}

func (s *Server) handleResourceSet(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := s.protectionAuth(w, r, true); !ok {
		return
	}
	switch {
	case id == "" && r.Method == http.MethodGet:
		s.listResources(w, r)
	case id == "" && r.Method == http.MethodPost:
		s.createResource(w, r)
	case id != "" && r.Method == http.MethodGet:
		s.mu.RLock()
		res := s.resourceByIDLocked(id)
		var out map[string]any
		if res != nil {
			out = s.resourceJSONLocked(res, "resource_scopes")
		}
		s.mu.RUnlock()
		if res == nil {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, out)
	case id != "" && r.Method == http.MethodPut:
		s.updateResource(w, r, id)
	case id != "" && r.Method == http.MethodDelete:
		s.mu.Lock()
		i := slices.IndexFunc(s.resources, func(x *resource) bool { return x.ID == id })
		if i >= 0 {
			s.resources = slices.Delete(s.resources, i, i+1)
		}
		s.mu.Unlock()
		if i < 0 {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case id == "":
		methodNotAllowed(w, http.MethodGet, http.MethodPost)
	default:
		methodNotAllowed(w, http.MethodGet, http.MethodPut, http.MethodDelete)
	}
}

func decodeResource(w http.ResponseWriter, r *http.Request) (Resource, bool) {
	var in resourceIn
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid resource representation")
		return Resource{}, false
	}
	res, ok := in.toResource()
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid resource representation")
		return Resource{}, false
	}
	if strings.TrimSpace(res.Name) == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Name cannot be null")
		return Resource{}, false
	}
	return res, true
}

func (s *Server) createResource(w http.ResponseWriter, r *http.Request) {
	res, ok := decodeResource(w, r)
	if !ok {
		return
	}
	res.ID = "" // the server assigns ids
	s.mu.Lock()
	defer s.mu.Unlock()
	oid, _, _, known := s.resolveOwnerLocked(res.Owner)
	if !known {
		writeError(w, http.StatusBadRequest, "invalid_request", "Could not find the user ["+res.Owner+"] who will own the resource")
		return
	}
	for _, x := range s.resources {
		if x.Name == res.Name && x.ownerID == oid {
			writeError(w, http.StatusConflict, "conflict", "Resource with name ["+res.Name+"] already exists.")
			return
		}
	}
	id, err := s.addResourceLocked(res)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid resource representation")
		return
	}
	writeJSON(w, http.StatusCreated, s.resourceJSONLocked(s.resourceByIDLocked(id), "resource_scopes"))
}

func (s *Server) updateResource(w http.ResponseWriter, r *http.Request, id string) {
	in, ok := decodeResource(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.resourceByIDLocked(id)
	if res == nil {
		notFound(w)
		return
	}
	for _, x := range s.resources {
		if x != res && x.Name == in.Name && x.ownerID == res.ownerID {
			writeError(w, http.StatusConflict, "conflict", "Resource with name ["+in.Name+"] already exists.")
			return
		}
	}
	upd := cloneResource(in)
	res.Name, res.DisplayName, res.Type, res.IconURI = upd.Name, upd.DisplayName, upd.Type, upd.IconURI
	res.URIs, res.Scopes, res.Attributes = upd.URIs, upd.Scopes, upd.Attributes
	res.OwnerManagedAccess = upd.OwnerManagedAccess
	w.WriteHeader(http.StatusNoContent)
}

func intParam(v string, def int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first, ok1 := intParam(q.Get("first"), 0)
	limit, ok2 := intParam(q.Get("max"), 100)
	if !ok1 || !ok2 {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid first or max parameter")
		return
	}
	first = max(first, 0)
	idF, name, uri, owner, typ, scope := q.Get("_id"), q.Get("name"), q.Get("uri"), q.Get("owner"), q.Get("type"), q.Get("scope")
	exactName := strings.EqualFold(q.Get("exactName"), "true")
	matching := strings.EqualFold(q.Get("matchingUri"), "true")
	deep := strings.EqualFold(q.Get("deep"), "true")

	s.mu.RLock()
	defer s.mu.RUnlock()
	ownerID := ""
	if owner != "" {
		id, _, _, known := s.resolveOwnerLocked(owner)
		if !known {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		ownerID = id
	}
	var hits []*resource
	for _, res := range s.resources {
		switch {
		case idF != "" && res.ID != idF,
			name != "" && exactName && res.Name != name,
			name != "" && !exactName && !strings.Contains(strings.ToLower(res.Name), strings.ToLower(name)),
			uri != "" && !slices.Contains(res.URIs, uri),
			ownerID != "" && res.ownerID != ownerID,
			typ != "" && res.Type != typ,
			scope != "" && !slices.Contains(res.Scopes, scope):
			continue
		}
		hits = append(hits, res)
	}
	slices.SortStableFunc(hits, func(a, b *resource) int { return strings.Compare(a.Name, b.Name) })
	if first >= len(hits) {
		hits = nil
	} else {
		hits = hits[first:]
	}
	if limit >= 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	if len(hits) == 0 && matching && uri != "" {
		if m := s.matchURILocked(uri); m != nil {
			hits = []*resource{m}
		}
	}
	if deep {
		out := make([]map[string]any, 0, len(hits))
		for _, res := range hits {
			out = append(out, s.resourceJSONLocked(res, "scopes"))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	ids := make([]string, 0, len(hits))
	for _, res := range hits {
		ids = append(ids, res.ID)
	}
	writeJSON(w, http.StatusOK, ids)
}
