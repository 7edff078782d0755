package keycloaktest

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// This file is the policy evaluator of SPEC §8.3, written independently of
// policies/keycloak (it is the oracle that package is tested against).

// authzEvaluator is the Evaluator over the loaded authorization settings.
type authzEvaluator struct{ s *Server }

var _ Evaluator = authzEvaluator{}

// resPerm is Keycloak's ResourcePermission: a resource (nil for a
// scope-only request) and the scopes asked for.
type resPerm struct {
	res    *resource
	scopes []string
}

// Evaluate implements Evaluator.
func (e authzEvaluator) Evaluate(_ context.Context, sub Subject, req []RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error) {
	s := e.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.authz
	if st == nil {
		return nil, nil
	}
	ev := &evaluation{s: s, st: st, sub: sub, pushed: pushed, now: s.cfg.now().UTC()}
	var out []rpt.Permission
	for _, rp := range ev.permissionsToEvaluate(req) {
		out = append(out, ev.evaluate(rp)...)
	}
	return out, nil
}

// evaluation is one UMA grant's evaluation.
type evaluation struct {
	s      *Server
	st     *authzState
	sub    Subject
	pushed map[string][]string
	now    time.Time
}

// typedScopes returns the scopes r inherits: for a user-owned typed
// resource, those of the resource server's resources of its type.
func (ev *evaluation) typedScopes(r *resource) []string {
	var out []string
	if r.ownerIsRS || r.Type == "" {
		return nil
	}
	for _, t := range ev.s.resources {
		if t.ownerIsRS && t.Type == r.Type {
			out = appendUnique(out, t.Scopes...)
		}
	}
	return out
}

// permissionFor builds the ResourcePermission of r: every scope of r when
// none is asked for, else the asked scopes r has; user-owned typed resources
// then also get every scope of their typed parents (Keycloak's
// populateTypedScopes adds them even to an explicit scope request).
func (ev *evaluation) permissionFor(r *resource, asked []string) []string {
	var scopes []string
	if len(asked) == 0 {
		scopes = slices.Clone(r.Scopes)
	} else {
		for _, sc := range asked {
			if slices.Contains(r.Scopes, sc) {
				scopes = appendUnique(scopes, sc)
			}
		}
	}
	return appendUnique(scopes, ev.typedScopes(r)...)
}

// permissionsToEvaluate turns the request into ResourcePermissions, merged
// per resource in first-seen order. No request ⇒ every resource of the
// resource server, then the requester's own.
func (ev *evaluation) permissionsToEvaluate(req []RequestedPermission) []*resPerm {
	var order []*resPerm
	byID := map[string]*resPerm{}
	add := func(r *resource, scopes []string) {
		key := ""
		if r != nil {
			key = r.ID
		}
		if p := byID[key]; p != nil {
			p.scopes = appendUnique(p.scopes, scopes...)
			return
		}
		p := &resPerm{res: r, scopes: slices.Clone(scopes)}
		byID[key] = p
		order = append(order, p)
	}
	if len(req) == 0 {
		for _, r := range ev.s.resources {
			if r.ownerIsRS {
				add(r, ev.permissionFor(r, nil))
			}
		}
		for _, r := range ev.s.resources {
			if !r.ownerIsRS && ev.sub.UserID != "" && r.ownerID == ev.sub.UserID {
				add(r, ev.permissionFor(r, nil))
			}
		}
		return order
	}
	for _, rq := range req {
		if rq.ResourceID != "" {
			if r := ev.s.resourceByIDLocked(rq.ResourceID); r != nil {
				add(r, ev.permissionFor(r, rq.Scopes))
			}
			continue
		}
		if len(rq.Scopes) == 0 {
			continue
		}
		// Scope-only: every resource having one of the scopes, plus a
		// permission without resource.
		for _, r := range ev.s.resources {
			if intersects(r.Scopes, rq.Scopes) {
				add(r, ev.permissionFor(r, rq.Scopes))
			}
		}
		add(nil, rq.Scopes)
	}
	return order
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// applicable returns the permissions Keycloak's DefaultPolicyEvaluator
// visits for p, in its query order, without duplicates.
func (ev *evaluation) applicable(p *resPerm) []*azPolicy {
	var out []*azPolicy
	seen := map[*azPolicy]bool{}
	add := func(q *azPolicy) {
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	r := p.res
	scopeLike := func(q *azPolicy) bool { return q.typ == ptScope || q.typ == ptUMA }
	if len(p.scopes) > 0 {
		if r != nil {
			for _, q := range ev.st.perms {
				if scopeLike(q) && slices.Contains(q.resourceIDs, r.ID) && intersects(q.scopes, p.scopes) {
					add(q)
				}
			}
		}
		for _, q := range ev.st.perms {
			if scopeLike(q) && len(q.resourceIDs) == 0 && q.resourceType == "" && intersects(q.scopes, p.scopes) {
				add(q)
			}
		}
	}
	if r == nil {
		return out
	}
	if r.Type != "" {
		for _, q := range ev.st.perms {
			if q.typ == ptResource && q.resourceType == r.Type {
				add(q)
			}
		}
		if !r.ownerIsRS {
			for _, t := range ev.s.resources {
				if !t.ownerIsRS || t.Type != r.Type {
					continue
				}
				for _, q := range ev.st.perms {
					if slices.Contains(q.resourceIDs, t.ID) {
						add(q)
					}
				}
			}
		}
	}
	for _, q := range ev.st.perms {
		if slices.Contains(q.resourceIDs, r.ID) && len(q.scopes) == 0 {
			add(q)
		}
	}
	return out
}

// policyResult is one permission's outcome within a ResourcePermission.
type policyResult struct {
	perm    *azPolicy
	granted bool
}

// evaluate decides one ResourcePermission and returns what it grants.
func (ev *evaluation) evaluate(p *resPerm) []rpt.Permission {
	r := p.res
	permit := func() []rpt.Permission {
		if len(p.scopes) == 0 && r != nil && len(r.Scopes) > 0 {
			return nil
		}
		return ev.grant(p, p.scopes)
	}
	if ev.st.mode == modeDisabled {
		return permit()
	}
	if r != nil && !r.ownerIsRS && ev.sub.UserID != "" && r.ownerID == ev.sub.UserID {
		// The owner of a user-owned resource is always granted it.
		return permit()
	}
	perms := ev.applicable(p)
	if len(perms) == 0 {
		if ev.st.mode == modePermissive {
			return permit()
		}
		return nil
	}
	cache := map[*azPolicy]bool{}
	var results []policyResult
	for _, q := range perms {
		if len(q.apply) == 0 && q.typ != ptUMA {
			// Nothing reports a decision for a permission without policies:
			// it has no result, but it still counts as evaluated.
			continue
		}
		results = append(results, policyResult{perm: q, granted: ev.permissionGranted(q, cache)})
	}
	if len(results) == 0 {
		return nil
	}
	return ev.collect(p, results)
}

// permissionGranted combines a permission's associated policies.
func (ev *evaluation) permissionGranted(q *azPolicy, cache map[*azPolicy]bool) bool {
	if q.unsupported {
		return false
	}
	effects := make([]bool, 0, len(q.apply))
	for _, a := range q.apply {
		effects = append(effects, ev.effect(a, cache))
	}
	return combine(q.strategy, effects)
}

// combine applies a decision strategy to PERMIT (true) / DENY effects.
// CONSENSUS needs strictly more permits than denies.
func combine(strategy string, effects []bool) bool {
	grants := 0
	for _, e := range effects {
		if e {
			grants++
		}
	}
	switch strategy {
	case dsAffirmative:
		return grants > 0
	case dsConsensus:
		return grants > len(effects)-grants
	default:
		return grants == len(effects)
	}
}

// effect is a policy's PERMIT (true) or DENY for the current permission:
// its own result, inverted by NEGATIVE logic. Unsupported policies and
// permissions used as policies always DENY.
func (ev *evaluation) effect(p *azPolicy, cache map[*azPolicy]bool) bool {
	if v, ok := cache[p]; ok {
		return v
	}
	var v bool
	if !p.unsupported && !p.isPermission() {
		v = ev.granted(p, cache) != p.negative
	}
	cache[p] = v
	return v
}

// granted is a policy's own result before logic: true when it grants;
// false when it denies or reaches no decision.
func (ev *evaluation) granted(p *azPolicy, cache map[*azPolicy]bool) bool {
	switch p.typ {
	case ptAggregate:
		if len(p.apply) == 0 {
			return false // no associated decision ⇒ no effect ⇒ deny
		}
		effects := make([]bool, 0, len(p.apply))
		for _, a := range p.apply {
			effects = append(effects, ev.effect(a, cache))
		}
		return combine(p.strategy, effects)
	case ptRole:
		return ev.rolePolicy(p)
	case ptUser:
		return ev.userPolicy(p)
	case ptClient:
		return slices.Contains(p.clients, ev.sub.ClientID) && ev.sub.ClientID != ""
	case ptGroup:
		return ev.groupPolicy(p)
	case ptClientScope:
		return ev.clientScopePolicy(p)
	case ptRegex:
		return ev.regexPolicy(p)
	case ptTime:
		return ev.timePolicy(p.tm)
	}
	return false
}

// rolePolicy: a missing required role denies; otherwise any held role
// grants. Roles come from the token, or from the user with fetchRoles.
func (ev *evaluation) rolePolicy(p *azPolicy) bool {
	var u *User
	if p.fetchRoles {
		u = ev.s.userByID(ev.sub.UserID)
	}
	granted := false
	for _, d := range p.roles {
		var has bool
		switch {
		case p.fetchRoles && u == nil:
			has = false
		case p.fetchRoles && d.client == "":
			has = slices.Contains(u.RealmRoles, d.name)
		case p.fetchRoles:
			has = slices.Contains(u.ClientRoles[d.client], d.name)
		case d.client == "":
			has = slices.Contains(tokenRoles(ev.sub.Claims["realm_access"]), d.name)
		default:
			ra, _ := ev.sub.Claims["resource_access"].(map[string]any)
			has = slices.Contains(tokenRoles(ra[d.client]), d.name)
		}
		if !has && d.required {
			return false
		}
		if has {
			granted = true
		}
	}
	return granted
}

func tokenRoles(v any) []string {
	m, _ := v.(map[string]any)
	return strs(m["roles"])
}

// userPolicy: the subject is one of the listed users (export usernames, or
// ids; service accounts by their service-account-… username).
func (ev *evaluation) userPolicy(p *azPolicy) bool {
	id := ev.sub.UserID
	if id == "" {
		return false
	}
	for _, ref := range p.users {
		if ref == id {
			return true
		}
		if u := ev.s.users[ref]; u != nil && u.ID == id {
			return true
		}
		if strings.HasPrefix(ref, "service-account-") && derivedID(ev.s.cfg.realm, "user", ref) == id {
			return true
		}
	}
	return false
}

// groupExists reports whether path names a realm group: one of the export's
// groups, or a group (or an ancestor of a group) some user is in.
func (ev *evaluation) groupExists(path string) bool {
	if ev.st.groups[path] != nil {
		return true
	}
	for _, u := range ev.s.users {
		for _, g := range u.Groups {
			if g == path || strings.HasPrefix(g, path+"/") {
				return true
			}
		}
	}
	return false
}

// resolveGroup maps a group reference (path, or name) to a path.
func (ev *evaluation) resolveGroup(ref string) (string, bool) {
	if strings.HasPrefix(ref, "/") {
		return ref, ev.groupExists(ref)
	}
	var paths []string
	for p := range ev.st.groups {
		paths = append(paths, p)
	}
	for _, u := range ev.s.users {
		paths = append(paths, u.Groups...)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if p[strings.LastIndex(p, "/")+1:] == ref {
			return p, true
		}
	}
	return "", false
}

// groupPolicy: the subject must be a realm user who is a direct member of a
// listed group (or, with extendChildren, of it or a descendant), and the
// group claim values (groupsClaim, else the user's group paths) must name it:
// a value with '/' equal to its path (or under it with extendChildren), or a
// value equal to its name.
func (ev *evaluation) groupPolicy(p *azPolicy) bool {
	u := ev.s.userByID(ev.sub.UserID)
	if u == nil {
		return false
	}
	values := u.Groups
	if p.groupsClaim != "" {
		if v := claimValues(ev.sub.Claims[p.groupsClaim]); len(v) > 0 {
			values = v
		}
	}
	for _, d := range p.groups {
		path, ok := ev.resolveGroup(d.ref)
		if !ok {
			continue
		}
		direct := slices.Contains(u.Groups, path)
		member := direct
		for _, g := range u.Groups {
			if strings.HasPrefix(g, path+"/") {
				member = true
			}
		}
		if (!d.extendChildren && !direct) || (d.extendChildren && !member) {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		for _, v := range values {
			if strings.Contains(v, "/") {
				if v == path || (d.extendChildren && strings.HasPrefix(v, path+"/")) {
					return true
				}
			}
			if v == name {
				return true
			}
		}
	}
	return false
}

// clientScopePolicy: like the role policy over the token's scope claim.
func (ev *evaluation) clientScopePolicy(p *azPolicy) bool {
	have := strings.Split(str(ev.sub.Claims["scope"]), " ")
	granted := false
	for _, d := range p.clientScopes {
		has := d.name != "" && slices.Contains(have, d.name)
		if !has && d.required {
			return false
		}
		if has {
			granted = true
		}
	}
	return granted
}

// contextAttributes are the evaluation-context attributes: the built-in
// kc.* ones (kc.client.user_agent is not known here), with the pushed
// claims merged over them.
func (ev *evaluation) contextAttributes() map[string][]string {
	attrs := map[string][]string{
		"kc.time.date_time":            {ev.now.Format("2006-01-02 15:04:05")},
		"kc.client.network.ip_address": {"127.0.0.1"},
		"kc.client.network.host":       {"127.0.0.1"},
		"kc.realm.name":                {ev.s.cfg.realm},
	}
	if ev.sub.ClientID != "" {
		attrs["kc.client.id"] = []string{ev.sub.ClientID}
	}
	maps.Copy(attrs, ev.pushed)
	return attrs
}

// regexPolicy: some value of the target claim (a dotted path walks into
// JSON objects; `\.` escapes a dot) matches the whole pattern.
func (ev *evaluation) regexPolicy(p *azPolicy) bool {
	var values []string
	if p.targetCtx {
		values = lookupPath(p.targetClaim, func(k string) (any, bool) {
			v, ok := ev.contextAttributes()[k]
			if !ok {
				return nil, false
			}
			out := make([]any, len(v))
			for i := range v {
				out[i] = v[i]
			}
			return out, true
		})
	} else {
		values = lookupPath(p.targetClaim, func(k string) (any, bool) {
			v, ok := ev.sub.Claims[k]
			return v, ok
		})
	}
	for _, v := range values {
		if p.pattern.MatchString(v) {
			return true
		}
	}
	return false
}

// splitClaimPath splits on unescaped dots.
func splitClaimPath(path string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case path[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	return append(parts, cur.String())
}

// lookupPath resolves a claim path and renders its value(s) as strings.
func lookupPath(path string, get func(string) (any, bool)) []string {
	parts := splitClaimPath(path)
	v, ok := get(parts[0])
	if !ok {
		return nil
	}
	if len(parts) == 1 {
		return claimValues(v)
	}
	if list, isList := v.([]any); isList && len(list) > 0 {
		v = list[0]
	}
	if s, isStr := v.(string); isStr {
		// Attribute values are strings: a nested path parses them as JSON.
		var parsed any
		if err := json.Unmarshal([]byte(s), &parsed); err != nil {
			return nil
		}
		v = parsed
	}
	for _, k := range parts[1:] {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil
		}
		if v, ok = m[k]; !ok {
			return nil
		}
	}
	if v == nil {
		return nil
	}
	return []string{scalarText(v)}
}

// claimValues renders a claim as attribute values: each element of an
// array, a scalar's text, an object as JSON.
func claimValues(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if e != nil {
				out = append(out, scalarText(e))
			}
		}
		return out
	case []string:
		return slices.Clone(x)
	}
	return []string{scalarText(v)}
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// timePolicy: deny before nbf or after noa; each configured field of
// now (UTC) must equal its value, or lie in [value, valueEnd].
func (ev *evaluation) timePolicy(t *azTime) bool {
	if t == nil {
		return false
	}
	// Java compares java.util.Date values (millisecond precision).
	now := ev.now.Truncate(time.Millisecond)
	if t.nbf != nil && now.Before(*t.nbf) {
		return false
	}
	if t.noa != nil && now.After(*t.noa) {
		return false
	}
	fields := [5]int{now.Day(), int(now.Month()), now.Year(), now.Hour(), now.Minute()}
	for i, r := range t.ranges {
		if r != nil && (fields[i] < r[0] || fields[i] > r[1]) {
			return false
		}
	}
	return true
}

// collect is Keycloak's DecisionPermissionCollector for a ResourcePermission
// that no blanket grant covered.
func (ev *evaluation) collect(p *resPerm, results []policyResult) []rpt.Permission {
	r := p.res
	requested := p.scopes
	var granted, deniedRS, deniedTyped []string
	resourceGranted, anyDeny := false, false
	for _, pr := range results {
		q := pr.perm
		containsResource := r != nil && slices.Contains(q.resourceIDs, r.ID)
		if pr.granted {
			switch q.typ {
			case ptScope:
				for _, sc := range requested {
					if slices.Contains(q.scopes, sc) {
						granted = appendUnique(granted, sc)
						if r != nil && !slices.Contains(r.Scopes, sc) {
							deniedRS = remove(deniedRS, sc)
						}
					}
				}
			case ptResource:
				granted = appendUnique(granted, requested...)
			}
			if !resourceGranted {
				resourceGranted = ev.grantsResource(r, q) && containsResource
			}
			continue
		}
		if q.typ == ptResource {
			if containsResource || !resourceGranted {
				if ev.typedPermission(q) {
					deniedTyped = appendUnique(deniedTyped, requested...)
				} else {
					deniedRS = appendUnique(deniedRS, requested...)
				}
			}
		} else if containsResource || len(q.resourceIDs) == 0 {
			deniedRS = appendUnique(deniedRS, q.scopes...)
		}
		anyDeny = true
	}
	if ev.st.strategy == dsAffirmative {
		deniedRS = minus(deniedRS, granted)
	}
	if resourceGranted {
		deniedTyped = minus(deniedTyped, granted)
		deniedRS = appendUnique(deniedRS, deniedTyped...)
	}
	if len(deniedRS) == 0 {
		deniedRS = appendUnique(deniedRS, deniedTyped...)
	}
	granted = minus(granted, deniedRS)
	if !resourceGranted && len(granted) == 0 && len(requested) > 0 {
		return nil
	}
	if anyDeny && len(granted) == 0 {
		return nil
	}
	return ev.grant(p, granted)
}

// grantsResource: a permission can grant the resource itself unless it is a
// scope permission on a resource-server resource.
func (ev *evaluation) grantsResource(r *resource, q *azPolicy) bool {
	if q.typ != ptScope {
		return true
	}
	return r != nil && !r.ownerIsRS
}

// typedPermission: a resource permission of a resource type, or one whose
// first resource is a typed resource-server resource.
func (ev *evaluation) typedPermission(q *azPolicy) bool {
	if q.resourceType != "" {
		return true
	}
	if len(q.resourceIDs) == 0 {
		return false
	}
	first := ev.s.resourceByIDLocked(q.resourceIDs[0])
	return first != nil && first.Type != "" && first.ownerIsRS
}

// grant issues the permission: {rsid, rsname, scopes}, or a scope-only one.
func (ev *evaluation) grant(p *resPerm, scopes []string) []rpt.Permission {
	// Keep the permission's scope order for stable output.
	var ordered []string
	for _, sc := range p.scopes {
		if slices.Contains(scopes, sc) {
			ordered = append(ordered, sc)
		}
	}
	for _, sc := range scopes {
		ordered = appendUnique(ordered, sc)
	}
	if p.res != nil {
		return []rpt.Permission{{ResourceID: p.res.ID, ResourceName: p.res.Name, Scopes: ordered}}
	}
	if len(ordered) == 0 {
		return nil
	}
	return []rpt.Permission{{Scopes: ordered}}
}

func remove(list []string, v string) []string {
	return slices.DeleteFunc(list, func(x string) bool { return x == v })
}

func minus(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(x string) bool { return slices.Contains(b, x) })
}
