package keycloaktest

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// refreshLifetime is the refresh token (SSO session idle) lifespan.
const refreshLifetime = 30 * time.Minute

// TokenOption changes a token made by [Server.AccessToken].
type TokenOption func(*tokenOptions)

type tokenOptions struct {
	aud      []string
	audSet   bool
	claims   map[string]any
	without  []string
	lifetime *time.Duration
	iat      *time.Time
	azp      *string
}

// WithAudience replaces aud (one value is serialized as a string, as
// Keycloak does; none removes the claim).
func WithAudience(aud ...string) TokenOption {
	return func(o *tokenOptions) { o.aud, o.audSet = slices.Clone(aud), true }
}

// WithClaim sets (or overrides) a claim.
func WithClaim(name string, v any) TokenOption {
	return func(o *tokenOptions) {
		if o.claims == nil {
			o.claims = map[string]any{}
		}
		o.claims[name] = v
	}
}

// WithoutClaim removes a claim (applied after WithClaim).
func WithoutClaim(name string) TokenOption {
	return func(o *tokenOptions) { o.without = append(o.without, name) }
}

// WithLifetime sets exp = iat + d; a negative d makes an expired token.
func WithLifetime(d time.Duration) TokenOption { return func(o *tokenOptions) { o.lifetime = &d } }

// WithIssuedAt sets iat = t (and exp = t + lifetime).
func WithIssuedAt(t time.Time) TokenOption { return func(o *tokenOptions) { o.iat = &t } }

// WithAuthorizedParty sets azp.
func WithAuthorizedParty(azp string) TokenOption { return func(o *tokenOptions) { o.azp = &azp } }

func (s *Server) applyTokenOptions(c map[string]any, opts []TokenOption) {
	var o tokenOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	iat := s.cfg.now()
	if o.iat != nil {
		iat = *o.iat
	}
	life := s.cfg.lifetime
	if o.lifetime != nil {
		life = *o.lifetime
	}
	if o.iat != nil || o.lifetime != nil {
		c["iat"] = iat.Unix()
		c["exp"] = iat.Add(life).Unix()
	}
	if o.audSet {
		if len(o.aud) == 0 {
			delete(c, "aud")
		} else {
			c["aud"] = audValue(o.aud)
		}
	}
	if o.azp != nil {
		c["azp"] = *o.azp
	}
	maps.Copy(c, o.claims)
	for _, n := range o.without {
		delete(c, n)
	}
}

// audValue serializes an audience like Keycloak: a string when single.
func audValue(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	return slices.Clone(aud)
}

func (s *Server) baseClaims(lifetime time.Duration) map[string]any {
	now := s.cfg.now()
	return map[string]any{
		"exp": now.Add(lifetime).Unix(),
		"iat": now.Unix(),
		"jti": randomUUID(),
		"iss": s.Issuer(),
		"typ": "Bearer",
		"acr": "1",
	}
}

// userClaimsLocked builds an access token for u issued to client azp, as a
// Keycloak realm with an audience mapper for the resource server would: aud
// holds the resource server plus every other client u has roles of.
func (s *Server) userClaimsLocked(u *User, azp, sid, scope string) map[string]any {
	c := map[string]any{}
	for k, v := range u.Attributes {
		if len(v) == 1 {
			c[k] = v[0]
		} else {
			c[k] = slices.Clone(v)
		}
	}
	maps.Copy(c, s.baseClaims(s.cfg.lifetime))
	c["sub"] = u.ID
	c["azp"] = azp
	c["scope"] = scope
	c["email_verified"] = false
	c["preferred_username"] = u.Username
	if sid != "" {
		c["sid"] = sid
	}
	aud := []string{s.cfg.rsID}
	ra := map[string]any{}
	for _, cid := range slices.Sorted(maps.Keys(u.ClientRoles)) {
		roles := u.ClientRoles[cid]
		if len(roles) == 0 {
			continue
		}
		ra[cid] = map[string]any{"roles": slices.Clone(roles)}
		if cid != azp && !slices.Contains(aud, cid) {
			aud = append(aud, cid)
		}
	}
	c["aud"] = audValue(aud)
	if len(u.RealmRoles) > 0 {
		c["realm_access"] = map[string]any{"roles": slices.Clone(u.RealmRoles)}
	}
	if len(ra) > 0 {
		c["resource_access"] = ra
	}
	if len(u.Groups) > 0 {
		c["groups"] = slices.Clone(u.Groups)
	}
	return c
}

func serviceAccountName(clientID string) string {
	return "service-account-" + strings.ToLower(clientID)
}

// serviceAccountClaimsLocked builds a client_credentials token (no sid: the
// session is transient, as in Keycloak 26).
func (s *Server) serviceAccountClaimsLocked(cl *Client) map[string]any {
	c := s.baseClaims(s.cfg.lifetime)
	name := serviceAccountName(cl.ID)
	c["sub"] = derivedID(s.cfg.realm, "user", name)
	c["azp"] = cl.ID
	c["aud"] = s.cfg.rsID
	c["scope"] = "profile email"
	c["email_verified"] = false
	c["preferred_username"] = name
	c["client_id"] = cl.ID
	c["clientHost"] = "127.0.0.1"
	c["clientAddress"] = "127.0.0.1"
	if len(cl.ServiceAccountRoles) > 0 {
		c["realm_access"] = map[string]any{"roles": slices.Clone(cl.ServiceAccountRoles)}
	}
	if cl.ID == s.cfg.rsID {
		c["resource_access"] = map[string]any{s.cfg.rsID: map[string]any{"roles": []string{"uma_protection"}}}
	}
	return c
}

// userOrSynthetic returns the user, or a synthetic one for an unknown name.
func (s *Server) userOrSyntheticLocked(username string) *User {
	if u := s.users[username]; u != nil {
		return u
	}
	return &User{ID: derivedID(s.cfg.realm, "user", username), Username: username}
}

// AccessToken returns an access token for username, as a password grant of
// the resource-server client issues it (a new session id each call). An
// unknown username gets a token for a synthetic subject. It returns "" only
// if a WithClaim value cannot be marshalled as JSON.
func (s *Server) AccessToken(username string, opts ...TokenOption) string {
	s.mu.RLock()
	c := s.userClaimsLocked(s.userOrSyntheticLocked(username), s.cfg.rsID, randomUUID(), "profile email")
	s.mu.RUnlock()
	s.applyTokenOptions(c, opts)
	return s.SignToken(c)
}

// IssueRPT returns an RPT for username: an access token of the
// resource-server client with authorization.permissions = perms
// ({rsid, rsname, scopes, claims}, empty fields omitted; a non-zero
// Permission.ExpiresAt is written as the permission's exp).
func (s *Server) IssueRPT(username string, perms ...rpt.Permission) string {
	s.mu.RLock()
	c := s.userClaimsLocked(s.userOrSyntheticLocked(username), s.cfg.rsID, randomUUID(), "profile email")
	s.mu.RUnlock()
	c["authorization"] = map[string]any{"permissions": permissionsJSON(perms, true)}
	return s.SignToken(c)
}

// PAT returns a client_credentials token of the resource server (a Protection
// API token: it holds the client role uma_protection).
func (s *Server) PAT() string {
	s.mu.RLock()
	c := s.serviceAccountClaimsLocked(s.clients[s.cfg.rsID])
	s.mu.RUnlock()
	return s.SignToken(c)
}

// IssueTicket returns a permission ticket for perms, as the permission
// endpoint makes it with a fresh PAT (sub/azp of the resource server's
// service account, aud = issuer, expiring with the PAT). The permissions are
// not validated, so tickets for unknown resources can be made.
func (s *Server) IssueTicket(perms ...RequestedPermission) string {
	s.mu.RLock()
	pat := s.serviceAccountClaimsLocked(s.clients[s.cfg.rsID])
	s.mu.RUnlock()
	return s.SignToken(s.ticketClaims(pat, perms, nil))
}

func (s *Server) ticketClaims(pat map[string]any, perms []RequestedPermission, claims map[string][]string) map[string]any {
	ps := make([]map[string]any, 0, len(perms))
	for _, p := range perms {
		m := map[string]any{}
		if p.ResourceID != "" {
			m["rsid"] = p.ResourceID
		}
		if len(p.Scopes) > 0 {
			m["scopes"] = slices.Clone(p.Scopes)
		}
		ps = append(ps, m)
	}
	c := map[string]any{
		"jti":         randomUUID(),
		"aud":         s.Issuer(),
		"permissions": ps,
	}
	for _, k := range []string{"sub", "azp", "exp", "iat", "nbf"} {
		if v, ok := pat[k]; ok {
			c[k] = v
		}
	}
	if len(claims) > 0 {
		c["claims"] = claims
	}
	return c
}

// permissionsJSON renders permissions as Keycloak does in an RPT and in
// response_mode=permissions.
func permissionsJSON(perms []rpt.Permission, includeName bool) []map[string]any {
	out := make([]map[string]any, 0, len(perms))
	for _, p := range perms {
		m := map[string]any{}
		if p.ResourceID != "" {
			m["rsid"] = p.ResourceID
		}
		if includeName && p.ResourceName != "" {
			m["rsname"] = p.ResourceName
		}
		if len(p.Scopes) > 0 {
			m["scopes"] = slices.Clone(p.Scopes)
		}
		if len(p.Claims) > 0 {
			m["claims"] = cloneValues(p.Claims)
		}
		if !p.ExpiresAt.IsZero() {
			m["exp"] = p.ExpiresAt.Unix()
		}
		out = append(out, m)
	}
	return out
}

// permissionsFromClaims reads authorization.permissions (nil if absent).
func permissionsFromClaims(c map[string]any) ([]rpt.Permission, bool) {
	authz, ok := c["authorization"].(map[string]any)
	if !ok {
		return nil, false
	}
	list, _ := authz["permissions"].([]any)
	out := make([]rpt.Permission, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		p := rpt.Permission{ResourceID: str(m["rsid"]), ResourceName: str(m["rsname"]), Scopes: strs(m["scopes"])}
		if cm, ok := m["claims"].(map[string]any); ok {
			p.Claims = map[string][]string{}
			for k, v := range cm {
				p.Claims[k] = strs(v)
			}
		}
		if n, ok := m["exp"].(json.Number); ok {
			if sec, err := n.Int64(); err == nil {
				p.ExpiresAt = time.Unix(sec, 0)
			}
		}
		out = append(out, p)
	}
	return out, true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs reads a string or an array of scalars as strings.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return slices.Clone(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			switch ev := e.(type) {
			case string:
				out = append(out, ev)
			case json.Number:
				out = append(out, ev.String())
			case bool:
				if ev {
					out = append(out, "true")
				} else {
					out = append(out, "false")
				}
			}
		}
		return out
	}
	return nil
}

func numClaim(c map[string]any, name string) (int64, bool) {
	switch v := c[name].(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			if ferr != nil {
				return 0, false
			}
			return int64(f), true
		}
		return n, true
	case float64:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}
