package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/rptguard/rptguard/enforcer"
)

const checkSynopsis = `check --config FILE --path TARGET [--method M] [--token T | --token-file F]
       [--header 'K: V']... [--jwks FILE] [--now RFC3339] [--policies PATH]...
       [--authz-export FILE [--client ID] [--map NAME=allow|deny|data.REF]...]

Decides one request with the enforcer's pipeline, offline (no UMA exchange,
no ticket, no introspection; only the realm's JWKS is fetched, and not even
that with --jwks), and prints the decision as one JSON object. Paths that name
a resource without an "id" get the id the token's permissions give that name.

With --authz-export (a Keycloak authorization settings, client or realm
export), permissions are computed offline from Keycloak's own policies for a
plain access token, as with "permissions-source": "offline": paths without
their own permissions-source use it, and bind to the export's resources (by
name, else by URI; a config without paths uses the export's URIs). JavaScript
policies must be mapped with --map. Without the flag, a configuration's
rptguard.authorization-settings is used the same way.
Exit status: 0 allowed, 2 denied, 1 error.`

// checkResult is check's JSON output. Field names are stable.
type checkResult struct {
	Allowed  bool           `json:"allowed"`
	Status   int            `json:"status"`
	Path     *string        `json:"path"`
	Resource *checkResource `json:"resource"`
	Scopes   []string       `json:"scopes"`
	Mode     string         `json:"mode"`
	Reason   string         `json:"reason"`
}

type checkResource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", checkSynopsis, stderr)
	var f decideFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, err := newOffline(ctx, fs, &f, false)
	if err != nil {
		return err
	}
	defer o.Close()
	d, err := o.decide(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newCheckResult(d)); err != nil {
		return err
	}
	if !d.Allowed {
		return &exitError{code: 2}
	}
	return nil
}

func newCheckResult(d enforcer.Decision) checkResult {
	r := checkResult{
		Allowed: d.Allowed, Status: d.Status, Scopes: d.RequiredScopes,
		Mode: d.ScopesMode.String(), Reason: string(d.Reason),
	}
	if r.Scopes == nil {
		r.Scopes = []string{}
	}
	if d.Template != "" {
		t := d.Template
		r.Path = &t
	}
	if d.Resource.ID != "" || d.Resource.Name != "" {
		r.Resource = &checkResource{ID: d.Resource.ID, Name: d.Resource.Name}
	}
	return r
}
