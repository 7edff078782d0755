package keycloak

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Package paths of the generated Rego.
const (
	// PackageOffline is the evaluator's package; its rule permission is the
	// entry point (data.rptguard.offline.permission).
	PackageOffline = "rptguard.offline"
	// PackagePolicies holds one rule per Keycloak policy or permission.
	PackagePolicies = "rptguard.offline.policies"
	// EntryPoint is the query that yields the permission Keycloak would
	// grant for input.resource and input.required_scopes.
	EntryPoint = "data.rptguard.offline.permission"
)

// Mapping says how an unsupported policy (JavaScript, script-*, uma) is
// evaluated offline. Build one with [MapAllow], [MapDeny] or [MapRule].
type Mapping struct {
	kind string // "allow", "deny", "rule"
	ref  string
}

// MapAllow makes the policy PERMIT, for every subject and request.
func MapAllow() Mapping { return Mapping{kind: "allow"} }

// MapDeny makes the policy DENY, for every subject and request.
func MapDeny() Mapping { return Mapping{kind: "deny"} }

// MapRule makes the policy PERMIT exactly when the Rego rule at ref
// ("data.rptguard.rules.owner_only") is true. The rule is the caller's own
// policy, loaded next to the generated modules; it sees the same input.
func MapRule(ref string) Mapping { return Mapping{kind: "rule", ref: ref} }

// Option configures [Translate].
type Option func(*options)

type options struct {
	loc      *time.Location
	mappings map[string]Mapping
}

// WithTimeZone sets the time zone in which time policies' fields (hour,
// day of month, nbf/noa wall-clock times…) are read. Keycloak uses the
// server's local time zone; the default here is UTC. The location must have
// an IANA name OPA can load (time.Local is refused).
func WithTimeZone(loc *time.Location) Option { return func(o *options) { o.loc = loc } }

// WithPolicyMapping maps the unsupported policy named name (a JavaScript,
// script-* or uma policy) to allow, deny or a Rego rule of the caller's.
// Without a mapping for each such policy, [Translate] fails with
// [ErrUnsupportedPolicy]: unsupported policies are never silently allowed.
// The mapping gives the policy's effect, logic included.
func WithPolicyMapping(name string, m Mapping) Option {
	return func(o *options) {
		if o.mappings == nil {
			o.mappings = map[string]Mapping{}
		}
		o.mappings[name] = m
	}
}

// Path is an enforcer path derived from a resource's URIs (SPEC §1.3,
// §1.6): what a Keycloak enforcer would load from the server at start-up.
type Path struct {
	// Name is the resource's name (bind the path to it by name).
	Name string
	// Paths are the resource's URIs, in export order.
	Paths []string
	// Scopes are the resource's scopes (used with ANY for methods that have
	// no method config).
	Scopes []string
	// Type is the resource's type, informational.
	Type string
	// ID is the export's resource id, if any.
	ID string
}

// Result is a translation: Rego modules and a data document reproducing
// the resource server's decisions, enforcer paths, and warnings.
type Result struct {
	// Modules maps file names ("rptguard/offline/policies.rego") to Rego v1
	// source: the evaluator and helpers (fixed text), the generated
	// policies and the generated resource rules
	// ("rptguard/offline/resources.rego").
	Modules map[string]string
	// Data is the data document, rooted at data (its model is at
	// data.rptguard.offline.model): resources and permissions, and the
	// resource rules by resource name (rules) and by id (rule_ids).
	Data map[string]any
	// Paths are enforcer paths from the resources' URIs (resources without
	// URIs are skipped, as Keycloak's enforcer does).
	Paths []Path
	// Warnings are things that evaluate differently offline than in
	// Keycloak, or need server data (fetchRoles, database group membership,
	// dropped references…). Review them before relying on the result.
	Warnings []string
}

// Translate turns parsed settings into Rego and data (SPEC §8.3): for a
// subject's token (input.token) and a request (input.resource,
// input.required_scopes), data.rptguard.offline.permission is the
// permission Keycloak's UMA grant with response_mode=permissions would
// issue ({rsid, rsname, scopes}), undefined when none.
//
// It fails with [ErrUnsupportedPolicy] ([*UnsupportedError]) when a
// JavaScript, script-* or uma policy is used without a [WithPolicyMapping],
// and with [ErrInvalidSettings] for invalid options or mappings.
func Translate(s *Settings, opts ...Option) (*Result, error) {
	if s == nil {
		return nil, invalidf("nil settings")
	}
	o := options{loc: time.UTC}
	for _, opt := range opts {
		opt(&o)
	}
	if o.loc == nil || o.loc.String() == "Local" || o.loc.String() == "" {
		return nil, invalidf("time zone must be an IANA location (not time.Local)")
	}
	tr := &translator{s: s, o: &o, rules: map[string]string{}, used: map[string]bool{}}
	if err := tr.checkMappings(); err != nil {
		return nil, err
	}
	for i := range s.Policies {
		tr.ruleName(&s.Policies[i])
	}
	tr.resRules = resourceRuleNames(s.Resources)
	res := &Result{Warnings: slices.Clone(s.Warnings)}
	mod, err := tr.module()
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, tr.warnings...)
	res.Modules = map[string]string{
		"rptguard/offline/offline.rego":   offlineRego,
		"rptguard/offline/lib.rego":       libRego,
		"rptguard/offline/policies.rego":  mod,
		"rptguard/offline/resources.rego": tr.resourcesModule(),
	}
	res.Data = map[string]any{"rptguard": map[string]any{"offline": map[string]any{"model": tr.model()}}}
	for _, r := range s.Resources {
		if len(r.URIs) == 0 {
			continue
		}
		res.Paths = append(res.Paths, Path{
			Name: r.Name, Paths: slices.Clone(r.URIs), Scopes: slices.Clone(r.Scopes), Type: r.Type, ID: r.ID,
		})
	}
	return res, nil
}

type translator struct {
	s        *Settings
	o        *options
	rules    map[string]string // policy name → rule name
	used     map[string]bool
	resRules []string // resource rule names, by index in s.Resources
	// usesOffline, usesPolicies: the resources module refers to the
	// evaluator's functions, to the policies (its imports).
	usesOffline, usesPolicies bool
	warnings                  []string
}

var validRef = regexp.MustCompile(`^data(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

func (tr *translator) checkMappings() error {
	var unmapped []string
	known := map[string]bool{}
	for i := range tr.s.Policies {
		p := &tr.s.Policies[i]
		known[p.Name] = true
		if !p.Unsupported() {
			continue
		}
		m, ok := tr.o.mappings[p.Name]
		if !ok {
			unmapped = append(unmapped, fmt.Sprintf("%q (%s)", p.Name, p.Type))
			continue
		}
		switch m.kind {
		case "allow", "deny":
		case "rule":
			if !validRef.MatchString(m.ref) || strings.HasPrefix(m.ref, "data.rptguard.offline") {
				return policyErr(p.Name, p.Type, invalidf("mapping rule must be a data.<pkg>.<rule> reference outside data.rptguard.offline"))
			}
		default:
			return policyErr(p.Name, p.Type, invalidf("empty mapping (use MapAllow, MapDeny or MapRule)"))
		}
	}
	if len(unmapped) > 0 {
		return &UnsupportedError{Policies: unmapped}
	}
	for name, m := range tr.o.mappings {
		if !known[name] {
			return invalidf("mapping for unknown policy %q", name)
		}
		_ = m
	}
	for name := range tr.o.mappings {
		for i := range tr.s.Policies {
			if p := &tr.s.Policies[i]; p.Name == name && !p.Unsupported() {
				return policyErr(p.Name, p.Type, invalidf("only js, script-* and uma policies can be mapped"))
			}
		}
	}
	return nil
}

var regoKeywords = map[string]bool{
	"as": true, "contains": true, "data": true, "default": true, "else": true, "every": true, "false": true,
	"if": true, "import": true, "in": true, "input": true, "not": true, "null": true, "package": true,
	"some": true, "true": true, "with": true, "lib": true, "future": true, "rego": true,
}

// ruleName assigns p a unique Rego identifier derived from its name.
func (tr *translator) ruleName(p *Policy) string {
	if r, ok := tr.rules[p.Name]; ok {
		return r
	}
	base := identifier(p.Name, "p_")
	name := base
	for i := 2; tr.used[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	tr.used[name] = true
	tr.rules[p.Name] = name
	return name
}

// identifier derives a Rego identifier from a name: lower-case letters and
// digits, other runs as "_", prefix added when it would start with a digit,
// be empty or be a keyword; at most 60 characters. Not unique.
func identifier(s, prefix string) string {
	var b strings.Builder
	under := false
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	base := strings.TrimRight(b.String(), "_")
	if base == "" || (base[0] >= '0' && base[0] <= '9') || regoKeywords[base] {
		base = prefix + base
	}
	base = strings.TrimRight(base, "_")
	if len(base) > 60 {
		base = strings.TrimRight(base[:60], "_")
	}
	return base
}

// lit is a Rego string literal (JSON).
func lit(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// comment makes arbitrary text safe for a one-line Rego comment.
func comment(s string) string { return strconv.Quote(s) }

func (tr *translator) module() (string, error) {
	s := tr.s
	var b strings.Builder
	src := "standalone authorization settings export"
	if s.Realm != "" {
		src = fmt.Sprintf("realm export %s, client %s", comment(s.Realm), comment(s.ClientID))
	} else if s.ClientID != "" {
		src = fmt.Sprintf("authorization settings of client %s", comment(s.ClientID))
	}
	fmt.Fprintf(&b, `# Code generated by rptguard (policies/keycloak) from Keycloak authorization
# settings. DO NOT EDIT: regenerate from the export instead.
#
# Source: %s
# Resource server: policyEnforcementMode %s, decisionStrategy %s
# %d resources, %d policies and permissions; time policies read in %s.
#
# One rule per Keycloak policy or permission, named after it (the original
# name is in the comment above each rule). A rule is true when the policy's
# effect is PERMIT (its logic applied); policies that neither grant nor deny
# are DENY, as in Keycloak (SPEC §8.3). Permissions combine their associated
# policies with their decision strategy. data.rptguard.offline evaluates the
# permissions for input.resource and input.required_scopes.
package %s
`, src, s.PolicyEnforcementMode, s.DecisionStrategy, len(s.Resources), len(s.Policies), tr.o.loc.String(), PackagePolicies)
	head := b.String()
	b.Reset()
	for i := range s.Policies {
		p := &s.Policies[i]
		body, err := tr.policyRules(p)
		if err != nil {
			return "", policyErr(p.Name, p.Type, err)
		}
		b.WriteString("\n")
		kind := "policy"
		if p.IsPermission() {
			kind = "permission"
		}
		fmt.Fprintf(&b, "# Keycloak %s %s %s", p.Type, kind, comment(p.Name))
		if p.IsPermission() || p.Type == TypeAggregate {
			fmt.Fprintf(&b, ", decisionStrategy %s", p.DecisionStrategy)
		}
		if !p.IsPermission() {
			fmt.Fprintf(&b, ", logic %s", p.Logic)
		}
		b.WriteString("\n")
		if p.Description != "" {
			fmt.Fprintf(&b, "# %s\n", comment(p.Description))
		}
		b.WriteString(body)
	}
	if strings.Contains(b.String(), "lib.") {
		head += "\nimport data.rptguard.offline.lib\n"
	}
	return head + b.String(), nil
}

// policyRules renders the rules of one policy: default false, then the
// PERMIT condition (inverted through a helper for NEGATIVE logic).
func (tr *translator) policyRules(p *Policy) (string, error) {
	name := tr.rules[p.Name]
	var b strings.Builder
	fmt.Fprintf(&b, "default %s := false\n", name)
	if p.Unsupported() {
		m := tr.o.mappings[p.Name]
		switch m.kind {
		case "allow":
			fmt.Fprintf(&b, "\n# unsupported offline (%s); mapped to allow by the caller\n%s := true\n", p.Type, name)
		case "deny":
			fmt.Fprintf(&b, "\n# unsupported offline (%s); mapped to deny by the caller\n", p.Type)
		case "rule":
			fmt.Fprintf(&b, "\n# unsupported offline (%s); mapped by the caller to %s\n%s if %s == true\n", p.Type, m.ref, name, m.ref)
		}
		return b.String(), nil
	}
	if p.IsPermission() {
		if len(p.ApplyPolicies) == 0 {
			b.WriteString("\n# no associated policies: Keycloak records no result for this permission\n")
			return b.String(), nil
		}
		b.WriteString("\n")
		b.WriteString(tr.combine(name, p.DecisionStrategy, p.ApplyPolicies))
		return b.String(), nil
	}
	conds, err := tr.conditions(p)
	if err != nil {
		return "", err
	}
	target := name
	if p.Logic == "NEGATIVE" {
		target = "_" + name + "_condition"
		fmt.Fprintf(&b, "\n# logic NEGATIVE: PERMIT when the condition does not hold\n%s if not %s\n", name, target)
	}
	b.WriteString("\n")
	if conds == nil {
		fmt.Fprintf(&b, "# nothing can grant: the policy has no effect (DENY)\n%s if false\n", target)
		return b.String(), nil
	}
	for i, c := range conds {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s if {\n", target)
		for _, line := range c {
			fmt.Fprintf(&b, "\t%s\n", line)
		}
		b.WriteString("}\n")
	}
	return b.String(), nil
}

// combine renders a decision strategy over associated policies (aggregate
// and permissions, SPEC §8.3 step 3).
func (tr *translator) combine(target, strategy string, apply []string) string {
	refs := make([]string, len(apply))
	for i, a := range apply {
		refs[i] = tr.rules[a]
	}
	var b strings.Builder
	switch strategy {
	case "AFFIRMATIVE":
		fmt.Fprintf(&b, "# AFFIRMATIVE: at least one associated policy permits\n")
		for _, r := range refs {
			fmt.Fprintf(&b, "%s if %s\n", target, r)
		}
	case "CONSENSUS":
		fmt.Fprintf(&b, "# CONSENSUS: more associated policies permit than deny (ties deny)\n")
		fmt.Fprintf(&b, "%s if {\n\tpermits := count([1 | some ok in [%s]; ok])\n\tpermits * 2 > %d\n}\n",
			target, strings.Join(refs, ", "), len(refs))
	default:
		fmt.Fprintf(&b, "# UNANIMOUS: every associated policy permits\n%s if {\n", target)
		for _, r := range refs {
			fmt.Fprintf(&b, "\t%s\n", r)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// conditions returns the alternative bodies (OR of ANDs) under which the
// policy's own evaluation grants, before logic. nil: it never grants.
func (tr *translator) conditions(p *Policy) ([][]string, error) {
	switch p.Type {
	case TypeRole:
		if p.FetchRoles {
			tr.warnf("policy %q: fetchRoles reads roles from Keycloak's database; offline it is evaluated from the token's realm_access/resource_access", p.Name)
		}
		if len(p.Roles) == 0 {
			return nil, nil
		}
		// Constants inlined: each role is a membership test on the token.
		has := func(r RoleRef) string {
			if r.Client == "" {
				return fmt.Sprintf("%s in input.token.realm_access.roles", lit(r.Role))
			}
			return fmt.Sprintf("%s in input.token.resource_access[%s].roles", lit(r.Role), lit(r.Client))
		}
		var req []string
		for _, r := range p.Roles {
			if r.Required {
				req = append(req, has(r)+" # required")
			}
		}
		if len(req) > 0 {
			// Holding a required role is holding one of the roles.
			return [][]string{req}, nil
		}
		var out [][]string
		for _, r := range p.Roles {
			out = append(out, []string{has(r) + " # any of the roles"})
		}
		return out, nil
	case TypeUser:
		if len(p.Users) == 0 {
			return nil, nil
		}
		tr.warnf("policy %q: users are matched by the token's preferred_username (and sub when the realm export gives user ids)", p.Name)
		out := [][]string{{fmt.Sprintf("input.token.preferred_username in %s", strSet(p.Users))}}
		if len(p.UserIDs) > 0 {
			out = append(out, []string{fmt.Sprintf("input.token.sub in %s # user ids", strSet(p.UserIDs))})
		}
		return out, nil
	case TypeClient:
		if len(p.Clients) == 0 {
			return nil, nil
		}
		return [][]string{{fmt.Sprintf("input.token.azp in %s", strSet(p.Clients))}}, nil
	case TypeGroup:
		if len(p.Groups) == 0 {
			return nil, nil
		}
		claim := p.GroupsClaim
		if claim == "" {
			claim = "groups"
			tr.warnf("policy %q: Keycloak reads group membership from its database; offline it is read from the token's \"groups\" claim (group membership mapper, full paths)", p.Name)
		} else {
			tr.warnf("policy %q: Keycloak also requires database membership; offline only the token's %q claim is checked", p.Name, claim)
		}
		var defs []string
		for _, g := range p.Groups {
			name := g.Path[strings.LastIndex(g.Path, "/")+1:]
			defs = append(defs, fmt.Sprintf("{\"path\": %s, \"name\": %s, \"extend_children\": %t}", lit(g.Path), lit(name), g.ExtendChildren))
		}
		return [][]string{{fmt.Sprintf("lib.in_groups(%s, [%s])", lit(claim), strings.Join(defs, ", "))}}, nil
	case TypeClientScope:
		if len(p.ClientScopes) == 0 {
			return nil, nil
		}
		var all []string
		var c []string
		for _, cs := range p.ClientScopes {
			all = append(all, lit(cs.Name))
			if cs.Required {
				c = append(c, fmt.Sprintf("%s in lib.token_scopes # required", lit(cs.Name)))
			}
		}
		c = append(c, fmt.Sprintf("some s in [%s]", strings.Join(all, ", ")), "s in lib.token_scopes")
		return [][]string{c}, nil
	case TypeRegex:
		re, err := javaToRE2(p.Pattern)
		if err != nil {
			return nil, err
		}
		var values string
		if p.TargetContextAttributes {
			values = fmt.Sprintf("lib.context_values(%s)", lit(p.TargetClaim))
		} else {
			values = fmt.Sprintf("lib.claim_values(%s)", strList(splitClaimPath(p.TargetClaim)))
		}
		return [][]string{{"some v in " + values, fmt.Sprintf("regex.match(%s, v) # Java: %s", lit(re), comment(p.Pattern))}}, nil
	case TypeTime:
		return tr.timeConditions(p)
	case TypeAggregate:
		if len(p.ApplyPolicies) == 0 {
			return nil, nil
		}
		// combine() renders rules; here we need bodies: rebuild them.
		refs := make([]string, len(p.ApplyPolicies))
		for i, a := range p.ApplyPolicies {
			refs[i] = tr.rules[a]
		}
		switch p.DecisionStrategy {
		case "AFFIRMATIVE":
			out := make([][]string, len(refs))
			for i, r := range refs {
				out[i] = []string{r + " # AFFIRMATIVE: one permit suffices"}
			}
			return out, nil
		case "CONSENSUS":
			return [][]string{{
				fmt.Sprintf("permits := count([1 | some ok in [%s]; ok]) # CONSENSUS", strings.Join(refs, ", ")),
				fmt.Sprintf("permits * 2 > %d", len(refs)),
			}}, nil
		default:
			c := make([]string, len(refs))
			for i, r := range refs {
				c[i] = r
			}
			c[0] += " # UNANIMOUS: every associated policy permits"
			return [][]string{c}, nil
		}
	}
	return nil, errors.Join(ErrInvalidSettings, fmt.Errorf("cannot translate policy type %q", p.Type))
}

// splitClaimPath splits "a.b" into segments; "\." escapes a dot, as in
// Keycloak's JsonUtils.splitClaimPath.
func splitClaimPath(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '.':
			cur.WriteByte('.')
			i++
		case s[i] == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

func (tr *translator) timeConditions(p *Policy) ([][]string, error) {
	tw := p.Time
	tz := tr.o.loc.String()
	c := []string{"now := time.now_ns() # the engine's clock, never a pushed claim"}
	if tw.NotBefore != "" {
		t, err := time.ParseInLocation(kcTimeLayout, tw.NotBefore, tr.o.loc)
		if err != nil {
			return nil, invalidf("config \"nbf\" is not yyyy-MM-dd HH:mm:ss")
		}
		c = append(c, fmt.Sprintf("now >= %d # nbf %s", t.UnixNano(), tw.NotBefore))
	}
	if tw.NotOnOrAfter != "" {
		t, err := time.ParseInLocation(kcTimeLayout, tw.NotOnOrAfter, tr.o.loc)
		if err != nil {
			return nil, invalidf("config \"noa\" is not yyyy-MM-dd HH:mm:ss")
		}
		// Keycloak denies when now is after noa at millisecond precision.
		c = append(c, fmt.Sprintf("now <= %d # noa %s (inclusive, ms precision)", t.UnixNano()+999_999, tw.NotOnOrAfter))
	}
	type field struct {
		v          string
		start, end *int
		key        string
	}
	fields := []field{
		{"date[2]", tw.DayMonth, tw.DayMonthEnd, "dayMonth"},
		{"date[1]", tw.Month, tw.MonthEnd, "month"},
		{"date[0]", tw.Year, tw.YearEnd, "year"},
		{"clock[0]", tw.Hour, tw.HourEnd, "hour"},
		{"clock[1]", tw.Minute, tw.MinuteEnd, "minute"},
	}
	needDate, needClock := false, false
	var checks []string
	for _, f := range fields {
		if f.start == nil {
			if f.end != nil {
				tr.warnf("policy %q: %sEnd without %s is ignored, as in Keycloak", p.Name, f.key, f.key)
			}
			continue
		}
		if strings.HasPrefix(f.v, "date") {
			needDate = true
		} else {
			needClock = true
		}
		if f.end != nil {
			checks = append(checks, fmt.Sprintf("%s >= %d # %s", f.v, *f.start, f.key), fmt.Sprintf("%s <= %d # %sEnd", f.v, *f.end, f.key))
		} else {
			checks = append(checks, fmt.Sprintf("%s == %d # %s", f.v, *f.start, f.key))
		}
	}
	if needDate {
		c = append(c, fmt.Sprintf("date := time.date([now, %s])", lit(tz)))
	}
	if needClock {
		c = append(c, fmt.Sprintf("clock := time.clock([now, %s])", lit(tz)))
	}
	if len(c) == 1 && len(checks) == 0 {
		return [][]string{{"true # no time condition configured"}}, nil
	}
	return [][]string{append(c, checks...)}, nil
}

func (tr *translator) warnf(format string, args ...any) {
	tr.warnings = append(tr.warnings, fmt.Sprintf(format, args...))
}

func strList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = lit(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func strSet(ss []string) string {
	if len(ss) == 0 {
		return "set()"
	}
	u := slices.Clone(ss)
	sort.Strings(u)
	u = slices.Compact(u)
	parts := make([]string, len(u))
	for i, s := range u {
		parts[i] = lit(s)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// model is the data the evaluator reads: resources by name and the
// permissions with what they apply to.
func (tr *translator) model() map[string]any {
	s := tr.s
	resources := map[string]any{}
	rules, ruleIDs := map[string]any{}, map[string]any{}
	idCount := map[string]int{}
	for _, r := range s.Resources {
		idCount[r.ID]++
	}
	for i, r := range s.Resources {
		resources[r.Name] = map[string]any{
			"id": r.ID, "name": r.Name, "type": r.Type,
			"scopes": nonNil(r.Scopes), "uris": nonNil(r.URIs),
			"rule": tr.resRules[i],
		}
		// By id, for a request naming the resource by id only; an id the
		// export repeats names no resource.
		rules[r.Name] = tr.resRules[i]
		if r.ID != "" && idCount[r.ID] == 1 {
			ruleIDs[r.ID] = tr.resRules[i]
		}
	}
	for _, r := range s.Resources {
		var scopePerms, resPerms []string
		for i := range s.Policies {
			p := &s.Policies[i]
			switch p.Type {
			case TypeScope:
				if (len(p.Resources) == 0 || slices.Contains(p.Resources, r.Name)) && intersects(p.Scopes, r.Scopes) {
					scopePerms = append(scopePerms, p.Name)
				}
			case TypeResource:
				if slices.Contains(p.Resources, r.Name) || (p.ResourceType != "" && p.ResourceType == r.Type) {
					resPerms = append(resPerms, p.Name)
				}
			}
		}
		m := resources[r.Name].(map[string]any)
		m["scope_permissions"], m["resource_permissions"] = nonNil(scopePerms), nonNil(resPerms)
	}
	perms := map[string]any{}
	for i := range s.Policies {
		p := &s.Policies[i]
		if !p.IsPermission() {
			continue
		}
		// Keycloak's isTypedResourcePermission: a defaultResourceType key,
		// or a first resource that has a type (resources are owned by the
		// resource server here).
		typed := tr.typed(p)
		perms[p.Name] = map[string]any{
			"rule":          tr.rules[p.Name],
			"kind":          p.Type,
			"resources":     nonNil(p.Resources),
			"resource_type": p.ResourceType,
			"scopes":        nonNil(p.Scopes),
			"typed":         typed,
			"policies":      len(p.ApplyPolicies),
		}
	}
	return map[string]any{
		"client_id":               s.ClientID,
		"policy_enforcement_mode": s.PolicyEnforcementMode,
		"decision_strategy":       s.DecisionStrategy,
		"resources":               resources,
		"rules":                   rules,
		"rule_ids":                ruleIDs,
		"permissions":             perms,
	}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return slices.Clone(ss)
}
