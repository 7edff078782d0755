package keycloak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxSettingsSize bounds the document [Parse] accepts (16 MiB).
const maxSettingsSize = 16 << 20

// Policy types (the "type" of a policy entry, SPEC §8.2).
const (
	TypeRole        = "role"
	TypeUser        = "user"
	TypeClient      = "client"
	TypeGroup       = "group"
	TypeClientScope = "client-scope"
	TypeRegex       = "regex"
	TypeTime        = "time"
	TypeAggregate   = "aggregate"
	TypeResource    = "resource" // resource-based permission
	TypeScope       = "scope"    // scope-based permission
	TypeJS          = "js"       // unsupported offline
	TypeUMA         = "uma"      // unsupported offline
	// Deployed JavaScript policies have the type "script-<file>.js"
	// (unsupported offline).
)

// Settings is a resource server's parsed authorization settings. It is plain
// data: build it with [Parse], read it freely, and translate it with
// [Translate]. Not safe for concurrent modification.
type Settings struct {
	// ClientID is the resource server's clientId ("" for a standalone
	// export, which does not name its client).
	ClientID string
	// Realm is the realm's name for a realm export, else "".
	Realm string
	// PolicyEnforcementMode is ENFORCING (the default), PERMISSIVE or DISABLED.
	PolicyEnforcementMode string
	// DecisionStrategy is the resource server's strategy: UNANIMOUS (the
	// default; also for null) or AFFIRMATIVE. CONSENSUS is accepted and,
	// like Keycloak, treated as UNANIMOUS at this level.
	DecisionStrategy string
	// Resources in export order.
	Resources []Resource
	// Scopes are the resource server's scope names (the export's scopes
	// plus every scope a resource names).
	Scopes []string
	// Policies in export order: policies and permissions alike.
	Policies []Policy
	// Warnings collected while parsing (references dropped because the realm
	// export does not define them, user-owned resources…).
	Warnings []string
}

// Resource is one protected resource of the export.
type Resource struct {
	// ID is the export's "_id" ("" when the export has none).
	ID   string
	Name string
	Type string
	// URIs merges "uri" (legacy) and "uris".
	URIs   []string
	Scopes []string
	// Owner is the owner's name or id when the export names one.
	Owner              string
	OwnerManagedAccess bool
}

// RoleRef is one role of a role policy.
type RoleRef struct {
	// Client is the clientId for a client role, "" for a realm role.
	Client   string
	Role     string
	Required bool
}

// GroupRef is one group of a group policy.
type GroupRef struct {
	// Path is the group's full path ("/a/b").
	Path           string
	ExtendChildren bool
}

// ClientScopeRef is one client scope of a client-scope policy.
type ClientScopeRef struct {
	Name     string
	Required bool
}

// TimeWindow is a time policy's configuration. Nil pointers are unset.
type TimeWindow struct {
	// NotBefore and NotOnOrAfter are "yyyy-MM-dd HH:mm:ss" wall-clock times
	// (the time zone is chosen at translation).
	NotBefore, NotOnOrAfter string
	DayMonth, DayMonthEnd   *int
	Month, MonthEnd         *int
	Year, YearEnd           *int
	Hour, HourEnd           *int
	Minute, MinuteEnd       *int
}

// Policy is one policy or permission. Only the fields of its Type are set.
type Policy struct {
	ID          string
	Name        string
	Description string
	Type        string
	// Logic is POSITIVE (the default) or NEGATIVE. Keycloak ignores it on
	// permissions (resource and scope types).
	Logic string
	// DecisionStrategy is UNANIMOUS (the default), AFFIRMATIVE or CONSENSUS;
	// used by aggregates and permissions.
	DecisionStrategy string
	// Config is the raw config map (string values as in the export).
	Config map[string]string

	Roles      []RoleRef // role
	FetchRoles bool      // role: Keycloak reads roles from its database
	Users      []string  // user: usernames
	UserIDs    []string  // user: ids known from a realm export
	Clients    []string  // client: clientIds
	Groups     []GroupRef
	// GroupsClaim is the token claim holding groups ("" = Keycloak reads
	// group membership from its database; offline uses "groups").
	GroupsClaim  string
	ClientScopes []ClientScopeRef
	// TargetClaim, Pattern, TargetContextAttributes: regex.
	TargetClaim             string
	Pattern                 string
	TargetContextAttributes bool
	Time                    *TimeWindow
	// ApplyPolicies are the associated policies' names (aggregate and
	// permissions).
	ApplyPolicies []string
	// Resources (resource and scope permissions) are resource names;
	// ResourceType (resource permissions) applies the permission to every
	// resource of that type.
	Resources    []string
	ResourceType string
	// TypedKey: the config has a defaultResourceType key (even empty), which
	// Keycloak uses to classify a denying permission as typed.
	TypedKey bool
	Scopes   []string // scope permissions
}

// IsPermission reports whether p is a resource or scope permission.
func (p *Policy) IsPermission() bool { return p.Type == TypeResource || p.Type == TypeScope }

// Unsupported reports whether p cannot be evaluated offline (JavaScript,
// deployed scripts, UMA user-managed policies).
func (p *Policy) Unsupported() bool {
	return p.Type == TypeJS || p.Type == TypeUMA || strings.HasPrefix(p.Type, "script-")
}

// ParseOption configures [Parse].
type ParseOption func(*parseOptions)

type parseOptions struct{ clientID string }

// WithClientID selects, in a realm export, the client whose
// authorizationSettings are parsed. Without it a realm export must hold
// exactly one client with authorizationSettings. For a client or standalone
// export it is recorded as [Settings.ClientID] when the document has none.
func WithClientID(clientID string) ParseOption {
	return func(o *parseOptions) { o.clientID = clientID }
}

// JSON shapes of the export.
type rawRealm struct {
	Realm string `json:"realm"`
	Roles *struct {
		Realm  []struct{ Name string } `json:"realm"`
		Client map[string][]struct {
			Name string
		} `json:"client"`
	} `json:"roles"`
	Users []struct {
		ID          string              `json:"id"`
		Username    string              `json:"username"`
		RealmRoles  []string            `json:"realmRoles"`
		ClientRoles map[string][]string `json:"clientRoles"`
	} `json:"users"`
	Groups       []rawGroup `json:"groups"`
	ClientScopes []struct {
		Name string `json:"name"`
	} `json:"clientScopes"`
	Clients []rawClient `json:"clients"`
}

type rawGroup struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Path      string     `json:"path"`
	SubGroups []rawGroup `json:"subGroups"`
}

type rawClient struct {
	ID                    string          `json:"id"`
	ClientID              string          `json:"clientId"`
	AuthorizationSettings json.RawMessage `json:"authorizationSettings"`
}

type rawRS struct {
	ClientID              string            `json:"clientId"`
	PolicyEnforcementMode *string           `json:"policyEnforcementMode"`
	DecisionStrategy      *string           `json:"decisionStrategy"`
	Resources             []rawResource     `json:"resources"`
	Policies              []json.RawMessage `json:"policies"`
	Scopes                []json.RawMessage `json:"scopes"`
}

type rawResource struct {
	ID                 string            `json:"_id"`
	Name               string            `json:"name"`
	URI                string            `json:"uri"`
	URIs               []string          `json:"uris"`
	Type               string            `json:"type"`
	Scopes             []json.RawMessage `json:"scopes"`
	Owner              json.RawMessage   `json:"owner"`
	OwnerManagedAccess bool              `json:"ownerManagedAccess"`
}

type rawPolicy struct {
	ID               string                     `json:"id"`
	Name             string                     `json:"name"`
	Description      string                     `json:"description"`
	Type             string                     `json:"type"`
	Logic            string                     `json:"logic"`
	DecisionStrategy string                     `json:"decisionStrategy"`
	Config           map[string]json.RawMessage `json:"config"`
	Resources        []string                   `json:"resources"`
	Scopes           []string                   `json:"scopes"`
	Policies         []string                   `json:"policies"`
}

// realmInfo resolves names against a realm export; nil for other exports.
type realmInfo struct {
	roles        map[string]bool // "role" or "client/role"
	clients      map[string]bool
	users        map[string]string // username → id
	groups       map[string]string // path → name
	groupIDs     map[string]string // id → path
	clientScopes map[string]bool   // nil when the export lists none
}

// Parse reads a resource server's authorization settings from a standalone
// export (ResourceServerRepresentation), a client representation with
// authorizationSettings, or a full realm export (see [WithClientID]). Names
// are resolved against the realm's roles, clients, users and groups when the
// document is a realm export (SPEC §8.1–§8.2).
//
// Parse is strict: unknown policy types, malformed config values and
// references to missing policies, resources or scopes are errors matching
// [ErrInvalidSettings], naming the policy ([*PolicyError]). JavaScript,
// script-* and uma policies parse (they are reported by [Translate]).
func Parse(data []byte, opts ...ParseOption) (*Settings, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(data) > maxSettingsSize {
		return nil, invalidf("document larger than %d bytes", maxSettingsSize)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, invalidf("not a JSON object: %v", jsonErr(err))
	}
	s := &Settings{}
	var rsJSON json.RawMessage
	var realm *realmInfo
	switch {
	case top["clients"] != nil:
		var rr rawRealm
		if err := json.Unmarshal(data, &rr); err != nil {
			return nil, invalidf("realm export: %v", jsonErr(err))
		}
		s.Realm = rr.Realm
		var found []rawClient
		for _, c := range rr.Clients {
			if isNull(c.AuthorizationSettings) {
				continue
			}
			if o.clientID == "" || c.ClientID == o.clientID {
				found = append(found, c)
			}
		}
		switch {
		case len(found) == 0 && o.clientID != "":
			return nil, invalidf("realm export has no client %q with authorizationSettings", o.clientID)
		case len(found) == 0:
			return nil, invalidf("realm export has no client with authorizationSettings")
		case len(found) > 1:
			return nil, invalidf("realm export has %d clients with authorizationSettings; choose one with WithClientID", len(found))
		}
		s.ClientID = found[0].ClientID
		rsJSON = found[0].AuthorizationSettings
		realm = newRealmInfo(&rr)
	case top["authorizationSettings"] != nil:
		var c rawClient
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, invalidf("client: %v", jsonErr(err))
		}
		if isNull(c.AuthorizationSettings) {
			return nil, invalidf("client has null authorizationSettings")
		}
		s.ClientID = c.ClientID
		rsJSON = c.AuthorizationSettings
	case top["resources"] != nil || top["policies"] != nil || top["policyEnforcementMode"] != nil || top["scopes"] != nil:
		rsJSON = data
	default:
		return nil, invalidf("document is neither authorization settings, a client nor a realm export")
	}
	if s.ClientID == "" {
		s.ClientID = o.clientID
	}
	if err := s.parseRS(rsJSON, realm); err != nil {
		return nil, err
	}
	return s, nil
}

func isNull(m json.RawMessage) bool {
	t := bytes.TrimSpace(m)
	return len(t) == 0 || string(t) == "null"
}

// jsonErr keeps JSON errors short and free of document content beyond
// offsets and Go type names.
func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: expected %s", te.Field, te.Type)
	}
	return "malformed JSON"
}

func newRealmInfo(rr *rawRealm) *realmInfo {
	ri := &realmInfo{
		roles: map[string]bool{}, clients: map[string]bool{}, users: map[string]string{},
		groups: map[string]string{}, groupIDs: map[string]string{},
	}
	if rr.Roles != nil {
		for _, r := range rr.Roles.Realm {
			ri.roles[r.Name] = true
		}
		for c, rs := range rr.Roles.Client {
			for _, r := range rs {
				ri.roles[c+"/"+r.Name] = true
			}
		}
	}
	for _, c := range rr.Clients {
		ri.clients[c.ClientID] = true
	}
	for _, u := range rr.Users {
		ri.users[u.Username] = u.ID
		// Keycloak's import creates roles that users are mapped to.
		for _, r := range u.RealmRoles {
			ri.roles[r] = true
		}
		for c, rs := range u.ClientRoles {
			for _, r := range rs {
				ri.roles[c+"/"+r] = true
			}
		}
	}
	var walk func(gs []rawGroup, parent string)
	walk = func(gs []rawGroup, parent string) {
		for _, g := range gs {
			p := g.Path
			if p == "" {
				p = parent + "/" + g.Name
			}
			ri.groups[p] = g.Name
			if g.ID != "" {
				ri.groupIDs[g.ID] = p
			}
			walk(g.SubGroups, p)
		}
	}
	walk(rr.Groups, "")
	if len(rr.ClientScopes) > 0 {
		ri.clientScopes = map[string]bool{}
		for _, cs := range rr.ClientScopes {
			ri.clientScopes[cs.Name] = true
		}
	}
	return ri
}

func (s *Settings) warnf(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

func (s *Settings) parseRS(data json.RawMessage, realm *realmInfo) error {
	var rs rawRS
	if err := json.Unmarshal(data, &rs); err != nil {
		return invalidf("authorization settings: %v", jsonErr(err))
	}
	s.PolicyEnforcementMode = "ENFORCING"
	if rs.PolicyEnforcementMode != nil && *rs.PolicyEnforcementMode != "" {
		s.PolicyEnforcementMode = *rs.PolicyEnforcementMode
	}
	switch s.PolicyEnforcementMode {
	case "ENFORCING", "PERMISSIVE", "DISABLED":
	default:
		return invalidf("unknown policyEnforcementMode %q", s.PolicyEnforcementMode)
	}
	s.DecisionStrategy = "UNANIMOUS"
	if rs.DecisionStrategy != nil && *rs.DecisionStrategy != "" {
		s.DecisionStrategy = *rs.DecisionStrategy
	}
	switch s.DecisionStrategy {
	case "UNANIMOUS", "AFFIRMATIVE", "CONSENSUS":
	default:
		return invalidf("unknown resource server decisionStrategy %q", s.DecisionStrategy)
	}

	scopes := map[string]bool{}
	addScope := func(n string) {
		if !scopes[n] {
			scopes[n] = true
			s.Scopes = append(s.Scopes, n)
		}
	}
	for i, raw := range rs.Scopes {
		n, err := nameOf(raw)
		if err != nil || n == "" {
			return invalidf("scopes[%d]: expected a scope with a name", i)
		}
		addScope(n)
	}
	resNames := map[string]bool{}
	for i, r := range rs.Resources {
		if r.Name == "" {
			return invalidf("resources[%d]: resource without a name", i)
		}
		if resNames[r.Name] {
			return invalidf("resources[%d]: duplicate resource name %q", i, r.Name)
		}
		resNames[r.Name] = true
		res := Resource{ID: r.ID, Name: r.Name, Type: r.Type, OwnerManagedAccess: r.OwnerManagedAccess}
		if r.URI != "" {
			res.URIs = append(res.URIs, r.URI)
		}
		for _, u := range r.URIs {
			if u != "" && !slices.Contains(res.URIs, u) {
				res.URIs = append(res.URIs, u)
			}
		}
		for j, raw := range r.Scopes {
			n, err := nameOf(raw)
			if err != nil || n == "" {
				return invalidf("resource %q: scopes[%d]: expected a scope with a name", r.Name, j)
			}
			if !slices.Contains(res.Scopes, n) {
				res.Scopes = append(res.Scopes, n)
			}
			addScope(n)
		}
		if !isNull(r.Owner) {
			owner, err := nameOf(r.Owner)
			if err != nil {
				return invalidf("resource %q: malformed owner", r.Name)
			}
			res.Owner = owner
			if owner != "" && owner != s.ClientID {
				s.warnf("resource %q is owned by %q, not the resource server: offline evaluation treats it as owned by the resource server (typed-parent permissions of user-owned resources are not reproduced)", r.Name, owner)
			}
		}
		s.Resources = append(s.Resources, res)
	}

	names := map[string]int{}
	for i, raw := range rs.Policies {
		var rp rawPolicy
		if err := json.Unmarshal(raw, &rp); err != nil {
			return invalidf("policies[%d]: %v", i, jsonErr(err))
		}
		if rp.Name == "" {
			return invalidf("policies[%d]: policy without a name", i)
		}
		if _, dup := names[rp.Name]; dup {
			return policyErr(rp.Name, rp.Type, invalidf("duplicate policy name"))
		}
		p, err := s.parsePolicy(&rp, realm, scopes, resNames)
		if err != nil {
			return policyErr(rp.Name, rp.Type, err)
		}
		names[rp.Name] = len(s.Policies)
		s.Policies = append(s.Policies, *p)
	}
	return s.checkReferences(names)
}

// nameOf accepts "name" or {"name": "…"}.
func nameOf(raw json.RawMessage) (string, error) {
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return str, nil
	}
	var obj struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Name, nil
}

func (s *Settings) parsePolicy(rp *rawPolicy, realm *realmInfo, scopes, resNames map[string]bool) (*Policy, error) {
	p := &Policy{
		ID: rp.ID, Name: rp.Name, Description: rp.Description, Type: rp.Type,
		Logic: rp.Logic, DecisionStrategy: rp.DecisionStrategy, Config: map[string]string{},
	}
	for k, v := range rp.Config {
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, invalidf("config %q is not a string", k)
		}
		p.Config[k] = str
	}
	if p.Logic == "" {
		p.Logic = "POSITIVE"
	}
	if p.Logic != "POSITIVE" && p.Logic != "NEGATIVE" {
		return nil, invalidf("unknown logic %q", p.Logic)
	}
	if p.DecisionStrategy == "" {
		p.DecisionStrategy = "UNANIMOUS"
	}
	switch p.DecisionStrategy {
	case "UNANIMOUS", "AFFIRMATIVE", "CONSENSUS":
	default:
		return nil, invalidf("unknown decisionStrategy %q", p.DecisionStrategy)
	}
	cfg := p.Config
	var err error
	switch {
	case p.Type == TypeRole:
		err = s.parseRoles(p, realm)
	case p.Type == TypeUser:
		var users []string
		if users, err = jsonStrings(cfg, "users", true); err == nil {
			for _, u := range users {
				if realm != nil {
					id, ok := realm.users[u]
					if !ok {
						s.warnf("policy %q: user %q is not in the realm export; dropped", p.Name, u)
						continue
					}
					if id != "" {
						p.UserIDs = append(p.UserIDs, id)
					}
				}
				p.Users = append(p.Users, u)
			}
		}
	case p.Type == TypeClient:
		var clients []string
		if clients, err = jsonStrings(cfg, "clients", true); err == nil {
			for _, c := range clients {
				if realm != nil && !realm.clients[c] {
					s.warnf("policy %q: client %q is not in the realm export; dropped", p.Name, c)
					continue
				}
				p.Clients = append(p.Clients, c)
			}
		}
	case p.Type == TypeGroup:
		err = s.parseGroups(p, realm)
	case p.Type == TypeClientScope:
		err = s.parseClientScopes(p, realm)
	case p.Type == TypeRegex:
		p.TargetClaim, p.Pattern = cfg["targetClaim"], cfg["pattern"]
		if p.TargetClaim == "" || p.Pattern == "" {
			return nil, invalidf("regex policy needs targetClaim and pattern")
		}
		if p.TargetContextAttributes, err = boolConfig(cfg, "targetContextAttributes"); err != nil {
			return nil, err
		}
		if _, err := javaToRE2(p.Pattern); err != nil {
			return nil, err
		}
	case p.Type == TypeTime:
		p.Time, err = parseTime(cfg)
	case p.Type == TypeAggregate:
		p.ApplyPolicies, err = applyPolicies(rp, cfg)
		if err == nil && p.Logic == "" {
			p.Logic = "POSITIVE"
		}
	case p.Type == TypeResource:
		if p.ApplyPolicies, err = applyPolicies(rp, cfg); err != nil {
			return nil, err
		}
		if p.Resources, err = stringsOrConfig(rp.Resources, cfg, "resources"); err != nil {
			return nil, err
		}
		t, typed := cfg["defaultResourceType"]
		p.ResourceType, p.TypedKey = t, typed
		if p.TypedKey && p.ResourceType == "" && cfg["default"] == "true" && len(p.Resources) == 0 {
			return nil, invalidf("resource permission with default \"true\" but no defaultResourceType")
		}
		if p.ResourceType == "" && len(p.Resources) == 0 {
			s.warnf("permission %q applies to no resource", p.Name)
		}
		for _, r := range p.Resources {
			if !resNames[r] {
				return nil, invalidf("unknown resource %q", r)
			}
		}
	case p.Type == TypeScope:
		if p.ApplyPolicies, err = applyPolicies(rp, cfg); err != nil {
			return nil, err
		}
		if p.Resources, err = stringsOrConfig(rp.Resources, cfg, "resources"); err != nil {
			return nil, err
		}
		if p.Scopes, err = stringsOrConfig(rp.Scopes, cfg, "scopes"); err != nil {
			return nil, err
		}
		if len(p.Scopes) == 0 {
			return nil, invalidf("scope permission without scopes")
		}
		for _, r := range p.Resources {
			if !resNames[r] {
				return nil, invalidf("unknown resource %q", r)
			}
		}
		for _, sc := range p.Scopes {
			if !scopes[sc] {
				return nil, invalidf("unknown scope %q", sc)
			}
		}
	case p.Unsupported():
		// Reported by Translate, by name.
	default:
		return nil, invalidf("unknown policy type %q", p.Type)
	}
	if err != nil {
		return nil, err
	}
	if p.IsPermission() && p.Logic == "NEGATIVE" {
		s.warnf("permission %q has logic NEGATIVE, which Keycloak ignores on permissions", p.Name)
	}
	return p, nil
}

// jsonStrings decodes a config value holding a JSON array of strings.
func jsonStrings(cfg map[string]string, key string, required bool) ([]string, error) {
	v, ok := cfg[key]
	if !ok || strings.TrimSpace(v) == "" {
		if required {
			return nil, invalidf("config %q missing", key)
		}
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, invalidf("config %q is not a JSON array of strings", key)
	}
	return out, nil
}

// stringsOrConfig prefers the config value (export form) and falls back to
// the representation's top-level array (import form).
func stringsOrConfig(top []string, cfg map[string]string, key string) ([]string, error) {
	if _, ok := cfg[key]; ok {
		return jsonStrings(cfg, key, false)
	}
	return top, nil
}

func applyPolicies(rp *rawPolicy, cfg map[string]string) ([]string, error) {
	ps, err := stringsOrConfig(rp.Policies, cfg, "applyPolicies")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ps {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func boolConfig(cfg map[string]string, key string) (bool, error) {
	switch v := cfg[key]; v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, invalidf("config %q must be \"true\" or \"false\"", key)
	}
}

// refDef is the object form of role and client-scope definitions.
type refDef struct {
	ID       string `json:"id"`
	Required bool   `json:"required"`
}

// refDefs decodes "[{\"id\":…,\"required\":…}]" or the legacy "[\"a\"]".
func refDefs(cfg map[string]string, key string) ([]refDef, error) {
	v, ok := cfg[key]
	if !ok || strings.TrimSpace(v) == "" {
		return nil, invalidf("config %q missing", key)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v), &raws); err != nil {
		return nil, invalidf("config %q is not a JSON array", key)
	}
	out := make([]refDef, 0, len(raws))
	for _, raw := range raws {
		var d refDef
		var str string
		if err := json.Unmarshal(raw, &str); err == nil {
			d.ID = str
		} else if err := json.Unmarshal(raw, &d); err != nil {
			return nil, invalidf("config %q: entries must be names or {\"id\",\"required\"} objects", key)
		}
		if d.ID == "" {
			return nil, invalidf("config %q: entry without id", key)
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Settings) parseRoles(p *Policy, realm *realmInfo) error {
	defs, err := refDefs(p.Config, "roles")
	if err != nil {
		return err
	}
	if p.FetchRoles, err = boolConfig(p.Config, "fetchRoles"); err != nil {
		return err
	}
	for _, d := range defs {
		if realm != nil && !realm.roles[d.ID] {
			s.warnf("policy %q: role %q is not in the realm export; dropped (Keycloak skips roles that do not exist)", p.Name, d.ID)
			continue
		}
		r := RoleRef{Role: d.ID, Required: d.Required}
		if c, role, ok := strings.Cut(d.ID, "/"); ok {
			r.Client, r.Role = c, role
		}
		p.Roles = append(p.Roles, r)
	}
	return nil
}

func (s *Settings) parseGroups(p *Policy, realm *realmInfo) error {
	v := p.Config["groups"]
	var defs []struct {
		ID             string `json:"id"`
		Path           string `json:"path"`
		ExtendChildren bool   `json:"extendChildren"`
	}
	if err := json.Unmarshal([]byte(v), &defs); err != nil {
		return invalidf("config \"groups\" is not a JSON array of {\"path\",\"extendChildren\"}")
	}
	p.GroupsClaim = p.Config["groupsClaim"]
	for _, d := range defs {
		path := d.Path
		if path == "" && realm != nil {
			path = realm.groupIDs[d.ID]
		}
		if path == "" {
			return invalidf("group entry without a path (ids cannot be resolved without the realm export)")
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if realm != nil {
			if _, ok := realm.groups[path]; !ok {
				s.warnf("policy %q: group %q is not in the realm export; dropped", p.Name, path)
				continue
			}
		}
		p.Groups = append(p.Groups, GroupRef{Path: path, ExtendChildren: d.ExtendChildren})
	}
	return nil
}

func (s *Settings) parseClientScopes(p *Policy, realm *realmInfo) error {
	defs, err := refDefs(p.Config, "clientScopes")
	if err != nil {
		return err
	}
	for _, d := range defs {
		if realm != nil && realm.clientScopes != nil && !realm.clientScopes[d.ID] {
			s.warnf("policy %q: client scope %q is not in the realm export; dropped", p.Name, d.ID)
			continue
		}
		p.ClientScopes = append(p.ClientScopes, ClientScopeRef{Name: d.ID, Required: d.Required})
	}
	return nil
}

// Java's SimpleDateFormat pattern yyyy-MM-dd HH:mm:ss, as a Go layout.
const kcTimeLayout = "2006-01-02 15:04:05"

// parseTime validates a time policy's config.
func parseTime(cfg map[string]string) (*TimeWindow, error) {
	tw := &TimeWindow{}
	date := func(keys ...string) (string, error) {
		for _, k := range keys {
			v := strings.TrimSpace(cfg[k])
			if v == "" {
				continue
			}
			if len(v) == 10 {
				v += " 00:00:00"
			}
			if _, err := time.Parse(kcTimeLayout, v); err != nil {
				return "", invalidf("config %q is not yyyy-MM-dd[ HH:mm:ss]", k)
			}
			return v, nil
		}
		return "", nil
	}
	var err error
	if tw.NotBefore, err = date("nbf", "notBefore"); err != nil {
		return nil, err
	}
	if tw.NotOnOrAfter, err = date("noa", "notOnOrAfter"); err != nil {
		return nil, err
	}
	fields := []struct {
		key      string
		min, max int
		start    **int
		end      **int
	}{
		{"dayMonth", 1, 31, &tw.DayMonth, &tw.DayMonthEnd},
		{"month", 1, 12, &tw.Month, &tw.MonthEnd},
		{"year", 0, 1 << 30, &tw.Year, &tw.YearEnd},
		{"hour", 0, 23, &tw.Hour, &tw.HourEnd},
		{"minute", 0, 59, &tw.Minute, &tw.MinuteEnd},
	}
	for _, f := range fields {
		for i, k := range []string{f.key, f.key + "End"} {
			v, ok := cfg[k]
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < f.min || n > f.max {
				return nil, invalidf("config %q must be an integer in [%d, %d]", k, f.min, f.max)
			}
			if i == 0 {
				*f.start = &n
			} else {
				*f.end = &n
			}
		}
	}
	return tw, nil
}

// checkReferences validates applyPolicies references and rejects cycles.
func (s *Settings) checkReferences(names map[string]int) error {
	for i := range s.Policies {
		p := &s.Policies[i]
		for _, a := range p.ApplyPolicies {
			j, ok := names[a]
			if !ok {
				return policyErr(p.Name, p.Type, invalidf("associated policy %q does not exist", a))
			}
			if s.Policies[j].IsPermission() {
				return policyErr(p.Name, p.Type, invalidf("associated policy %q is a permission", a))
			}
		}
	}
	state := make([]int, len(s.Policies)) // 0 new, 1 visiting, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return policyErr(s.Policies[i].Name, s.Policies[i].Type, invalidf("aggregate policies form a cycle"))
		case 2:
			return nil
		}
		state[i] = 1
		for _, a := range s.Policies[i].ApplyPolicies {
			if err := visit(names[a]); err != nil {
				return err
			}
		}
		state[i] = 2
		return nil
	}
	for i := range s.Policies {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}
