package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/policies/keycloak"
)

const importSynopsis = `import --authz-export FILE [--client ID] [--map NAME=allow|deny|data.REF]... --out DIR

Translates a Keycloak resource server's authorization settings (the client's
Authorization > Export settings, a client export, or a realm export with
--client) into:

  DIR/policy-enforcer.json   enforcer paths from the resources' URIs, with
                             "rptguard": {"permissions-source": "offline"}
  DIR/policies/…             the generated Rego modules and data.json

JavaScript policies cannot be translated: map each with --map (to allow, deny
or a Rego rule of your own). Review the warnings it prints: they list what
evaluates differently offline.`

func runImport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", importSynopsis, stderr)
	export := fs.String("authz-export", "", "Keycloak authorization settings, client or realm export (required)")
	client := fs.String("client", "", "clientId of the resource server in a realm export")
	out := fs.String("out", "", "output directory, created if needed (required)")
	force := fs.Bool("force", false, "overwrite files in a non-empty output directory")
	var maps multiFlag
	fs.Var(&maps, "map", "map an unsupported (JavaScript) policy: 'NAME=allow', 'NAME=deny' or 'NAME=data.rptguard.rules.pkg.rule' (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *export == "" {
		return usageError(fs, "--authz-export is required")
	}
	if *out == "" {
		return usageError(fs, "--out is required")
	}
	data, err := readFile(*export)
	if err != nil {
		return err
	}
	var popts []keycloak.ParseOption
	if *client != "" {
		popts = append(popts, keycloak.WithClientID(*client))
	}
	settings, err := keycloak.Parse(data, popts...)
	if err != nil {
		return fmt.Errorf("%s: %w", *export, err)
	}
	topts, err := mappingOptions(fs, maps)
	if err != nil {
		return err
	}
	res, err := keycloak.Translate(settings, topts...)
	if err != nil {
		return fmt.Errorf("%s: %w", *export, err)
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 && !*force {
		return fmt.Errorf("%s: directory not empty (use --force to overwrite)", *out)
	}
	policyDir := filepath.Join(*out, "policies")
	cfg, skipped := importConfig(settings, res, policyDir)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: generated configuration is invalid: %w", *export, err)
	}
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	dataJSON, err := res.DataJSON()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		filepath.Join(*out, "policy-enforcer.json"): append(cfgJSON, '\n'),
		filepath.Join(policyDir, "data.json"):       dataJSON,
	}
	for name, src := range res.Modules {
		clean := filepath.Clean(filepath.FromSlash(name))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("import: refusing module path %q outside the output directory", name)
		}
		files[filepath.Join(policyDir, clean)] = []byte(src)
	}
	for _, name := range sortedKeys(files) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", name)
	}
	fmt.Fprintf(stdout, "%d resources, %d paths, %d policies and permissions\n", len(settings.Resources), len(cfg.Paths), len(settings.Policies))
	warnings := append(append(append([]string{}, settings.Warnings...), res.Warnings...), skipped...)
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}

// mappingOptions turns --map NAME=allow|deny|data.REF flags into Translate
// options (bad values are usage errors).
func mappingOptions(fs *flag.FlagSet, maps []string) ([]keycloak.Option, error) {
	var topts []keycloak.Option
	for _, m := range maps {
		name, target, ok := strings.Cut(m, "=")
		if !ok || name == "" || target == "" {
			return nil, usageError(fs, "--map: want NAME=allow, NAME=deny or NAME=data.pkg.rule, got %q", m)
		}
		switch target {
		case "allow":
			topts = append(topts, keycloak.WithPolicyMapping(name, keycloak.MapAllow()))
		case "deny":
			topts = append(topts, keycloak.WithPolicyMapping(name, keycloak.MapDeny()))
		default:
			topts = append(topts, keycloak.WithPolicyMapping(name, keycloak.MapRule(target)))
		}
	}
	return topts, nil
}

// importConfig builds the enforcer configuration for a translation: one
// path per resource URI, bound to the resource by name.
func importConfig(s *keycloak.Settings, res *keycloak.Result, policyDir string) (enforcer.Config, []string) {
	var skipped []string
	cfg := enforcer.Config{Resource: s.ClientID, Realm: s.Realm}
	switch s.PolicyEnforcementMode {
	case "PERMISSIVE":
		cfg.EnforcementMode = enforcer.EnforcementPermissive
	case "DISABLED":
		cfg.EnforcementMode = enforcer.EnforcementDisabled
	}
	seen := map[string]bool{}
	for _, p := range res.Paths {
		for _, uri := range p.Paths {
			if seen[uri] {
				continue // a URI shared by two resources: the first wins, as in Keycloak's path map
			}
			seen[uri] = true
			if err := pathmatch.ValidateTemplate(uri); err != nil {
				skipped = append(skipped, fmt.Sprintf("resource %q: URI %q skipped: %v", p.Name, uri, err))
				continue
			}
			cfg.Paths = append(cfg.Paths, enforcer.PathConfig{
				Name: p.Name, Path: uri, Type: p.Type, Scopes: p.Scopes, ID: p.ID,
			})
		}
	}
	cfg.RPTGuard.PermissionsSource = enforcer.PermissionsOffline
	cfg.RPTGuard.Policies = []string{policyDir}
	return cfg, skipped
}
