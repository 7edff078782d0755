package keycloaktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file parses Keycloak authorization-settings exports (SPEC §8.1–§8.2):
// a standalone ResourceServerRepresentation, or a realm export whose
// clients[].authorizationSettings holds one. It is written from the SPEC
// and shares no code with policies/keycloak on purpose: the evaluator built
// from it is the oracle that package is tested against.

// errAuthz is the root of every load error.
var errAuthz = errors.New("keycloaktest: authorization settings")

func authzErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errAuthz}, args...)...)
}

// Policy types of SPEC §8.2.
const (
	ptRole        = "role"
	ptUser        = "user"
	ptClient      = "client"
	ptGroup       = "group"
	ptClientScope = "client-scope"
	ptRegex       = "regex"
	ptTime        = "time"
	ptAggregate   = "aggregate"
	ptResource    = "resource"
	ptScope       = "scope"
	ptUMA         = "uma"
	ptJS          = "js"
)

// Decision strategies and enforcement modes.
const (
	dsUnanimous   = "UNANIMOUS"
	dsAffirmative = "AFFIRMATIVE"
	dsConsensus   = "CONSENSUS"

	modeEnforcing  = "ENFORCING"
	modePermissive = "PERMISSIVE"
	modeDisabled   = "DISABLED"
)

// --- raw JSON shapes ---------------------------------------------------------

type rawSettings struct {
	ClientID               string          `json:"clientId"`
	PolicyEnforcementMode  string          `json:"policyEnforcementMode"`
	DecisionStrategy       string          `json:"decisionStrategy"`
	Resources              []rawResource   `json:"resources"`
	Policies               []rawPolicy     `json:"policies"`
	Scopes                 []rawScope      `json:"scopes"`
	AllowRemoteResourceMgt *bool           `json:"allowRemoteResourceManagement"`
	AuthorizationSchema    json.RawMessage `json:"authorizationSchema"`
}

type rawScope struct {
	Name string `json:"name"`
}

// rawScopeRef accepts {"name": …} or a bare string.
type rawScopeRef struct{ Name string }

func (r *rawScopeRef) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.Name)
	}
	var s rawScope
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	r.Name = s.Name
	return nil
}

// rawOwner accepts {"id": …, "name": …} or a bare string.
type rawOwner struct{ ID, Name string }

func (o *rawOwner) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &o.Name)
	}
	var m struct{ ID, Name string }
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	o.ID, o.Name = m.ID, m.Name
	return nil
}

type rawResource struct {
	ID                 string              `json:"_id"`
	AltID              string              `json:"id"`
	Name               string              `json:"name"`
	DisplayName        string              `json:"displayName"`
	Type               string              `json:"type"`
	URI                string              `json:"uri"`
	URIs               []string            `json:"uris"`
	Scopes             []rawScopeRef       `json:"scopes"`
	Owner              *rawOwner           `json:"owner"`
	OwnerManagedAccess bool                `json:"ownerManagedAccess"`
	Attributes         map[string][]string `json:"attributes"`
	IconURI            string              `json:"icon_uri"`
}

type rawPolicy struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Logic            string         `json:"logic"`
	DecisionStrategy string         `json:"decisionStrategy"`
	Config           map[string]any `json:"config"`
	Resources        []string       `json:"resources"`
	Scopes           []string       `json:"scopes"`
	Policies         []string       `json:"policies"`
}

type rawRealm struct {
	Realm   string      `json:"realm"`
	Users   []rawUser   `json:"users"`
	Clients []rawClient `json:"clients"`
	Groups  []rawGroup  `json:"groups"`
	Roles   *rawRoles   `json:"roles"`
	Scopes  []rawCScope `json:"clientScopes"`
}

type rawCScope struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type rawRoles struct {
	Realm  []rawRole            `json:"realm"`
	Client map[string][]rawRole `json:"client"`
}

type rawRole struct {
	Name       string `json:"name"`
	Composite  bool   `json:"composite"`
	Composites *struct {
		Realm  []string            `json:"realm"`
		Client map[string][]string `json:"client"`
	} `json:"composites"`
}

type rawClient struct {
	ClientID              string       `json:"clientId"`
	Secret                string       `json:"secret"`
	PublicClient          bool         `json:"publicClient"`
	BearerOnly            bool         `json:"bearerOnly"`
	AuthorizationSettings *rawSettings `json:"authorizationSettings"`
}

type rawUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	Enabled     *bool  `json:"enabled"`
	Email       string `json:"email"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Credentials []struct{ Type, Value string }
	RealmRoles  []string            `json:"realmRoles"`
	ClientRoles map[string][]string `json:"clientRoles"`
	Groups      []string            `json:"groups"`
	ServiceAcct string              `json:"serviceAccountClientId"`
}

type rawGroup struct {
	Name        string              `json:"name"`
	Path        string              `json:"path"`
	RealmRoles  []string            `json:"realmRoles"`
	ClientRoles map[string][]string `json:"clientRoles"`
	SubGroups   []rawGroup          `json:"subGroups"`
}

// --- parsed model -------------------------------------------------------------

// parsedExport is an export split into what the Server needs.
type parsedExport struct {
	settings *rawSettings
	realm    *rawRealm  // nil for a standalone ResourceServerRepresentation
	client   *rawClient // the chosen resource-server client of a realm export
}

// parseExport decodes export and picks the resource-server client of a realm
// export: named (if name != ""), else the one whose clientId is rsID, else
// the only client with authorizationSettings.
func parseExport(export []byte, name, rsID string) (*parsedExport, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(export))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, authzErr("export is not a JSON object")
	}
	if _, isRealm := top["clients"]; !isRealm {
		if _, hasRealm := top["realm"]; !hasRealm {
			var rs rawSettings
			if err := json.Unmarshal(export, &rs); err != nil {
				return nil, authzErr("invalid ResourceServerRepresentation: %v", jsonErrText(err))
			}
			return &parsedExport{settings: &rs}, nil
		}
	}
	var realm rawRealm
	if err := json.Unmarshal(export, &realm); err != nil {
		return nil, authzErr("invalid realm export: %v", jsonErrText(err))
	}
	var chosen *rawClient
	var withAuthz []*rawClient
	for i := range realm.Clients {
		c := &realm.Clients[i]
		if c.AuthorizationSettings == nil {
			continue
		}
		withAuthz = append(withAuthz, c)
		if name != "" && c.ClientID == name {
			chosen = c
		}
	}
	if name != "" && chosen == nil {
		return nil, authzErr("realm export has no client %q with authorizationSettings", name)
	}
	if chosen == nil {
		for _, c := range withAuthz {
			if c.ClientID == rsID {
				chosen = c
			}
		}
	}
	if chosen == nil && len(withAuthz) == 1 {
		chosen = withAuthz[0]
	}
	if chosen == nil {
		return nil, authzErr("realm export: cannot choose the resource-server client (%d candidates); use WithAuthorizationClient", len(withAuthz))
	}
	return &parsedExport{settings: chosen.AuthorizationSettings, realm: &realm, client: chosen}, nil
}

// jsonErrText keeps decoder errors short and free of input bytes.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "wrong type for field " + strconv.Quote(te.Field)
	}
	return "malformed JSON"
}

// azPolicy is a parsed policy or permission.
type azPolicy struct {
	idx      int
	id, name string
	typ      string
	negative bool
	strategy string
	// Permissions (resource, scope, uma).
	resourceNames []string // resolved to ids by the loader
	resourceIDs   []string
	resourceType  string // defaultResourceType
	scopes        []string
	applyNames    []string
	apply         []*azPolicy
	// Policies.
	roles        []azRoleDef
	fetchRoles   bool
	users        []string
	clients      []string
	groups       []azGroupDef
	groupsClaim  string
	clientScopes []azRoleDef // name + required
	targetClaim  string
	targetCtx    bool
	pattern      *regexp.Regexp
	tm           *azTime
	unsupported  bool
}

type azRoleDef struct {
	client, name string // client == "" for a realm role (or a client scope)
	required     bool
}

type azGroupDef struct {
	ref            string // a path ("/a/b"), or a name/id to resolve
	extendChildren bool
}

// azTime is a time policy; nil fields are absent.
type azTime struct {
	nbf, noa *time.Time
	ranges   [5]*[2]int // dayMonth, month, year, hour, minute: [start, end] inclusive
}

var timeFields = [5]string{"dayMonth", "month", "year", "hour", "minute"}

func (p *azPolicy) isPermission() bool {
	return p.typ == ptResource || p.typ == ptScope || p.typ == ptUMA
}

// cfgString returns config[key] as Keycloak stores it (a string; other JSON
// values re-encoded).
func cfgString(cfg map[string]any, key string) (string, bool) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return "", false
	}
	if s, isStr := v.(string); isStr {
		return s, true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// cfgList decodes a JSON-encoded string list config value ("[\"a\",\"b\"]").
func cfgList(cfg map[string]any, key string) ([]string, error) {
	s, ok := cfgString(cfg, key)
	if !ok || strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, authzErr("config %q is not a JSON string list", key)
	}
	return out, nil
}

// cfgDefs decodes a list of {"id"|"path": …, "required"|"extendChildren": …}
// objects or bare strings.
func cfgDefs(cfg map[string]any, key string) ([]map[string]any, error) {
	s, ok := cfgString(cfg, key)
	if !ok || strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var items []any
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return nil, authzErr("config %q is not a JSON list", key)
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, map[string]any{"id": x})
		case map[string]any:
			out = append(out, x)
		default:
			return nil, authzErr("config %q has an invalid entry", key)
		}
	}
	return out, nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// parsePolicy parses one policy entry (SPEC §8.2 table).
func parsePolicy(idx int, rp rawPolicy) (*azPolicy, error) {
	name := strings.TrimSpace(rp.Name)
	if name == "" {
		return nil, authzErr("policy #%d has no name", idx)
	}
	p := &azPolicy{idx: idx, id: rp.ID, name: rp.Name, typ: rp.Type, strategy: dsUnanimous}
	switch strings.ToUpper(rp.Logic) {
	case "", "POSITIVE":
	case "NEGATIVE":
		p.negative = true
	default:
		return nil, authzErr("policy %q: unknown logic", name)
	}
	switch strings.ToUpper(rp.DecisionStrategy) {
	case "", dsUnanimous:
	case dsAffirmative:
		p.strategy = dsAffirmative
	case dsConsensus:
		p.strategy = dsConsensus
	default:
		return nil, authzErr("policy %q: unknown decisionStrategy", name)
	}
	cfg := rp.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	var err error
	if p.applyNames, err = cfgList(cfg, "applyPolicies"); err != nil {
		return nil, err
	}
	if p.applyNames == nil {
		p.applyNames = rp.Policies
	}
	switch {
	case p.typ == ptResource || p.typ == ptScope || p.typ == ptUMA:
		if p.resourceNames, err = cfgList(cfg, "resources"); err != nil {
			return nil, err
		}
		if p.resourceNames == nil {
			p.resourceNames = rp.Resources
		}
		if p.scopes, err = cfgList(cfg, "scopes"); err != nil {
			return nil, err
		}
		if p.scopes == nil {
			p.scopes = rp.Scopes
		}
		if p.typ == ptResource {
			p.resourceType, _ = cfgString(cfg, "defaultResourceType")
			p.resourceType = strings.TrimSpace(p.resourceType)
			p.scopes = nil // resource permissions have no scopes
		}
		if p.typ == ptScope && len(p.scopes) == 0 {
			return nil, authzErr("scope permission %q has no scopes", name)
		}
		p.unsupported = p.typ == ptUMA
	case p.typ == ptRole:
		defs, err := cfgDefs(cfg, "roles")
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			ref, _ := d["id"].(string)
			if ref == "" {
				ref, _ = d["name"].(string)
			}
			if ref == "" {
				return nil, authzErr("role policy %q: role without id", name)
			}
			rd := azRoleDef{name: ref, required: truthy(d["required"])}
			// "clientId/roleName" names a client role. Client ids may contain
			// '/' (URL-style ids), role names rarely do: split on the last one.
			if i := strings.LastIndex(ref, "/"); i > 0 && i < len(ref)-1 {
				rd.client, rd.name = ref[:i], ref[i+1:]
			}
			p.roles = append(p.roles, rd)
		}
		fr, _ := cfgString(cfg, "fetchRoles")
		p.fetchRoles = strings.EqualFold(fr, "true")
	case p.typ == ptUser:
		if p.users, err = cfgList(cfg, "users"); err != nil {
			return nil, err
		}
	case p.typ == ptClient:
		if p.clients, err = cfgList(cfg, "clients"); err != nil {
			return nil, err
		}
	case p.typ == ptGroup:
		defs, err := cfgDefs(cfg, "groups")
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			ref, _ := d["path"].(string)
			if ref == "" {
				ref, _ = d["id"].(string)
			}
			if ref == "" {
				return nil, authzErr("group policy %q: group without path", name)
			}
			p.groups = append(p.groups, azGroupDef{ref: ref, extendChildren: truthy(d["extendChildren"])})
		}
		p.groupsClaim, _ = cfgString(cfg, "groupsClaim")
	case p.typ == ptClientScope:
		defs, err := cfgDefs(cfg, "clientScopes")
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			ref, _ := d["id"].(string)
			if ref == "" {
				ref, _ = d["name"].(string)
			}
			p.clientScopes = append(p.clientScopes, azRoleDef{name: ref, required: truthy(d["required"])})
		}
	case p.typ == ptRegex:
		p.targetClaim, _ = cfgString(cfg, "targetClaim")
		tc, _ := cfgString(cfg, "targetContextAttributes")
		p.targetCtx = strings.EqualFold(tc, "true")
		pat, _ := cfgString(cfg, "pattern")
		if p.targetClaim == "" || pat == "" {
			return nil, authzErr("regex policy %q needs targetClaim and pattern", name)
		}
		// Java's Matcher.matches() requires the whole input to match: anchor
		// the pattern. Go's RE2 syntax differs from java.util.regex: no
		// look-around, back-references, possessive quantifiers or atomic
		// groups (such patterns fail to load here), and \s, \w, \b, \d are
		// ASCII-only in both by default, but Java's `.` excludes more line
		// terminators (\r, \u0085, \u2028, \u2029) than Go's (\n only), and
		// POSIX classes are spelled \p{Alpha} in Java, [[:alpha:]] in Go.
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return nil, authzErr("regex policy %q: pattern not supported by Go regexp (RE2)", name)
		}
		p.pattern = re
	case p.typ == ptTime:
		if p.tm, err = parseTimePolicy(name, cfg); err != nil {
			return nil, err
		}
	case p.typ == ptAggregate:
	case p.typ == ptJS || strings.HasPrefix(p.typ, "script-"):
		p.unsupported = true
	default:
		return nil, authzErr("policy %q: unknown type", name)
	}
	return p, nil
}

// parseTimePolicy reads nbf/noa (or the admin names notBefore/notOnOrAfter)
// and the five ranges. Values Keycloak would fail on at evaluation (a bad
// date or number ⇒ server error) are rejected at load.
func parseTimePolicy(name string, cfg map[string]any) (*azTime, error) {
	t := &azTime{}
	date := func(keys ...string) (*time.Time, error) {
		for _, k := range keys {
			v, ok := cfgString(cfg, k)
			if !ok || strings.TrimSpace(v) == "" {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) == 10 {
				v += " 00:00:00"
			}
			tv, err := time.ParseInLocation("2006-01-02 15:04:05", v, time.UTC)
			if err != nil {
				return nil, authzErr("time policy %q: %s is not yyyy-MM-dd[ HH:mm:ss]", name, k)
			}
			return &tv, nil
		}
		return nil, nil
	}
	var err error
	if t.nbf, err = date("nbf", "notBefore"); err != nil {
		return nil, err
	}
	if t.noa, err = date("noa", "notOnOrAfter"); err != nil {
		return nil, err
	}
	for i, f := range timeFields {
		start, ok := cfgString(cfg, f)
		if !ok {
			continue
		}
		sv, err := strconv.Atoi(strings.TrimSpace(start))
		if err != nil {
			return nil, authzErr("time policy %q: %s is not an integer", name, f)
		}
		r := [2]int{sv, sv}
		if end, ok := cfgString(cfg, f+"End"); ok {
			ev, err := strconv.Atoi(strings.TrimSpace(end))
			if err != nil {
				return nil, authzErr("time policy %q: %sEnd is not an integer", name, f)
			}
			r[1] = ev
		}
		t.ranges[i] = &r
	}
	return t, nil
}

// azGroup is a realm group (path and role mappings).
type azGroup struct {
	path        string
	realmRoles  []string
	clientRoles map[string][]string
}

func flattenGroups(in []rawGroup, parent string, out map[string]*azGroup) {
	for _, g := range in {
		path := g.Path
		if path == "" {
			path = parent + "/" + g.Name
		}
		out[path] = &azGroup{path: path, realmRoles: g.RealmRoles, clientRoles: g.ClientRoles}
		flattenGroups(g.SubGroups, path, out)
	}
}
