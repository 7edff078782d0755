package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

const explainSynopsis = `explain --config FILE --path TARGET [--method M] [--token T | --token-file F]
       [--header 'K: V']... [--jwks FILE] [--now RFC3339] [--policies PATH]... [--trace=false]
       [--authz-export FILE [--client ID] [--map NAME=allow|deny|data.REF]...]

Decides one request like check and explains every step: the canonical path,
each configured template and why it won or lost, the scopes required, what
the token grants (or, offline, which Keycloak export decides), the Rego
evaluation (with its trace), the export's translation warnings and the final
status. The output contains token claims: show it to operators only.
Exit status: 0 allowed, 2 denied, 1 error.`

func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", explainSynopsis, stderr)
	var f decideFlags
	f.register(fs)
	trace := fs.Bool("trace", true, "print the Rego evaluation trace")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, err := newOffline(ctx, fs, &f, *trace)
	if err != nil {
		return err
	}
	defer o.Close()
	d, derr := o.decide(ctx)
	writeExplanation(stdout, o, d, derr, *trace)
	if derr != nil {
		return derr
	}
	if !d.Allowed {
		return &exitError{code: 2}
	}
	return nil
}

// writeExplanation prints the human-readable account of decision d.
func writeExplanation(w io.Writer, o *offline, d enforcer.Decision, derr error, withTrace bool) {
	cfg := &o.cfg
	mode := pathmatch.ModeStrict
	if cfg.RPTGuard.PathCanonicalization == enforcer.CanonicalizationKeycloak {
		mode = pathmatch.ModeKeycloak
	}
	fmt.Fprintf(w, "request          %s %s\n", o.req.Method, o.req.Path)
	fmt.Fprintf(w, "enforcement      %s (global)\n", cfg.EnforcementMode)

	// 1. Canonical path.
	canon, cerr := pathmatch.Canonicalize(o.req.Path, mode, pathmatch.Limits{})
	switch {
	case cerr != nil:
		fmt.Fprintf(w, "canonical path   refused (%s mode): %v\n", mode, cerr)
	case d.CanonicalPath != "":
		fmt.Fprintf(w, "canonical path   %s (%s mode)\n", d.CanonicalPath, mode)
	default:
		fmt.Fprintf(w, "canonical path   %s (%s mode)\n", canon.Path, mode)
	}

	// 2. Candidate templates.
	if cerr == nil && len(cfg.Paths) > 0 {
		fmt.Fprintln(w, "\ncandidates")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range candidates(cfg.Paths, canon.Path, mode, d.Template) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.marker, c.template, c.why)
		}
		_ = tw.Flush()
	}
	if len(o.resolved) > 0 {
		fmt.Fprintf(w, "  (resource ids of %s taken from the token's permissions by name: no server lookup offline)\n", strings.Join(o.resolved, ", "))
	}

	// 3. What the request needs.
	lastIn, _, _ := o.rec.last()
	offlinePerms := lastIn != nil && lastIn.PermissionsSource == policies.PermissionsOffline
	fmt.Fprintln(w)
	if d.Template != "" {
		res := "none (the path names no resource id)"
		if d.Resource.ID != "" || d.Resource.Name != "" {
			id := d.Resource.ID
			switch {
			case id == "" && offlinePerms:
				id = "none in the export; Keycloak's policies match the resource by name"
			case id == "":
				id = "unknown offline: no \"id\" in the config and no permission of that name in the token"
			}
			res = fmt.Sprintf("%s (id %s)", orDash(d.Resource.Name), id)
		}
		fmt.Fprintf(w, "resource         %s\n", res)
		if len(d.RequiredScopes) > 0 {
			fmt.Fprintf(w, "required scopes  %s (%s)\n", strings.Join(d.RequiredScopes, " "), d.ScopesMode)
		} else {
			fmt.Fprintf(w, "required scopes  none: any permission on the resource\n")
		}
	}

	// 4. The token.
	switch {
	case o.req.Token == "":
		fmt.Fprintln(w, "token            none (anonymous request)")
	case o.verifyErr != nil:
		fmt.Fprintf(w, "token            rejected: %s\n", tokenProblem(o.verifyErr))
	default:
		c := o.claims
		fmt.Fprintf(w, "token            valid; user %s, expires %s\n", orDash(c.PreferredUsername), c.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"))
		if len(c.RealmRoles) > 0 {
			fmt.Fprintf(w, "realm roles      %s\n", strings.Join(c.RealmRoles, " "))
		}
		perms := c.Permissions()
		if offlinePerms {
			src := "rptguard.policies (permissions-source offline)"
			if o.authzFile != "" {
				src = o.authzFile
			}
			fmt.Fprintf(w, "permissions      offline: Keycloak's policies from %s, for the token's roles, groups and claims (no RPT, no server call)\n", src)
			perms = nil
		} else if c.Authorization == nil {
			fmt.Fprintln(w, "grants           nothing: not an RPT (no authorization claim); offline, no UMA exchange is made")
		} else if len(perms) == 0 {
			fmt.Fprintln(w, "grants           nothing: the RPT holds no permission")
		}
		for i, p := range perms {
			label := "grants"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(w, "%-16s %s\n", label, describePermission(p, o.now()))
		}
	}

	// 5. Policies.
	in, pd, perr := o.rec.last()
	fmt.Fprintln(w)
	switch {
	case in == nil:
		fmt.Fprintln(w, "policy           not evaluated (decided before the policy step)")
	case perr != nil:
		fmt.Fprintf(w, "policy           error: %v\n", perr)
	default:
		verdict := "allow"
		if !pd.Allow {
			verdict = "deny"
		}
		fmt.Fprintf(w, "policy           %s\n", verdict)
		if in.Rule != "" {
			fmt.Fprintf(w, "rule             %s must hold\n", in.Rule)
		}
		if pd.MatchedPermission != nil {
			fmt.Fprintf(w, "matched          %s\n", describePermission(*pd.MatchedPermission, o.now()))
		}
		for _, r := range pd.Reasons {
			fmt.Fprintf(w, "reason           %s\n", r)
		}
		if withTrace && pd.Trace != "" {
			fmt.Fprintln(w, "\ntrace")
			for _, line := range strings.Split(strings.TrimRight(pd.Trace, "\n"), "\n") {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}

	if offlinePerms && len(o.authzWarnings) > 0 {
		fmt.Fprintf(w, "\noffline warnings (evaluated differently from Keycloak)\n")
		for _, s := range o.authzWarnings {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}

	// 6. The answer.
	fmt.Fprintln(w)
	fmt.Fprintf(w, "decision         %d %s\n", d.Status, d.Reason)
	if d.Challenge != "" {
		fmt.Fprintf(w, "www-authenticate %s\n", d.Challenge)
	}
	if d.Location != "" {
		fmt.Fprintf(w, "location         %s\n", d.Location)
	}
	if derr != nil {
		fmt.Fprintf(w, "error            %v\n", derr)
	}
}

type candidate struct {
	marker, template, why string
}

// tierRank orders pathmatch's precedence tiers.
var tierRank = map[pathmatch.Kind]int{
	pathmatch.KindExact: 1, pathmatch.KindTemplate: 2, pathmatch.KindSuffix: 3, pathmatch.KindWildcard: 4,
}

var tierRule = map[pathmatch.Kind]string{
	pathmatch.KindExact:    "the first exact match in configuration order wins",
	pathmatch.KindTemplate: "fewest placeholders, then configuration order",
	pathmatch.KindSuffix:   "the last suffix pattern in configuration order wins",
	pathmatch.KindWildcard: "most segments, then fewest placeholders, then configuration order",
}

// candidates says, for every configured template, whether it matches path
// and why it won or lost against winner.
func candidates(paths []enforcer.PathConfig, path string, mode pathmatch.Mode, winner string) []candidate {
	kinds := make([]pathmatch.Kind, len(paths))
	winnerKind := pathmatch.KindNone
	for i, p := range paths {
		m, err := pathmatch.Compile([]string{p.Path}, pathmatch.WithMode(mode))
		if err != nil {
			continue
		}
		if r, ok := m.Match(path); ok {
			kinds[i] = r.Kind
			if p.Path == winner {
				winnerKind = r.Kind
			}
		}
	}
	out := make([]candidate, 0, len(paths))
	for i, p := range paths {
		c := candidate{marker: " ", template: p.Path}
		k := kinds[i]
		switch {
		case k == pathmatch.KindNone:
			c.why = "no match"
		case p.Path == winner:
			c.marker = "→"
			c.why = fmt.Sprintf("WINS (%s match)", k)
		case winner == "":
			c.why = fmt.Sprintf("%s match, not used", k)
		case tierRank[k] > tierRank[winnerKind]:
			c.why = fmt.Sprintf("loses: a %s match ranks below a %s match", k, winnerKind)
		default:
			c.why = fmt.Sprintf("loses: both %s matches; %s", k, tierRule[k])
		}
		out = append(out, c)
	}
	return out
}

func describePermission(p rpt.Permission, now time.Time) string {
	name := p.ResourceName
	if name == "" && p.ResourceID == "" {
		name = "(scope-only)"
	}
	scopes := "every scope"
	if len(p.Scopes) > 0 {
		scopes = strings.Join(slices.Clone(p.Scopes), " ")
	}
	s := fmt.Sprintf("%s (id %s): %s", orDash(name), orDash(p.ResourceID), scopes)
	if len(p.Claims) > 0 {
		s += fmt.Sprintf(" when claims %v", p.Claims)
	}
	if !p.Active(now) {
		s += " [expired]"
	}
	return s
}

// tokenProblem names why a token was rejected, without any token content.
func tokenProblem(err error) string {
	var exp *rpt.ExpiredError
	if errors.As(err, &exp) {
		return "expired at " + exp.Expiry.UTC().Format(time.RFC3339)
	}
	return err.Error()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
