package keycloaktest

import (
	"maps"
	"slices"
	"strings"
)

// WithAuthorizationSettings loads a Keycloak authorization-settings export
// and makes the UMA grant decide by its policies (SPEC §8): resources,
// scopes, policies and permissions, the resource server's
// policyEnforcementMode and decisionStrategy. export is either a standalone
// ResourceServerRepresentation or a full realm export; from a realm export
// the resource-server client is the one named by [WithAuthorizationClient],
// else the one whose clientId is the server's resource-server client id,
// else the only client with authorizationSettings. That client becomes the
// server's resource server (its clientId, and its secret unless
// [WithResourceServer] was given), and the realm's users (password
// credential, realm and client roles, including roles inherited from groups
// and composite realm roles; email, firstName and lastName as the email,
// given_name, family_name claims), groups and other clients are imported.
// The realm name of the export is not adopted: use [WithRealm].
//
// Resources keep their ids when the export has them ("_id"). Policy
// evaluation follows SPEC §8.3 (see [Server.LoadAuthorizationSettings] for
// the details and deviations). An invalid export makes New/Start fail. An
// evaluator given with [WithEvaluator] takes precedence over the loaded
// policies.
func WithAuthorizationSettings(export []byte) Option {
	return func(c *config) { c.authz, c.authzSet = slices.Clone(export), true }
}

// WithAuthorizationClient names the client of a realm export whose
// authorizationSettings [WithAuthorizationSettings] loads.
func WithAuthorizationClient(clientID string) Option {
	return func(c *config) { c.authzClient = clientID }
}

// authzState is a loaded authorization-settings export. It is replaced as a
// whole (never mutated) and read under Server.mu.
type authzState struct {
	mode        string // ENFORCING, PERMISSIVE, DISABLED
	strategy    string // resource-server decisionStrategy
	scopes      []string
	policies    []*azPolicy
	perms       []*azPolicy
	groups      map[string]*azGroup // realm groups by path
	unsupported []string
}

// UnsupportedPolicies lists (sorted) the names of the loaded policies the
// evaluator cannot run: JavaScript policies (type "js" and deployed
// "script-*.js"), "uma" permissions, and resource/scope permissions used as
// associated policies. Each evaluates to DENY whatever its logic, so a
// permission depending on one never grants through it.
func (s *Server) UnsupportedPolicies() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.authz == nil {
		return nil
	}
	return slices.Clone(s.authz.unsupported)
}

// LoadAuthorizationSettings loads an export at run time, as
// [WithAuthorizationSettings] does at start-up, with two differences: the
// resource-server client id does not change (a realm export's client is the
// one with that id, else its only client with authorizationSettings), and
// every resource owned by the resource server is replaced by the export's
// (user-owned resources stay). On error the previous policies stay in force;
// users and clients of a realm export may already have been imported.
//
// Evaluation (SPEC §8.3), per requested resource and scopes:
//   - DISABLED grants everything requested; a user's own resource is granted
//     to its owner; otherwise the permissions that apply are the scope
//     permissions on the resource or on no resource naming a requested
//     scope, the resource permissions of the resource's type, of the
//     resource, and, for user-owned typed resources, every permission of the
//     resource server's resources of that type. None ⇒ PERMISSIVE grants,
//     ENFORCING denies.
//   - Policies: role (token realm_access/resource_access, or the user's
//     roles with fetchRoles), user (subject id), client (azp), group (realm
//     membership, and the groupsClaim claim when set), client-scope (token
//     scope), regex (token claim or context attribute; any value matching
//     the whole pattern), time (server clock in UTC; a pushed
//     kc.time.date_time is ignored), aggregate; NEGATIVE logic inverts.
//   - Each permission combines its policies (UNANIMOUS, AFFIRMATIVE,
//     CONSENSUS with ties denied) and the results are collected like
//     Keycloak's DecisionPermissionCollector.
//
// Safe for concurrent use; requests in flight see the old or the new
// settings.
func (s *Server) LoadAuthorizationSettings(export []byte) error {
	pe, err := parseExport(export, "", s.cfg.rsID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyAuthzLocked(pe, true)
}

// adoptResourceServer makes a realm export's chosen client the resource
// server of cfg (before the server is built).
func (pe *parsedExport) adoptResourceServer(cfg *config) {
	if pe.client == nil {
		return
	}
	cfg.rsID = pe.client.ClientID
	if !cfg.rsExplicit && pe.client.Secret != "" {
		cfg.rsSecret = pe.client.Secret
	}
}

// applyAuthzLocked imports pe into the server. s.mu must be held for writing.
func (s *Server) applyAuthzLocked(pe *parsedExport, replace bool) error {
	st := &authzState{mode: modeEnforcing, strategy: dsUnanimous, groups: map[string]*azGroup{}}
	rs := pe.settings
	switch strings.ToUpper(rs.PolicyEnforcementMode) {
	case "", modeEnforcing:
	case modePermissive:
		st.mode = modePermissive
	case modeDisabled:
		st.mode = modeDisabled
	default:
		return authzErr("unknown policyEnforcementMode")
	}
	switch strings.ToUpper(rs.DecisionStrategy) {
	case "", dsUnanimous:
	case dsAffirmative:
		st.strategy = dsAffirmative
	case dsConsensus:
		st.strategy = dsConsensus
	default:
		return authzErr("unknown decisionStrategy")
	}

	// Policies first: they cannot change the server.
	byName := map[string]*azPolicy{}
	for i, rp := range rs.Policies {
		p, err := parsePolicy(i, rp)
		if err != nil {
			return err
		}
		if byName[p.name] != nil {
			return authzErr("duplicate policy name %q", p.name)
		}
		byName[p.name] = p
		st.policies = append(st.policies, p)
	}
	byID := map[string]*azPolicy{}
	for _, p := range st.policies {
		if p.id != "" {
			byID[p.id] = p
		}
	}
	for _, p := range st.policies {
		for _, ref := range p.applyNames {
			q := byName[ref]
			if q == nil {
				q = byID[ref]
			}
			if q == nil {
				return authzErr("policy %q applies unknown policy %q", p.name, ref)
			}
			p.apply = append(p.apply, q)
		}
	}
	if err := checkCycles(st.policies); err != nil {
		return err
	}
	unsupported := map[string]bool{}
	for _, p := range st.policies {
		if p.unsupported {
			unsupported[p.name] = true
		}
		for _, q := range p.apply {
			if q.isPermission() {
				unsupported[q.name] = true
			}
		}
	}
	st.unsupported = slices.Sorted(maps.Keys(unsupported))

	if pe.realm != nil {
		s.importRealmLocked(pe, st)
	}

	// Resources.
	old := s.resources
	if replace {
		s.resources = nil
		for _, r := range old {
			if !r.ownerIsRS {
				s.resources = append(s.resources, r)
			}
		}
	} else {
		s.resources = slices.Clone(old)
	}
	fail := func(err error) error {
		s.resources = old
		return err
	}
	for _, rr := range rs.Resources {
		r := Resource{
			ID: rr.ID, Name: rr.Name, DisplayName: rr.DisplayName, Type: rr.Type,
			OwnerManagedAccess: rr.OwnerManagedAccess, Attributes: rr.Attributes, IconURI: rr.IconURI,
		}
		if r.ID == "" {
			r.ID = rr.AltID
		}
		if rr.URI != "" {
			r.URIs = append(r.URIs, rr.URI)
		}
		r.URIs = append(r.URIs, rr.URIs...)
		for _, sc := range rr.Scopes {
			r.Scopes = append(r.Scopes, sc.Name)
		}
		if rr.Owner != nil {
			r.Owner = rr.Owner.Name
			if r.Owner == "" {
				r.Owner = rr.Owner.ID
			}
			if r.Owner == rs.ClientID || (pe.client != nil && r.Owner == pe.client.ClientID) {
				r.Owner = ""
			}
		}
		if _, err := s.addResourceLocked(r); err != nil {
			return fail(authzErr("resource %q: %v", rr.Name, strings.TrimPrefix(err.Error(), "keycloaktest: ")))
		}
	}
	for _, sc := range rs.Scopes {
		st.scopes = appendUnique(st.scopes, sc.Name)
	}
	for _, r := range s.resources {
		if r.ownerIsRS {
			st.scopes = appendUnique(st.scopes, r.Scopes...)
		}
	}

	// Resolve the resources of permissions (export names, else ids).
	for _, p := range st.policies {
		if !p.isPermission() {
			continue
		}
		for _, ref := range p.resourceNames {
			var id string
			for _, r := range s.resources {
				if r.ownerIsRS && r.Name == ref {
					id = r.ID
					break
				}
			}
			if id == "" {
				if r := s.resourceByIDLocked(ref); r != nil {
					id = r.ID
				}
			}
			if id == "" {
				return fail(authzErr("permission %q names unknown resource %q", p.name, ref))
			}
			p.resourceIDs = appendUnique(p.resourceIDs, id)
		}
		st.perms = append(st.perms, p)
	}
	s.authz = st
	return nil
}

func checkCycles(ps []*azPolicy) error {
	const (
		white = iota
		grey
		black
	)
	color := map[*azPolicy]int{}
	var visit func(p *azPolicy) bool
	visit = func(p *azPolicy) bool {
		switch color[p] {
		case grey:
			return false
		case black:
			return true
		}
		color[p] = grey
		for _, q := range p.apply {
			if !visit(q) {
				return false
			}
		}
		color[p] = black
		return true
	}
	for _, p := range ps {
		if !visit(p) {
			return authzErr("policy %q is part of a cycle of applyPolicies", p.name)
		}
	}
	return nil
}

// importRealmLocked imports the groups, users and clients of a realm export.
func (s *Server) importRealmLocked(pe *parsedExport, st *authzState) {
	realm := pe.realm
	flattenGroups(realm.Groups, "", st.groups)
	composites := map[string]rawRole{}
	if realm.Roles != nil {
		for _, r := range realm.Roles.Realm {
			composites[r.Name] = r
		}
	}
	for _, c := range realm.Clients {
		if pe.client != nil && c.ClientID == pe.client.ClientID {
			continue
		}
		if c.ClientID == "" || c.ClientID == s.cfg.rsID {
			continue
		}
		s.addClientLocked(Client{ID: c.ClientID, Secret: c.Secret, Public: c.PublicClient})
	}
	if _, ok := s.clients["admin-cli"]; !ok {
		// Every Keycloak realm has the public client admin-cli.
		s.addClientLocked(Client{ID: "admin-cli", Public: true})
	}
	for _, ru := range realm.Users {
		if ru.Username == "" || ru.ServiceAcct != "" || (ru.Enabled != nil && !*ru.Enabled) {
			continue
		}
		u := User{ID: ru.ID, Username: ru.Username, ClientRoles: map[string][]string{}}
		for _, c := range ru.Credentials {
			if strings.EqualFold(c.Type, "password") {
				u.Password = c.Value
			}
		}
		for _, g := range ru.Groups {
			if !strings.HasPrefix(g, "/") {
				g = "/" + g
			}
			u.Groups = appendUnique(u.Groups, g)
		}
		realmRoles := slices.Clone(ru.RealmRoles)
		clientRoles := cloneValues(ru.ClientRoles)
		if clientRoles == nil {
			clientRoles = map[string][]string{}
		}
		for _, path := range u.Groups {
			// Roles of the group and of its ancestors.
			for p := path; p != "" && p != "/"; p = p[:strings.LastIndex(p, "/")] {
				if g := st.groups[p]; g != nil {
					realmRoles = appendUnique(realmRoles, g.realmRoles...)
					for c, rs := range g.clientRoles {
						clientRoles[c] = appendUnique(clientRoles[c], rs...)
					}
				}
			}
		}
		// Composite realm roles, transitively.
		for i := 0; i < len(realmRoles); i++ {
			r, ok := composites[realmRoles[i]]
			if !ok || r.Composites == nil {
				continue
			}
			realmRoles = appendUnique(realmRoles, r.Composites.Realm...)
			for c, rs := range r.Composites.Client {
				clientRoles[c] = appendUnique(clientRoles[c], rs...)
			}
		}
		u.RealmRoles = realmRoles
		u.ClientRoles = clientRoles
		attrs := map[string][]string{}
		if ru.Email != "" {
			attrs["email"] = []string{ru.Email}
		}
		if ru.FirstName != "" {
			attrs["given_name"] = []string{ru.FirstName}
		}
		if ru.LastName != "" {
			attrs["family_name"] = []string{ru.LastName}
		}
		if full := strings.TrimSpace(ru.FirstName + " " + ru.LastName); full != "" {
			attrs["name"] = []string{full}
		}
		if len(attrs) > 0 {
			u.Attributes = attrs
		}
		s.addUserLocked(u)
	}
}
