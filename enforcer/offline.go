package enforcer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
)

// maxExportSize caps the authorization-settings file read by New and Reload.
const maxExportSize = 64 << 20

// WithAuthorizationSettings supplies translated Keycloak authorization
// settings (from [keycloak.Translate]) for paths with permissions-source
// "offline", replacing rptguard.authorization-settings. The default policy
// engine loads res.Source(); with [WithEvaluator] the caller must load it
// into its own evaluator. res must not be modified afterwards. If nil or not
// given, rptguard.authorization-settings is used when set.
//
// Offline paths are decided by the permission Keycloak's policies grant for
// the token's roles, groups and claims (no RPT needed, time policies on the
// enforcer's clock) and never ask the server for permissions: no RPT
// exchange, no UMA ticket (denials answer 403 or a Bearer 401). They are
// bound to the export's resources instead of the Protection API: a path
// without an "id" takes the resource of its name (also resources without
// URIs), else the one whose URI equals the template, else the one whose URI
// pattern matches it (Keycloak's matchingUri); they resolve no instances.
// When the global source is offline and no path is configured (or only
// DISABLED ones), the paths are the export's resource URIs and server
// lookups (lazy loading, path-cache lookups) are off.
func WithAuthorizationSettings(res *keycloak.Result) Option {
	return func(o *options) { o.authz = res }
}

// ---------------------------------------------------------------------------
// Configuration

// stringMap decodes an object of strings (duplicate keys are refused by
// object).
func (p *parser) stringMap(o *object, key string, dst *map[string]string) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	m, err := p.object(o.field(key), v)
	if err != nil {
		return err
	}
	if len(m.keys) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.keys))
	for _, k := range m.keys {
		var s string
		if err := json.Unmarshal(m.vals[k], &s); err != nil {
			return cfgErr(m.field(k), "want a string")
		}
		out[k] = s
	}
	*dst = out
	return nil
}

// validateOffline checks authorization-settings, authorization-client and
// policy-mappings.
func (s *Settings) validateOffline() error {
	var errs []error
	if s.AuthorizationSettings != "" && checkText(s.AuthorizationSettings) != nil {
		errs = append(errs, cfgErr("authorization-settings", "must be a file path without control characters"))
	}
	if s.AuthorizationClient != "" {
		if s.AuthorizationSettings == "" {
			errs = append(errs, cfgErr("authorization-client", "only valid with authorization-settings"))
		} else if checkText(s.AuthorizationClient) != nil {
			errs = append(errs, cfgErr("authorization-client", "must be a client id without control characters"))
		}
	}
	if len(s.PolicyMappings) > 0 && s.AuthorizationSettings == "" {
		errs = append(errs, cfgErr("policy-mappings", "only valid with authorization-settings"))
	}
	for _, name := range slices.Sorted(maps.Keys(s.PolicyMappings)) {
		field := "policy-mappings." + name
		if name == "" || checkText(name) != nil {
			errs = append(errs, cfgErr(field, "policy name must be non-empty, without control characters"))
			continue
		}
		if _, err := policyMapping(s.PolicyMappings[name]); err != nil {
			errs = append(errs, &ConfigError{Field: field, Err: err})
		}
	}
	return errors.Join(errs...)
}

// policyMapping parses a policy-mappings value.
func policyMapping(v string) (keycloak.Mapping, error) {
	switch {
	case v == "allow":
		return keycloak.MapAllow(), nil
	case v == "deny":
		return keycloak.MapDeny(), nil
	case strings.HasPrefix(v, "data.") && len(v) <= 256 && ruleNameRE.MatchString(v):
		return keycloak.MapRule(v), nil
	}
	return keycloak.Mapping{}, fmt.Errorf("unknown value %s (want allow, deny or a Rego rule reference data.<pkg>.<rule>)", quoteTrunc(v))
}

// ---------------------------------------------------------------------------
// Loading

// authzCache keeps the last translation of rptguard.authorization-settings,
// so that New, the not-ready retry and Reload translate an unchanged export
// once and compare results by pointer.
type authzCache struct {
	mu   sync.Mutex
	key  string
	data []byte
	res  *keycloak.Result
}

// authorization returns the translated settings for cfg: the option's, else
// those of rptguard.authorization-settings, else nil. Errors are
// *ConfigError values naming the field (and the unsupported policies).
func (e *Enforcer) authorization(cfg *Config) (*keycloak.Result, error) {
	if e.opts.authz != nil {
		return e.opts.authz, nil
	}
	s := &cfg.RPTGuard
	if s.AuthorizationSettings == "" {
		return nil, nil
	}
	const field = "rptguard.authorization-settings"
	data, err := readExport(s.AuthorizationSettings)
	if err != nil {
		return nil, &ConfigError{Field: field, Err: err}
	}
	key := s.AuthorizationSettings + "\x00" + s.AuthorizationClient
	for _, k := range slices.Sorted(maps.Keys(s.PolicyMappings)) {
		key += "\x00" + k + "\x00" + s.PolicyMappings[k]
	}
	c := &e.authz
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.res != nil && c.key == key && bytes.Equal(c.data, data) {
		return c.res, nil
	}
	var popts []keycloak.ParseOption
	if s.AuthorizationClient != "" {
		popts = append(popts, keycloak.WithClientID(s.AuthorizationClient))
	}
	ks, err := keycloak.Parse(data, popts...)
	if err != nil {
		return nil, &ConfigError{Field: field, Err: err}
	}
	var topts []keycloak.Option
	for name, v := range s.PolicyMappings {
		m, err := policyMapping(v)
		if err != nil {
			return nil, &ConfigError{Field: "rptguard.policy-mappings." + name, Err: err}
		}
		topts = append(topts, keycloak.WithPolicyMapping(name, m))
	}
	res, err := keycloak.Translate(ks, topts...)
	if err != nil {
		if errors.Is(err, keycloak.ErrUnsupportedPolicy) {
			return nil, &ConfigError{Field: field, Err: fmt.Errorf("%w (map each in rptguard.policy-mappings)", err)}
		}
		return nil, &ConfigError{Field: field, Err: err}
	}
	for _, w := range append(slices.Clone(ks.Warnings), res.Warnings...) {
		e.log.Warn("enforcer: offline authorization settings evaluate differently from Keycloak", "warning", w)
	}
	c.key, c.data, c.res = key, data, res
	return res, nil
}

func readExport(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxExportSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxExportSize {
		return nil, fmt.Errorf("export larger than %d bytes", maxExportSize)
	}
	return data, nil
}

// engineSources lists the default engine's sources for cfg: WithPolicies,
// rptguard.policies and the translated authorization settings res.
func (e *Enforcer) engineSources(cfg *Config, res *keycloak.Result) ([]policies.Source, error) {
	src, err := policySources(cfg.RPTGuard.Policies)
	if err != nil {
		return nil, err
	}
	out := append(slices.Clone(e.opts.sources), src...)
	if res != nil {
		out = append(out, res.Source())
	}
	return out, nil
}

// exportResource finds a resource by name in the translation's model
// (data.rptguard.offline.model.resources, which also lists resources
// without URIs) and returns its id and type.
func exportResource(res *keycloak.Result, name string) (id, typ string, ok bool) {
	m := res.Data
	for _, k := range []string{"rptguard", "offline", "model", "resources", name} {
		v, isMap := m[k].(map[string]any)
		if !isMap {
			return "", "", false
		}
		m = v
	}
	id, _ = m["id"].(string)
	typ, _ = m["type"].(string)
	return id, typ, true
}

// offlineState is what a compiled configuration keeps of the offline mode.
type offlineState struct {
	res *keycloak.Result
}

// offlineResult returns the translated settings the state was built with.
func (s *state) offlineResult() *keycloak.Result {
	if s.offline == nil {
		return nil
	}
	return s.offline.res
}

// inputSource is the policy input's permissions source for p.
func (p *pathEntry) inputSource() policies.PermissionsSource {
	if p.permSource == PermissionsOffline {
		return policies.PermissionsOffline
	}
	return policies.PermissionsToken
}

// umaChallenge reports whether denials of p answer with a UMA permission
// ticket: user-managed-access is on and p's permissions come from the
// server (an offline path would ignore the RPT the ticket leads to).
func (s *state) umaChallengeFor(p *pathEntry) bool {
	return s.umaOn && p.permSource != PermissionsOffline
}

// bindOffline binds configured offline paths to the export's resources and,
// when the global source is offline and nothing else is configured, adds the
// export's paths (see the comment at the top of this file). It returns the
// paths to resolve.
func (e *Enforcer) bindOffline(s *state, cfg *Config, configured []*pathEntry) ([]*pathEntry, error) {
	res, err := e.authorization(cfg)
	if err != nil || res == nil {
		return configured, err
	}
	s.offline = &offlineState{res: res}
	byName := make(map[string]*keycloak.Path, len(res.Paths))
	byURI := make(map[string]*keycloak.Path)
	for i := range res.Paths {
		kp := &res.Paths[i]
		if _, ok := byName[kp.Name]; !ok {
			byName[kp.Name] = kp
		}
		for _, u := range kp.Paths {
			if _, ok := byURI[u]; !ok {
				byURI[u] = kp // the first resource wins, as in Keycloak's path map
			}
		}
	}
	// Keycloak resolves a configured path without a name by exact uri, then
	// matchingUri (the resources' URI patterns matched against the path).
	var uris []string
	var owners []*keycloak.Path
	for i := range res.Paths {
		for _, u := range res.Paths[i].Paths {
			if pathmatch.ValidateTemplateMode(u, s.mode) == nil {
				uris, owners = append(uris, u), append(owners, &res.Paths[i])
			}
		}
	}
	matching, _ := pathmatch.Compile(uris, pathmatch.WithMode(s.mode))
	byPattern := func(template string) *keycloak.Path {
		if kp := byURI[template]; kp != nil {
			return kp
		}
		if matching != nil {
			if r, ok := matching.Match(template); ok {
				return owners[r.Index]
			}
		}
		return nil
	}
	onlyDisabled := true
	for _, p := range configured {
		if p.mode != EnforcementDisabled {
			onlyDisabled = false
		}
		if p.permSource != PermissionsOffline || p.mode == EnforcementDisabled {
			continue
		}
		// Offline paths are never looked up on the server: the export is
		// what decides them, by resource name.
		p.hasParams, p.offlineBound = false, true // no instances offline
		if p.id != "" {
			continue
		}
		var id, typ string
		found := false
		switch {
		case p.name != "":
			id, typ, found = exportResource(res, p.name)
			if kp := byName[p.name]; !found && kp != nil {
				id, typ, found = kp.ID, kp.Type, true
			}
		case byPattern(p.template) != nil:
			kp := byPattern(p.template)
			p.name, id, typ, found = kp.Name, kp.ID, kp.Type, true
		}
		if !found {
			e.log.Warn("enforcer: offline path names no resource of the authorization settings; it is never granted offline", "path", p.template)
			continue
		}
		p.id = id
		if p.typ == "" {
			p.typ = typ
		}
	}
	if s.permSource != PermissionsOffline || !onlyDisabled {
		return configured, nil
	}
	s.lookups = false
	out := make([]*pathEntry, 0, len(res.Paths)+len(configured))
	seen := make(map[string]bool)
	for _, p := range configured {
		seen[p.template] = true
	}
	for i := range res.Paths {
		kp := &res.Paths[i]
		for _, u := range kp.Paths {
			if seen[u] {
				continue
			}
			if err := pathmatch.ValidateTemplateMode(u, s.mode); err != nil {
				e.log.Warn("enforcer: skipping a resource URI of the authorization settings that is not a valid template", "resource", kp.Name, "error", err)
				continue
			}
			seen[u] = true
			out = append(out, &pathEntry{
				template: u, name: kp.Name, typ: kp.Type, id: kp.ID, uris: kp.Paths, scopes: kp.Scopes,
				pmode: policies.Enforcing, rule: s.rule, permSource: PermissionsOffline, verifier: s.defaultVerifier,
				wildcard: strings.Contains(u, "*"), configured: true, offlineBound: true,
			})
		}
	}
	return append(out, configured...), nil
}
