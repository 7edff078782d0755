package keycloaktest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

const (
	grantUMA         = "urn:ietf:params:oauth:grant-type:uma-ticket"
	invalidClientMsg = "Invalid client or Invalid client credentials"
)

// oauthError is an error answer of the token, introspection or protection
// endpoints.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) write(w http.ResponseWriter) { writeError(w, e.status, e.code, e.desc) }

func oerr(status int, code, desc string) *oauthError {
	return &oauthError{status: status, code: code, desc: desc}
}

// clientAuth authenticates the client of a form request: HTTP Basic with
// form-urlencoded id and secret (RFC 6749 §2.3.1), client_secret_post, an
// RFC 7523 client assertion (private_key_jwt, client_secret_jwt; see
// assertionClient), or a bare client_id for public clients. presented is
// false when the request carries no client credentials at all. On failure e
// is the token endpoint's answer: 401 invalid_client for a wrong or missing
// secret or an unknown client, 400 invalid_client for a rejected assertion.
func (s *Server) clientAuth(r *http.Request) (cl *Client, presented bool, e *oauthError) {
	failed := oerr(http.StatusUnauthorized, "invalid_client", invalidClientMsg)
	var id, secret string
	hasSecret := false
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Basic") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
			if err != nil {
				return nil, true, failed
			}
			rawID, rawSecret, found := strings.Cut(string(raw), ":")
			if !found {
				return nil, true, failed
			}
			var err1, err2 error
			id, err1 = url.QueryUnescape(rawID)
			secret, err2 = url.QueryUnescape(rawSecret)
			if err1 != nil || err2 != nil {
				return nil, true, failed
			}
			hasSecret = true
		}
	}
	if id == "" && (r.PostForm.Has("client_assertion_type") || r.PostForm.Has("client_assertion")) {
		cl, e := s.assertionClient(r)
		return cl, true, e
	}
	if id == "" {
		id = r.PostForm.Get("client_id")
		if _, ok := r.PostForm["client_secret"]; ok {
			secret, hasSecret = r.PostForm.Get("client_secret"), true
		}
	}
	if id == "" {
		return nil, false, failed
	}
	s.mu.RLock()
	c := s.clients[id]
	s.mu.RUnlock()
	if c == nil {
		return nil, true, failed
	}
	if c.Public {
		return c, true, nil
	}
	if !hasSecret || c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return nil, true, failed
	}
	return c, true, nil
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
		return
	}
	var resp any
	var e *oauthError
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "":
		e = oerr(http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type")
	case "client_credentials":
		resp, e = s.grantClientCredentials(r)
	case "password":
		resp, e = s.grantPassword(r)
	case "refresh_token":
		resp, e = s.grantRefresh(r)
	case grantUMA:
		resp, e = s.grantUMA(r)
	default:
		e = oerr(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type")
	}
	if e != nil {
		e.write(w)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) requireClient(r *http.Request) (*Client, *oauthError) {
	c, _, e := s.clientAuth(r)
	if e != nil {
		return nil, e
	}
	return c, nil
}

func (s *Server) grantClientCredentials(r *http.Request) (any, *oauthError) {
	c, e := s.requireClient(r)
	if e != nil {
		return nil, e
	}
	if c.Public {
		return nil, oerr(http.StatusUnauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
	}
	s.mu.RLock()
	claims := s.serviceAccountClaimsLocked(c)
	s.mu.RUnlock()
	tok, err := s.sign(claims)
	if err != nil {
		return nil, oerr(http.StatusInternalServerError, "server_error", "Signing failed")
	}
	return map[string]any{
		"access_token":       tok,
		"expires_in":         int64(s.cfg.lifetime.Seconds()),
		"refresh_expires_in": 0,
		"token_type":         "Bearer",
		"not-before-policy":  0,
		"scope":              claims["scope"],
	}, nil
}

func tokenScope(requested string) string {
	if slices.Contains(strings.Fields(requested), "openid") {
		return "openid profile email"
	}
	return "profile email"
}

func (s *Server) grantPassword(r *http.Request) (any, *oauthError) {
	c, e := s.requireClient(r)
	if e != nil {
		return nil, e
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	s.mu.RLock()
	u := s.users[username]
	s.mu.RUnlock()
	if u == nil || username == "" || subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) != 1 {
		return nil, oerr(http.StatusUnauthorized, "invalid_grant", "Invalid user credentials")
	}
	sid := randomUUID()
	s.mu.RLock()
	claims := s.userClaimsLocked(u, c.ID, sid, tokenScope(r.PostForm.Get("scope")))
	s.mu.RUnlock()
	return s.sessionTokenResponse(claims, nil, false)
}

// sessionTokenResponse signs claims and answers with a refresh token (the
// session is kept) and, for scope openid, an ID token. upgraded != nil adds
// the UMA "upgraded" field.
func (s *Server) sessionTokenResponse(claims map[string]any, upgraded *bool, umaShape bool) (any, *oauthError) {
	tok, err := s.sign(claims)
	if err != nil {
		return nil, oerr(http.StatusInternalServerError, "server_error", "Signing failed")
	}
	resp := map[string]any{
		"access_token":       tok,
		"expires_in":         int64(s.cfg.lifetime.Seconds()),
		"refresh_expires_in": 0,
		"token_type":         "Bearer",
		"not-before-policy":  0,
	}
	if upgraded != nil {
		resp["upgraded"] = *upgraded
	}
	sid := str(claims["sid"])
	if sid != "" {
		rc := s.baseClaims(refreshLifetime)
		rc["typ"] = "Refresh"
		rc["aud"] = s.Issuer()
		delete(rc, "acr")
		for _, k := range []string{"sub", "azp", "sid", "scope", "authorization"} {
			if v, ok := claims[k]; ok {
				rc[k] = v
			}
		}
		rt, err := s.sign(rc)
		if err != nil {
			return nil, oerr(http.StatusInternalServerError, "server_error", "Signing failed")
		}
		resp["refresh_token"] = rt
		resp["refresh_expires_in"] = int64(refreshLifetime.Seconds())
	}
	if umaShape {
		return resp, nil
	}
	if sid != "" {
		resp["session_state"] = sid
	}
	resp["scope"] = claims["scope"]
	if strings.Contains(str(claims["scope"]), "openid") {
		ic := map[string]any{}
		for _, k := range []string{"exp", "iat", "iss", "sub", "azp", "sid", "acr", "email_verified", "preferred_username", "email"} {
			if v, ok := claims[k]; ok {
				ic[k] = v
			}
		}
		ic["jti"] = randomUUID()
		ic["aud"] = claims["azp"]
		ic["typ"] = "ID"
		ic["at_hash"] = atHash(tok)
		it, err := s.sign(ic)
		if err != nil {
			return nil, oerr(http.StatusInternalServerError, "server_error", "Signing failed")
		}
		resp["id_token"] = it
	}
	return resp, nil
}

func atHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return b64.EncodeToString(sum[:16])
}

func (s *Server) grantRefresh(r *http.Request) (any, *oauthError) {
	c, e := s.requireClient(r)
	if e != nil {
		return nil, e
	}
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Missing parameter: refresh_token")
	}
	rc, err := s.activeClaims(raw)
	if err != nil || str(rc["typ"]) != "Refresh" {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
	}
	if str(rc["azp"]) != c.ID {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
	}
	s.mu.RLock()
	u := s.userByID(str(rc["sub"]))
	var claims map[string]any
	if u != nil {
		claims = s.userClaimsLocked(u, c.ID, str(rc["sid"]), str(rc["scope"]))
	}
	s.mu.RUnlock()
	if u == nil {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "User not found")
	}
	if a, ok := rc["authorization"]; ok {
		claims["authorization"] = a
	}
	return s.sessionTokenResponse(claims, nil, false)
}

// activeClaims verifies raw (signature, exp, nbf, iss) and checks that the
// token and its session are not revoked.
func (s *Server) activeClaims(raw string) (map[string]any, error) {
	c, err := s.parseToken(raw, true)
	if err != nil {
		return c, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.revoked["sha:"+tokenHash(raw)] || (str(c["jti"]) != "" && s.revoked["jti:"+str(c["jti"])]) ||
		(str(c["sid"]) != "" && s.revokedSessions[str(c["sid"])]) {
		return nil, errTokenInvalid
	}
	return c, nil
}

func tokenHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// Revoke makes a token inactive: introspection answers {"active":false} and
// the UMA grant rejects it as bearer, subject_token, rpt or ticket. The
// token is matched by its jti (so copies re-signed elsewhere count too) and
// by its exact bytes.
func (s *Server) Revoke(token string) {
	c := decodeUnverified(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked["sha:"+tokenHash(token)] = true
	if jti := str(c["jti"]); jti != "" {
		s.revoked["jti:"+jti] = true
	}
}

// RevokeSession ends a user session: every token whose sid is sid becomes
// inactive, refresh tokens included.
func (s *Server) RevokeSession(sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokedSessions[sid] = true
}
