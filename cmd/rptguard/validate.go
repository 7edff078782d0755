package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/internal/pathmatch"
)

// exitError makes a command exit with code without printing an error: the
// command ran to completion and reported its outcome itself
// (validate: findings; check: a denial).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// finding is one line of validate's output: "file: field: message".
type finding struct {
	field, msg string
}

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate --config FILE", stderr)
	file := fs.String("config", "", "policy-enforcer JSON or keycloak.json to lint (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError(fs, "--config is required")
	}
	data, err := readFile(*file)
	if err != nil {
		return err
	}
	findings := lintConfig(data)
	for _, f := range findings {
		if f.field == "" {
			fmt.Fprintf(stdout, "%s: %s\n", *file, f.msg)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s: %s\n", *file, f.field, f.msg)
	}
	if len(findings) > 0 {
		return &exitError{code: 1}
	}
	fmt.Fprintf(stdout, "%s: ok\n", *file)
	return nil
}

// lintConfig parses data strictly and lints the result. Findings come in a
// stable order: parse errors (unknown keys first), then lint findings in
// configuration order.
func lintConfig(data []byte) []finding {
	var out []finding
	cfg, err := enforcer.ParseConfig(data)
	if err != nil {
		return configFindings(err)
	}
	if _, err := enforcer.ParseConfigStrict(data); err != nil {
		out = append(out, configFindings(err)...)
	}
	return append(out, lintParsed(&cfg)...)
}

// configFindings flattens a (joined) configuration error into findings.
func configFindings(err error) []finding {
	var out []finding
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *enforcer.ConfigError
		if errors.As(err, &ce) {
			msg := ce.Err.Error()
			if errors.Is(ce.Err, enforcer.ErrUnknownKey) {
				msg = "unknown key (Keycloak's parser rejects it; rptguard ignores it)"
			}
			out = append(out, finding{field: ce.Field, msg: msg})
			return
		}
		out = append(out, finding{msg: err.Error()})
	}
	walk(err)
	return out
}

// lintParsed reports what a valid configuration may still get wrong:
// shadowed paths, methods without scopes, and loosened enforcement modes.
func lintParsed(cfg *enforcer.Config) []finding {
	var out []finding
	switch cfg.EnforcementMode {
	case enforcer.EnforcementPermissive:
		out = append(out, finding{"enforcement-mode", "warning: PERMISSIVE grants every authenticated request to an unconfigured path"})
	case enforcer.EnforcementDisabled:
		out = append(out, finding{"enforcement-mode", "warning: DISABLED switches enforcement off for every path"})
	}
	if cfg.RPTGuard.InsecureAllowHTTP {
		out = append(out, finding{"rptguard.insecure-allow-http", "warning: tokens and secrets may cross the network in clear; must not be set in production"})
	}
	if cfg.RPTGuard.AllowMethodOverride {
		out = append(out, finding{"rptguard.allow-method-override", "warning: only safe when the application honours the same override header"})
	}
	mode := pathmatch.ModeStrict
	if cfg.RPTGuard.PathCanonicalization == enforcer.CanonicalizationKeycloak {
		mode = pathmatch.ModeKeycloak
	}
	templates := make([]string, len(cfg.Paths))
	for i, p := range cfg.Paths {
		templates[i] = p.Path
	}
	shadowed := shadowedPaths(templates, mode)
	for i, p := range cfg.Paths {
		field := fmt.Sprintf("paths[%d]", i)
		if by, ok := shadowed[i]; ok {
			out = append(out, finding{field + ".path", fmt.Sprintf("%q can never match: paths[%d] %q wins for every path it matches", p.Path, by, templates[by])})
		}
		switch p.EnforcementMode {
		case enforcer.EnforcementPermissive:
			out = append(out, finding{field + ".enforcement-mode", "warning: PERMISSIVE grants a token holding no permission for the resource"})
		case enforcer.EnforcementDisabled:
			out = append(out, finding{field + ".enforcement-mode", "warning: DISABLED makes the path public, anonymous requests included"})
		}
		for j, m := range p.Methods {
			mf := fmt.Sprintf("%s.methods[%d]", field, j)
			if len(m.Scopes) == 0 && m.ScopesEnforcementMode != enforcer.ScopesDisabled {
				out = append(out, finding{mf + ".scopes", fmt.Sprintf("method %s has no scopes: any permission for the resource grants it", m.Method)})
			}
			if m.ScopesEnforcementMode == enforcer.ScopesDisabled {
				out = append(out, finding{mf + ".scopes-enforcement-mode", fmt.Sprintf("warning: DISABLED grants %s without a permission", m.Method)})
			}
		}
	}
	return out
}

// shadowedPaths returns, for every template that can never win a match, the
// index of a template that wins instead. A template is probed with sample
// paths built from it (placeholders filled with values no literal segment
// uses, wildcards with zero, one and two segments); it is shadowed when it
// wins for none of them. Templates the matcher refuses are skipped (the
// configuration validator reports them).
func shadowedPaths(templates []string, mode pathmatch.Mode) map[int]int {
	m, err := pathmatch.Compile(templates, pathmatch.WithMode(mode))
	if err != nil || len(templates) < 2 {
		return nil
	}
	out := make(map[int]int)
	for i, t := range templates {
		winner := -1
		won := false
		for _, p := range samplePaths(t) {
			c, err := pathmatch.Canonicalize(p, mode, pathmatch.Limits{})
			if err != nil {
				continue
			}
			res, ok := m.Match(c.Path)
			if !ok {
				continue
			}
			if res.Index == i {
				won = true
				break
			}
			if winner < 0 {
				winner = res.Index
			}
		}
		if !won && winner >= 0 {
			out[i] = winner
		}
	}
	return out
}

// samplePaths builds request paths that template t matches.
func samplePaths(t string) []string {
	const fill = "zq9x7" // unlikely to equal a configured literal segment
	segs := strings.Split(strings.TrimPrefix(t, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = fill
		}
	}
	last := segs[len(segs)-1]
	switch {
	case strings.HasPrefix(last, "*."):
		// Suffix pattern: the directory part is ignored by the matcher.
		ext := last[1:]
		return []string{"/" + fill + ext, "/" + fill + "/" + fill + ext}
	case last == "*":
		base := "/" + strings.Join(segs[:len(segs)-1], "/")
		if base == "/" {
			return []string{"/", "/" + fill, "/" + fill + "/" + fill}
		}
		return []string{base, base + "/" + fill, base + "/" + fill + "/" + fill}
	default:
		return []string{"/" + strings.Join(segs, "/")}
	}
}

// readFile reads a file named by a flag, with an error naming it.
func readFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", name, pe.Err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
