package keycloaktest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rptguard/rptguard/rpt"
)

// Claim token formats of the UMA grant.
const (
	claimFormatJWT     = "urn:ietf:params:oauth:token-type:jwt"
	claimFormatIDToken = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"
)

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// decodeClaimToken decodes a pushed-claims token: Base64 or Base64url (padding
// optional) of a JSON object whose values are strings or arrays of scalars.
func decodeClaimToken(tok string) (map[string][]string, bool) {
	t := strings.TrimRight(strings.TrimSpace(tok), "=")
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(t); err != nil {
			return nil, false
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			continue
		case map[string]any:
			return nil, false
		case []any:
			for _, e := range x {
				if _, isObj := e.(map[string]any); isObj {
					return nil, false
				}
				if _, isArr := e.([]any); isArr {
					return nil, false
				}
			}
		}
		out[k] = strs(scalarList(v))
	}
	return out, true
}

func scalarList(v any) any {
	switch v.(type) {
	case []any:
		return v
	default:
		return []any{v}
	}
}

// umaRequest is the parsed UMA grant.
type umaRequest struct {
	client      *Client
	subject     map[string]any
	pushed      map[string][]string
	ticket      bool
	reqs        []RequestedPermission
	requested   bool // permissions were requested (ticket, permission or scope-only)
	hasRPT      bool
	prev        []rpt.Permission
	mode        string
	includeName bool
	limit       int
}

func (s *Server) grantUMA(r *http.Request) (any, *oauthError) {
	form := r.PostForm
	ur := &umaRequest{includeName: true}

	// Caller identity (SPEC §5.1).
	claimToken, hasClaimToken := form.Get("claim_token"), form.Has("claim_token")
	format := form.Get("claim_token_format")
	if hasClaimToken && format == "" {
		format = claimFormatIDToken // Keycloak's default when a claim_token comes without format
	}
	isIDFormat := strings.EqualFold(format, claimFormatIDToken)
	if bearer := bearerToken(r); bearer != "" {
		c, err := s.activeClaims(bearer)
		if err != nil {
			return nil, oerr(http.StatusUnauthorized, "invalid_grant", "Invalid bearer token")
		}
		s.mu.RLock()
		ur.client = s.clients[str(c["azp"])]
		s.mu.RUnlock()
		if ur.client == nil {
			return nil, oerr(http.StatusUnauthorized, "invalid_grant", "Invalid bearer token")
		}
		ur.subject = c
	} else {
		cl, e := s.requireClient(r)
		if e != nil {
			return nil, e
		}
		ur.client = cl
		var subjectToken string
		switch {
		case isIDFormat && hasClaimToken:
			subjectToken = claimToken
		case form.Has("subject_token"):
			subjectToken = form.Get("subject_token")
		}
		switch {
		case isIDFormat && hasClaimToken:
			c, err := s.activeClaims(subjectToken)
			if err != nil {
				return nil, oerr(http.StatusBadRequest, "unauthorized_client", "Invalid signature")
			}
			ur.subject = c
		case form.Has("subject_token"):
			c, err := s.activeClaims(subjectToken)
			if err != nil {
				return nil, oerr(http.StatusBadRequest, "unauthorized_client", "Invalid identity")
			}
			ur.subject = c
		default:
			if cl.Public {
				return nil, oerr(http.StatusUnauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
			}
			s.mu.RLock()
			ur.subject = s.serviceAccountClaimsLocked(cl)
			s.mu.RUnlock()
		}
	}

	ur.mode = form.Get("response_mode")
	if ur.mode != "" && ur.mode != "decision" && ur.mode != "permissions" {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Invalid response_mode")
	}
	if v := form.Get("response_include_resource_name"); v != "" {
		ur.includeName = !strings.EqualFold(v, "false")
	}
	if v := form.Get("response_permissions_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, oerr(http.StatusBadRequest, "invalid_request", "Invalid response_permissions_limit")
		}
		ur.limit = n
	}

	// Pushed claims (SPEC §5.2 claim_token).
	if format != "" && !isIDFormat && !strings.EqualFold(format, claimFormatJWT) {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Claim token format ["+format+"] not supported")
	}
	ticketRaw := form.Get("ticket")
	if hasClaimToken && !isIDFormat {
		pushed, ok := decodeClaimToken(claimToken)
		if !ok {
			return nil, oerr(http.StatusBadRequest, "invalid_request", "Invalid claims")
		}
		if ur.client.Public && ticketRaw == "" {
			return nil, oerr(http.StatusForbidden, "invalid_grant", "Public clients are not allowed to send claims")
		}
		ur.pushed = pushed
	}

	// Resource server and requested permissions.
	rsID := form.Get("audience")
	if ticketRaw != "" {
		tc, err := s.parseTicket(ticketRaw)
		if err != nil {
			return nil, err
		}
		ur.ticket = true
		rsID = str(tc["azp"])
		ur.reqs = ticketPermissions(tc)
		ur.requested = true
		if cm, ok := tc["claims"].(map[string]any); ok {
			merged := map[string][]string{}
			for k, v := range cm {
				merged[k] = strs(v)
			}
			for k, v := range ur.pushed {
				merged[k] = appendUnique(merged[k], v...)
			}
			ur.pushed = merged
		}
	}
	if rsID == "" {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "You must provide the issuedFor")
	}
	s.mu.RLock()
	rsClient := s.clients[rsID]
	s.mu.RUnlock()
	if rsClient == nil {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Unknown resource server id: ["+rsID+"]")
	}
	if rsID != s.cfg.rsID {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Client does not support permissions")
	}
	if !ur.ticket {
		reqs, e := s.parsePermissionParams(form["permission"], form.Get("permission_resource_format"),
			strings.EqualFold(form.Get("permission_resource_matching_uri"), "true"), str(ur.subject["sub"]))
		if e != nil {
			return nil, e
		}
		ur.reqs = reqs
		ur.requested = len(form["permission"]) > 0
	}
	if extra := strings.Fields(form.Get("scope")); len(extra) > 0 {
		known := s.knownScopes()
		for i := range ur.reqs {
			for _, sc := range extra {
				if slices.Contains(known, sc) {
					ur.reqs[i].Scopes = appendUnique(ur.reqs[i].Scopes, sc)
				}
			}
		}
	}

	// Previous RPT (upgrade).
	if raw := form.Get("rpt"); raw != "" {
		ur.hasRPT = true
		_, err := s.parseToken(raw, true)
		if err != nil && !errors.Is(err, errTokenExpired) {
			return nil, oerr(http.StatusForbidden, "invalid_rpt", "RPT signature is invalid")
		}
		if err == nil {
			if ac, aerr := s.activeClaims(raw); aerr == nil {
				perms, _ := permissionsFromClaims(ac)
				now := s.cfg.now()
				for _, p := range perms {
					if p.ExpiresAt.IsZero() || p.ExpiresAt.After(now) {
						ur.prev = append(ur.prev, p)
					}
				}
			}
		}
	}
	return s.decideUMA(r.Context(), ur, form.Get("submit_request"))
}

func (s *Server) parseTicket(raw string) (map[string]any, *oauthError) {
	tc, err := s.parseToken(raw, false)
	if errors.Is(err, errTokenExpired) {
		return nil, oerr(http.StatusForbidden, "invalid_ticket", "Invalid permission ticket.")
	}
	if err != nil {
		return nil, oerr(http.StatusForbidden, "invalid_ticket", "Ticket verification failed")
	}
	aud := strs(tc["aud"])
	if !slices.Contains(aud, s.Issuer()) {
		return nil, oerr(http.StatusForbidden, "invalid_ticket", "Ticket verification failed")
	}
	if _, ok := tc["permissions"].([]any); !ok {
		return nil, oerr(http.StatusForbidden, "invalid_ticket", "Ticket verification failed")
	}
	s.mu.RLock()
	revoked := s.revoked["sha:"+tokenHash(raw)] || s.revoked["jti:"+str(tc["jti"])]
	s.mu.RUnlock()
	if revoked {
		return nil, oerr(http.StatusForbidden, "invalid_ticket", "Invalid permission ticket.")
	}
	return tc, nil
}

func ticketPermissions(tc map[string]any) []RequestedPermission {
	list, _ := tc["permissions"].([]any)
	var out []RequestedPermission
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, RequestedPermission{ResourceID: str(m["rsid"]), Scopes: strs(m["scopes"])})
	}
	return out
}

// knownScopes lists every scope of the resource server's resources and of
// the loaded authorization settings.
func (s *Server) knownScopes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, r := range s.resources {
		out = appendUnique(out, r.Scopes...)
	}
	if s.authz != nil {
		out = appendUnique(out, s.authz.scopes...) // scopes of the loaded settings
	}
	return out
}

// parsePermissionParams parses repeated permission=RESOURCE#SCOPE1,SCOPE2.
func (s *Server) parsePermissionParams(values []string, format string, matching bool, subjectID string) ([]RequestedPermission, *oauthError) {
	if format != "" && format != "id" && format != "uri" {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Invalid permission_resource_format ["+format+"]")
	}
	known := s.knownScopes()
	var out []RequestedPermission
	for _, v := range values {
		pieces := strings.Split(v, "#")
		ref := pieces[0]
		var scopes []string
		if len(pieces) > 1 {
			for _, sc := range strings.Split(pieces[1], ",") {
				if sc != "" {
					scopes = appendUnique(scopes, sc)
				}
			}
		}
		for _, sc := range scopes {
			if !slices.Contains(known, sc) {
				return nil, oerr(http.StatusBadRequest, "invalid_scope", "One of the given scopes ["+strings.Join(scopes, ", ")+"] is invalid")
			}
		}
		if ref == "" {
			if len(scopes) == 0 {
				if format == "uri" {
					return nil, oerr(http.StatusBadRequest, "invalid_request", "You must provide the uri")
				}
				continue
			}
			out = append(out, RequestedPermission{Scopes: scopes})
			continue
		}
		var ids []string
		if format == "uri" {
			ids = s.resourcesByURI(ref, matching)
			if len(ids) == 0 {
				return nil, oerr(http.StatusBadRequest, "invalid_resource", "Resource with uri ["+ref+"] does not exist.")
			}
		} else {
			ids = s.resolveResourceRef(ref, subjectID)
			if len(ids) == 0 {
				return nil, oerr(http.StatusBadRequest, "invalid_resource", "Resource with id ["+ref+"] does not exist.")
			}
		}
		for _, id := range ids {
			out = append(out, RequestedPermission{ResourceID: id, Scopes: slices.Clone(scopes)})
		}
	}
	return out, nil
}

// resolveResourceRef resolves a permission's RESOURCE in id format: an id,
// a resource-type…: prefix, or a name (the requester's own resource first,
// then the resource server's).
func (s *Server) resolveResourceRef(ref, subjectID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.resourceByIDLocked(ref); r != nil {
		return []string{r.ID}
	}
	var out []string
	typed := func(typ string, keep func(*resource) bool) []string {
		for _, r := range s.resources {
			if r.Type == typ && keep(r) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	switch {
	case strings.HasPrefix(ref, "resource-type:"):
		return typed(strings.TrimPrefix(ref, "resource-type:"), func(r *resource) bool { return r.ownerIsRS })
	case strings.HasPrefix(ref, "resource-type-any:"):
		return typed(strings.TrimPrefix(ref, "resource-type-any:"), func(*resource) bool { return true })
	case strings.HasPrefix(ref, "resource-type-instance:"):
		return typed(strings.TrimPrefix(ref, "resource-type-instance:"), func(r *resource) bool { return !r.ownerIsRS })
	case strings.HasPrefix(ref, "resource-type-owner:"):
		return typed(strings.TrimPrefix(ref, "resource-type-owner:"), func(r *resource) bool { return r.ownerID == subjectID })
	}
	for _, r := range s.resources {
		if r.Name == ref && subjectID != "" && r.ownerID == subjectID {
			return []string{r.ID}
		}
	}
	for _, r := range s.resources {
		if r.Name == ref && r.ownerIsRS {
			return []string{r.ID}
		}
	}
	return nil
}

// resourcesByURI finds resources by exact URI, then (matching) by the
// PathMatcher over the URIs of resource-server-owned resources.
func (s *Server) resourcesByURI(uri string, matching bool) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, r := range s.resources {
		if slices.Contains(r.URIs, uri) {
			out = append(out, r.ID)
		}
	}
	if len(out) == 0 && matching {
		if r := s.matchURILocked(uri); r != nil {
			out = append(out, r.ID)
		}
	}
	return out
}

// subjectOf builds the evaluator's Subject from the subject token's claims.
func subjectOf(c map[string]any, client *Client) Subject {
	sub := Subject{UserID: str(c["sub"]), Username: str(c["preferred_username"]), ClientID: str(c["azp"]), Claims: c}
	if sub.ClientID == "" && client != nil {
		sub.ClientID = client.ID
	}
	return sub
}

// evaluate asks the evaluator and completes its answer: resource names,
// pushed claims (as Keycloak attaches them to every permission) and
// merging per resource.
func (s *Server) evaluate(ctx context.Context, sub Subject, reqs []RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error) {
	var ev Evaluator = grantTable{s: s}
	s.mu.RLock()
	if s.authz != nil {
		ev = authzEvaluator{s: s}
	}
	s.mu.RUnlock()
	if s.cfg.evaluator != nil {
		ev = s.cfg.evaluator
	}
	perms, err := ev.Evaluate(ctx, sub, reqs, cloneValues(pushed))
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	for i := range perms {
		if perms[i].ResourceName == "" && perms[i].ResourceID != "" {
			if r := s.resourceByIDLocked(perms[i].ResourceID); r != nil {
				perms[i].ResourceName = r.Name
			}
		}
		if perms[i].Claims == nil && len(pushed) > 0 {
			perms[i].Claims = cloneValues(pushed)
		}
	}
	s.mu.RUnlock()
	return mergePermissions(perms), nil
}

// covers reports whether granted satisfies every requested permission.
func covers(granted []rpt.Permission, reqs []RequestedPermission) bool {
	for _, rq := range reqs {
		ok := false
		for _, p := range granted {
			if rq.ResourceID != "" && p.ResourceID != rq.ResourceID {
				continue
			}
			if (rq.ResourceID != "" && len(p.Scopes) == 0) || containsAll(p.Scopes, rq.Scopes) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func (s *Server) decideUMA(ctx context.Context, ur *umaRequest, submit string) (any, *oauthError) {
	sub := subjectOf(ur.subject, ur.client)
	serverErr := oerr(http.StatusInternalServerError, "server_error", "Unexpected error while evaluating permissions")
	var granted []rpt.Permission
	entitlement := !ur.requested && !ur.hasRPT
	if len(ur.reqs) > 0 || entitlement {
		var err error
		if granted, err = s.evaluate(ctx, sub, ur.reqs, ur.pushed); err != nil {
			return nil, serverErr
		}
	}
	if ur.hasRPT && len(ur.reqs) > 0 && !covers(granted, ur.reqs) {
		// With an rpt, every requested permission must be granted (SPEC §5.4).
		return nil, s.denial(ur, submit)
	}
	upgraded := false
	if len(ur.prev) > 0 {
		prevReqs := make([]RequestedPermission, 0, len(ur.prev))
		for _, p := range ur.prev {
			prevReqs = append(prevReqs, RequestedPermission{ResourceID: p.ResourceID, Scopes: p.Scopes})
		}
		again, err := s.evaluate(ctx, sub, prevReqs, ur.pushed)
		if err != nil {
			return nil, serverErr
		}
		granted = mergePermissions(append(granted, again...))
		upgraded = covers(granted, prevReqs)
	}
	if ur.limit > 0 && len(granted) > ur.limit {
		granted = granted[:ur.limit]
	}
	if len(granted) == 0 {
		return nil, s.denial(ur, submit)
	}
	switch ur.mode {
	case "decision":
		return map[string]any{"result": true}, nil
	case "permissions":
		return permissionsJSON(granted, ur.includeName), nil
	}
	c := map[string]any{}
	for k, v := range ur.subject {
		switch k {
		case "exp", "iat", "nbf", "jti", "authorization", "at_hash", "nonce", "auth_time":
			continue
		}
		c[k] = v
	}
	base := s.baseClaims(s.cfg.lifetime)
	for _, k := range []string{"exp", "iat", "jti", "iss", "typ"} {
		c[k] = base[k]
	}
	if _, ok := c["acr"]; !ok {
		c["acr"] = base["acr"]
	}
	aud := strs(c["aud"])
	if !slices.Contains(aud, s.cfg.rsID) {
		aud = append(aud, s.cfg.rsID)
	}
	c["aud"] = audValue(aud)
	if str(c["azp"]) == "" {
		c["azp"] = ur.client.ID
	}
	c["authorization"] = map[string]any{"permissions": permissionsJSON(granted, ur.includeName)}
	return s.sessionTokenResponse(c, &upgraded, true)
}

// denial is the 403 access_denied answer: request_submitted when a ticket
// asked for an owner-managed resource and submit_request is not false.
func (s *Server) denial(ur *umaRequest, submit string) *oauthError {
	if ur.ticket && !strings.EqualFold(submit, "false") {
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, rq := range ur.reqs {
			if r := s.resourceByIDLocked(rq.ResourceID); r != nil && r.OwnerManagedAccess {
				return oerr(http.StatusForbidden, "access_denied", "request_submitted")
			}
		}
	}
	return oerr(http.StatusForbidden, "access_denied", "not_authorized")
}
