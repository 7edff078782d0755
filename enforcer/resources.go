package enforcer

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/uma"
)

// pathEntry is one compiled path: a configured path, a path derived from a
// server resource at start-up, or one found lazily (SPEC §2.6). It is
// immutable once built.
type pathEntry struct {
	template   string
	name       string
	typ        string
	id         string
	uris       []string
	scopes     []string
	methods    []methodEntry
	mode       EnforcementMode
	pmode      policies.EnforcementMode
	cip        *cipResolver
	rule       string
	permSource PermissionsSource
	verifier   TokenVerifier
	paramNames []string
	// hasParams: a template with placeholders (instance resolution applies).
	hasParams bool
	// wildcard: the template contains '*' (lazy re-query applies).
	wildcard bool
	// static: bound by name or DISABLED (Keycloak's static flag).
	static bool
	// parentID is set on instance entries: the template's resource id.
	parentID string
	instance bool
	// configured: the entry comes from the configuration (not the server).
	configured bool
	// offlineBound: an offline path bound to a resource of the
	// authorization settings; never looked up on the server (offline.go).
	offlineBound bool
	// outage is the path's on-outage behaviour; nil inherits the global one.
	outage *outagePolicy
	// fresh: introspect without a cached active answer (fresh.go).
	fresh bool
}

type methodEntry struct {
	method string
	scopes []string
	mode   ScopesEnforcementMode
}

// methodFor returns the method config for method: the first configured one
// with that exact (case-sensitive) method, else the implicit one (SPEC §1.4):
// [METHOD] with http-method-as-scope, else the path's scopes, mode ANY.
func (s *state) methodFor(p *pathEntry, method string) methodEntry {
	for _, m := range p.methods {
		if m.method == method {
			return m
		}
	}
	if s.cfg.HTTPMethodAsScope {
		if sc, ok := s.methodScopes[method]; ok {
			return methodEntry{method: method, scopes: sc, mode: ScopesAny}
		}
		return methodEntry{method: method, scopes: []string{method}, mode: ScopesAny}
	}
	return methodEntry{method: method, scopes: p.scopes, mode: ScopesAny}
}

var policyScopesModes = [...]policies.ScopesEnforcementMode{policies.ScopesAll, policies.ScopesAny, policies.ScopesDisabled}

func (m ScopesEnforcementMode) policy() policies.ScopesEnforcementMode {
	if m >= 0 && int(m) < len(policyScopesModes) {
		return policyScopesModes[m]
	}
	return policies.ScopesAll
}

func (m EnforcementMode) policy() policies.EnforcementMode {
	switch m {
	case EnforcementPermissive:
		return policies.Permissive
	case EnforcementDisabled:
		return policies.Disabled
	default:
		return policies.Enforcing
	}
}

// ---------------------------------------------------------------------------
// Start-up resolution (SPEC §1.3, §1.6)

// errMultipleResources is Keycloak's "Multiple resources found with the same
// uri" start-up error.
var errMultipleResources = errors.New("multiple resources found with the same uri")

// resolvePaths binds configured paths to server resources and, when
// Keycloak's loadAll rule says so, loads every resource's URIs as paths.
// It returns the paths to compile, in order: server-derived ones first (in the
// order the server listed them; Keycloak uses hash order), then the
// configured ones, which replace a server path with the same template.
func (s *state) resolvePaths(ctx context.Context, c *uma.Client, configured []*pathEntry) ([]*pathEntry, error) {
	if c == nil {
		return configured, nil
	}
	res := c.Resources()
	loadAll := !s.cfg.LazyLoadPaths
	for _, p := range configured {
		if p.mode != EnforcementDisabled {
			loadAll = false
		}
	}
	var out []*pathEntry
	if loadAll {
		ids, err := res.Search(ctx, uma.ResourceQuery{Max: -1})
		if err != nil {
			return nil, fmt.Errorf("enforcer: load resources: %w", err)
		}
		seen := make(map[string]bool)
		for _, id := range ids {
			r, err := res.Get(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("enforcer: load resource: %w", err)
			}
			for _, u := range r.URIs {
				if seen[u] || slices.ContainsFunc(configured, func(p *pathEntry) bool { return p.template == u }) {
					continue
				}
				if err := pathmatch.ValidateTemplateMode(u, s.mode); err != nil {
					s.log.Warn("enforcer: skipping server resource URI that is not a valid template", "resource", r.Name, "error", err)
					continue
				}
				seen[u] = true
				out = append(out, s.entryFromResource(r, u, nil))
			}
		}
	}
	for _, p := range configured {
		if p.id == "" && p.mode != EnforcementDisabled && !p.offlineBound {
			id, err := s.lookupConfigured(ctx, res, p)
			if err != nil {
				return nil, err
			}
			p.id = id
		}
		out = append(out, p)
	}
	return out, nil
}

// lookupConfigured finds the resource id of a configured path: by name
// (exactName, owned by the resource server) if it has one, else by exact uri,
// then matchingUri. A name that does not exist leaves the id empty, as in
// Keycloak; several resources for one uri is a start-up error.
func (s *state) lookupConfigured(ctx context.Context, res *uma.Resources, p *pathEntry) (string, error) {
	if p.name != "" {
		rs, err := res.Find(ctx, uma.ResourceQuery{Name: p.name, ExactName: true, Owner: s.cfg.Resource, Max: -1})
		if err != nil {
			return "", fmt.Errorf("enforcer: resolve path %q: %w", p.template, err)
		}
		if len(rs) == 0 {
			s.log.Warn("enforcer: configured resource name not found on the server; the path can never be granted by resource permissions", "path", p.template)
			return "", nil
		}
		return rs[0].ID, nil
	}
	rs, err := res.Find(ctx, uma.ResourceQuery{URI: p.template, Max: -1})
	if err == nil && len(rs) == 0 {
		rs, err = res.Find(ctx, uma.ResourceQuery{URI: p.template, MatchingURI: true, Max: -1})
	}
	if err != nil {
		return "", fmt.Errorf("enforcer: resolve path %q: %w", p.template, err)
	}
	switch len(rs) {
	case 0:
		return "", nil
	case 1:
		if p.typ == "" {
			p.typ = rs[0].Type
		}
		if p.name == "" {
			p.name = rs[0].Name
		}
		return rs[0].ID, nil
	default:
		return "", fmt.Errorf("enforcer: resolve path %q: %w", p.template, errMultipleResources)
	}
}

// entryFromResource builds a path from a server resource (SPEC §2.6 step 3).
// With a local entry, its methods, enforcement mode, CIP and rptguard
// settings are kept.
func (s *state) entryFromResource(r *uma.Resource, template string, local *pathEntry) *pathEntry {
	e := &pathEntry{
		template:   template,
		name:       r.Name,
		typ:        r.Type,
		id:         r.ID,
		uris:       r.URIs,
		scopes:     r.ScopeNames(),
		verifier:   s.defaultVerifier,
		permSource: s.permSource,
		rule:       s.rule,
		pmode:      policies.Enforcing,
		wildcard:   strings.Contains(template, "*"),
		hasParams:  strings.Contains(template, "{"),
	}
	if local != nil {
		e.methods, e.mode, e.pmode, e.cip = local.methods, local.mode, local.pmode, local.cip
		e.rule, e.permSource, e.verifier, e.static = local.rule, local.permSource, local.verifier, local.static
		e.outage, e.fresh = local.outage, local.fresh
	}
	return e
}

// ---------------------------------------------------------------------------
// Path cache (SPEC §2.7)

// pathCache is Keycloak's PathCache: an LRU of canonical path → entry (nil =
// negative entry) with an absolute expiry checked against the enforcer's
// clock. It is sharded so that concurrent requests do not contend on one
// lock. Lookup errors are never stored.
type pathCache struct {
	shards []*lru.Cache[string, pathCacheEntry]
	seed   maphash.Seed
	ttl    time.Duration // 0: never expires
}

type pathCacheEntry struct {
	e     *pathEntry
	until time.Time
}

func newPathCache(maxEntries int, ttl time.Duration) *pathCache {
	n := 1
	for n < 16 && maxEntries/(n*2) >= 64 {
		n *= 2
	}
	pc := &pathCache{seed: maphash.MakeSeed(), ttl: ttl}
	per := (maxEntries + n - 1) / n
	for range n {
		c, _ := lru.New[string, pathCacheEntry](max(per, 1))
		pc.shards = append(pc.shards, c)
	}
	return pc
}

func (pc *pathCache) shard(key string) *lru.Cache[string, pathCacheEntry] {
	if len(pc.shards) == 1 {
		return pc.shards[0]
	}
	return pc.shards[maphash.String(pc.seed, key)%uint64(len(pc.shards))]
}

func (pc *pathCache) get(key string, now time.Time) (*pathEntry, bool) {
	sh := pc.shard(key)
	ce, ok := sh.Get(key)
	if !ok {
		return nil, false
	}
	if pc.ttl > 0 && !now.Before(ce.until) {
		sh.Remove(key)
		return nil, false
	}
	return ce.e, true
}

func (pc *pathCache) put(key string, e *pathEntry, now time.Time) {
	pc.shard(key).Add(key, pathCacheEntry{e: e, until: now.Add(pc.ttl)})
}

func (pc *pathCache) remove(key string) { pc.shard(key).Remove(key) }

func (pc *pathCache) len() int {
	n := 0
	for _, s := range pc.shards {
		n += s.Len()
	}
	return n
}

// ---------------------------------------------------------------------------
// Per-request resolution (SPEC §2.6)

// errLookup marks a failed server lookup during matching: the request is
// treated as unmapped (denied) and nothing is cached.
var errLookup = errors.New("enforcer: resource lookup failed")

// match finds the path entry for a canonical path. Server lookups happen
// only when a server is configured: instance resolution for templates with
// placeholders, and (with lazy-load-paths or a path-cache object) a
// matchingUri query for unmatched or wildcard paths. Results are cached by
// canonical path (E12). A lookup error yields (nil, errLookup) and is not
// cached; the caller denies.
func (e *Enforcer) match(ctx context.Context, s *state, path string) (*pathEntry, pathmatch.Result, error) {
	res, ok := s.matcher.Match(path)
	var local *pathEntry
	if ok {
		local = s.paths[res.Index]
	}
	// Fast path: a configured literal (or a path needing no server).
	// Offline paths bound to the export never ask the server (offline.go).
	if s.uma == nil || (local != nil && !local.hasParams && !(s.lookups && local.wildcard)) || (local != nil && local.mode == EnforcementDisabled) || (local != nil && local.offlineBound) {
		if local == nil && !ok {
			return nil, res, nil
		}
		return local, res, nil
	}
	if local == nil && !s.lookups {
		return nil, res, nil
	}
	now := e.now()
	if s.cache != nil {
		if ce, hit := s.cache.get(path, now); hit {
			e.obs.Cache("path", true)
			return ce, res, nil
		}
		e.obs.Cache("path", false)
	}
	out := local
	if local != nil && local.hasParams {
		inst, err := e.resolveInstance(ctx, s, local, path, res)
		if err != nil {
			return nil, res, err
		}
		if inst != nil {
			out = inst
		}
	}
	if s.lookups && (out == nil || out.wildcard) {
		found, err := e.lazyLookup(ctx, s, out, path)
		if err != nil {
			return nil, res, err
		}
		out = found
	}
	if s.cache != nil {
		s.cache.put(path, out, now)
	}
	return out, res, nil
}

// resolveInstance asks the server for a concrete resource behind a matched
// template (SPEC §2.6 step 2): by the actual path, then the parent path (the
// path cut after the last placeholder), then matchingUri on the actual path.
func (e *Enforcer) resolveInstance(ctx context.Context, s *state, tpl *pathEntry, path string, res pathmatch.Result) (*pathEntry, error) {
	q := []uma.ResourceQuery{{URI: path, Max: -1}}
	if n := res.NumParams(); n > 0 {
		if end := res.Param(n - 1).End; end < len(path) {
			q = append(q, uma.ResourceQuery{URI: path[:end], Max: -1})
		}
	}
	q = append(q, uma.ResourceQuery{URI: path, MatchingURI: true, Max: -1})
	for _, qq := range q {
		rs, err := e.findResources(ctx, s, qq)
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			continue
		}
		r := &rs[0]
		if r.ID == tpl.id {
			return nil, nil // the template's own resource: not an instance
		}
		inst := s.entryFromResource(r, tpl.template, tpl)
		inst.scopes = tpl.scopes
		inst.instance, inst.parentID = true, tpl.id
		inst.hasParams, inst.wildcard, inst.paramNames = tpl.hasParams, tpl.wildcard, tpl.paramNames
		inst.configured = tpl.configured
		return inst, nil
	}
	return nil, nil
}

// lazyLookup is SPEC §2.6 step 3: GET resource_set?uri=<path>&matchingUri=true.
func (e *Enforcer) lazyLookup(ctx context.Context, s *state, local *pathEntry, path string) (*pathEntry, error) {
	rs, err := e.findResources(ctx, s, uma.ResourceQuery{URI: path, MatchingURI: true, Max: -1})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return local, nil
	}
	r := &rs[0]
	if local == nil {
		for _, p := range s.paths {
			if p.static && p.mode != EnforcementDisabled && p.id != "" && p.id == r.ID {
				return nil, nil // Keycloak quirk: a static configured path owns this resource
			}
		}
	}
	tpl := path
	if len(r.URIs) > 0 {
		tpl = r.URIs[0]
	}
	ne := s.entryFromResource(r, tpl, local)
	if local != nil {
		ne.configured = local.configured
		ne.paramNames = local.paramNames
	}
	return ne, nil
}

func (e *Enforcer) findResources(ctx context.Context, s *state, q uma.ResourceQuery) ([]uma.Resource, error) {
	start := time.Now()
	rs, err := s.uma.Resources().Find(ctx, q)
	e.obs.Call("resource_lookup", time.Since(start), err)
	if err != nil {
		e.log.WarnContext(ctx, "enforcer: could not look up resource on the server; treating the path as unmapped", "error", err)
		return nil, fmt.Errorf("%w: %w", errLookup, err)
	}
	return rs, nil
}
