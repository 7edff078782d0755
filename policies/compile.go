package policies

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
)

// builtinFS holds the built-in Rego library and its tests.
//
//go:embed rego/*.rego
var builtinFS embed.FS

//go:embed schema/input.json
var inputSchema []byte

// InputSchema returns the JSON schema of the input document (a copy of
// schema/input.json). The engine type-checks every policy against it.
func InputSchema() []byte { return bytes.Clone(inputSchema) }

// Queries the engine prepares.
const (
	allowQuery    = "data.rptguard.authz.allow"
	decisionQuery = "data.rptguard.authz.decision"
	// userQuery is the part of allow that user policies can change (allow
	// is keycloak_granted, computed in Go, and this).
	userQuery = "not data.rptguard.authz.user_denied; data.rptguard.authz.rule_satisfied"
	// offlineQuery is the permission offline Keycloak policies grant
	// (policies/keycloak's EntryPoint).
	offlineQuery = "data.rptguard.offline.permission"
	// userDeniedQuery is userQuery for input.rule == "" (rule_satisfied
	// then holds by its first body, and only by it).
	userDeniedQuery = "not data.rptguard.authz.user_denied"
)

// maxRuleQueries bounds the per-rule user queries a compiled set prepares
// (see userQueryFor); further rule names use the generic userQuery.
const maxRuleQueries = 64

// ruleQuery is userQuery for input.rule == name: with name
// "rules.<a>" or "rules.<a>.<b>" (validRuleName), rule_satisfied holds
// exactly when data.rptguard.rules.<a>[.<b>] == true (its second or third
// body; split, count and the prefix test then always succeed). Identifiers
// are quoted as string keys, so none can read as a keyword.
func ruleQuery(name string) string {
	var b strings.Builder
	b.WriteString(userDeniedQuery)
	b.WriteString("; data.rptguard.rules")
	for _, part := range strings.Split(strings.TrimPrefix(name, "rules."), ".") {
		b.WriteString(`["`)
		b.WriteString(part)
		b.WriteString(`"]`)
	}
	b.WriteString(" == true")
	return b.String()
}

// userQueryFor returns the prepared user query for in.Rule (valid or
// empty): userDeniedQuery without a rule, a per-rule query prepared on
// first use (up to maxRuleQueries names), else the generic userQuery. All
// three have the same results on inputs carrying that rule.
func (set *compiled) userQueryFor(rule string) rego.PreparedEvalQuery {
	if rule == "" {
		return set.userNoRule
	}
	if pq, ok := set.ruleQueries.Load(rule); ok {
		return *pq.(*rego.PreparedEvalQuery)
	}
	if set.ruleCount.Add(1) > maxRuleQueries {
		set.ruleCount.Add(-1)
		return set.user
	}
	pq, err := set.prepare(context.Background(), ruleQuery(rule))
	if err != nil {
		set.ruleCount.Add(-1)
		return set.user
	}
	if prev, loaded := set.ruleQueries.LoadOrStore(rule, &pq); loaded {
		set.ruleCount.Add(-1)
		return *prev.(*rego.PreparedEvalQuery)
	}
	return pq
}

// RestrictedBuiltins returns the builtins removed from the capabilities
// policies compile against, because they reach the network or the host
// (http.send, net.lookup_ip_addr, opa.runtime): an authorization decision
// must not depend on, or leak to, either. A policy calling one fails to
// compile with [ErrCompile]. [WithInsecureBuiltins] puts named ones back.
func RestrictedBuiltins() []string {
	return []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}
}

// compiled is one immutable, ready-to-evaluate policy set.
type compiled struct {
	allow    rego.PreparedEvalQuery
	decision rego.PreparedEvalQuery
	// user is prepared only when user modules or data are loaded; without
	// them no user deny rule or named rule can hold, and builtinOnly is set.
	user        rego.PreparedEvalQuery
	userNoRule  rego.PreparedEvalQuery // userDeniedQuery
	ruleQueries sync.Map               // rule name → *rego.PreparedEvalQuery (ruleQuery)
	ruleCount   atomic.Int32           // entries in ruleQueries, at most maxRuleQueries
	prepare     func(ctx context.Context, query string) (rego.PreparedEvalQuery, error)
	builtinOnly bool
	// noUserRules: no module or data document under data.rptguard.user or
	// data.rptguard.rules, so user_denied is false and rule_satisfied holds
	// exactly when input.rule is "" (other modules, such as the offline
	// policies policies/keycloak generates, cannot change either).
	noUserRules bool
	// offline is offlineQuery, for the offline fast path (fast.go).
	offline  rego.PreparedEvalQuery
	compiler *ast.Compiler
	revision string
}

func capabilities(allowed []string) *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	restricted := RestrictedBuiltins()
	builtins := make([]*ast.Builtin, 0, len(caps.Builtins))
	for _, b := range caps.Builtins {
		if slices.Contains(restricted, b.Name) && !slices.Contains(allowed, b.Name) {
			continue
		}
		builtins = append(builtins, b)
	}
	caps.Builtins = builtins
	caps.AllowNet = []string{} // no remote schema or network access from the compiler
	return caps
}

// builtinModules parses the embedded library (tests excluded unless
// withTests).
func builtinModules(withTests bool) (map[string]*ast.Module, map[string][]byte, error) {
	mods := map[string]*ast.Module{}
	raw := map[string][]byte{}
	entries, err := fs.ReadDir(builtinFS, "rego")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if !withTests && strings.HasSuffix(name, "_test.rego") {
			continue
		}
		b, err := builtinFS.ReadFile(path.Join("rego", name))
		if err != nil {
			return nil, nil, err
		}
		m, err := ast.ParseModuleWithOpts("rptguard/"+name, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			return nil, nil, err
		}
		mods["rptguard/"+name] = m
		raw["rptguard/"+name] = b
	}
	return mods, raw, nil
}

func schemaSet() (*ast.SchemaSet, error) {
	var schema any
	if err := util.Unmarshal(inputSchema, &schema); err != nil {
		return nil, err
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, schema)
	return ss, nil
}

func compileErr(cause error, msgs ...string) *CompileError {
	return &CompileError{Errors: msgs, cause: cause}
}

// compile loads srcs, checks and compiles them with the built-in library and
// prepares both queries.
func compile(ctx context.Context, srcs []Source, o *options) (*compiled, error) {
	caps := capabilities(o.insecureBuiltins)
	mods, raw, err := builtinModules(false)
	if err != nil {
		return nil, compileErr(err, "built-in library: "+err.Error())
	}
	data := map[string]any{}
	var revisions []string
	var bundles, userModules int
	userRules := false
	for _, s := range srcs {
		l, err := s.load(caps)
		if err != nil {
			msg := err.Error()
			if s.path == "" || !strings.Contains(msg, s.path) {
				msg = s.String() + ": " + msg
			}
			return nil, compileErr(err, msg)
		}
		if l.bundle {
			bundles++
			revisions = append(revisions, l.revision)
		}
		for name, m := range l.modules {
			if err := checkUserModule(name, m); err != nil {
				return nil, err
			}
			key := name
			for i := 2; mods[key] != nil; i++ {
				key = fmt.Sprintf("%s#%d", name, i)
			}
			mods[key] = m
			raw[key] = l.raw[name]
			userModules++
			userRules = userRules || definesUserRules(m.Package.Path)
		}
		if err := mergeData(data, l.data, ""); err != nil {
			return nil, compileErr(nil, s.String()+": "+err.Error())
		}
	}
	if rp, ok := data["rptguard"].(map[string]any); ok {
		for _, k := range []string{"authz", "keycloak"} {
			if _, ok := rp[k]; ok {
				return nil, compileErr(nil, "data document at data.rptguard."+k+" is reserved")
			}
		}
	}

	ss, err := schemaSet()
	if err != nil {
		return nil, compileErr(err, "input schema: "+err.Error())
	}
	c := ast.NewCompiler().
		WithCapabilities(caps).
		WithStrict(true).
		WithSchemas(ss).
		WithUseTypeCheckAnnotations(true).
		WithEnablePrintStatements(false)
	c.Compile(mods)
	if c.Failed() {
		msgs := make([]string, 0, len(c.Errors))
		for _, e := range c.Errors {
			msgs = append(msgs, astErrorString(e))
		}
		return nil, compileErr(nil, msgs...)
	}

	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	prep := func(ctx context.Context, q string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(q),
			rego.Compiler(c),
			rego.Store(store),
			rego.StoreReadAST(true),
			rego.Capabilities(caps),
			rego.Strict(true),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
	}
	if rp, ok := data["rptguard"].(map[string]any); ok {
		_, u := rp["user"]
		_, r := rp["rules"]
		userRules = userRules || u || r
	}
	set := &compiled{compiler: c, builtinOnly: userModules == 0 && len(data) == 0, noUserRules: !userRules, prepare: prep}
	if set.allow, err = prep(ctx, allowQuery); err != nil {
		return nil, compileErr(err, "prepare "+allowQuery+": "+err.Error())
	}
	if !set.builtinOnly {
		if set.user, err = prep(ctx, userQuery); err != nil {
			return nil, compileErr(err, "prepare the user part of "+allowQuery+": "+err.Error())
		}
		if set.userNoRule, err = prep(ctx, userDeniedQuery); err != nil {
			return nil, compileErr(err, "prepare the user part of "+allowQuery+": "+err.Error())
		}
		if set.offline, err = prep(ctx, offlineQuery); err != nil {
			return nil, compileErr(err, "prepare "+offlineQuery+": "+err.Error())
		}
	}
	if set.decision, err = prep(ctx, decisionQuery); err != nil {
		return nil, compileErr(err, "prepare "+decisionQuery+": "+err.Error())
	}

	if len(srcs) == 1 && bundles == 1 && revisions[0] != "" {
		set.revision = revisions[0]
	} else {
		set.revision = contentHash(raw, data)
	}
	return set, nil
}

func astErrorString(e *ast.Error) string {
	if e.Location != nil {
		return fmt.Sprintf("%s:%d: %s", e.Location.File, e.Location.Row, e.Message)
	}
	return e.Message
}

// definesUserRules reports whether a module of package path can define
// data under data.rptguard.user or data.rptguard.rules (a module defines
// data only under its package).
func definesUserRules(path ast.Ref) bool {
	if len(path) < 3 || !path[1].Equal(ast.InternedTerm("rptguard")) {
		return false
	}
	return path[2].Equal(ast.InternedTerm("user")) || path[2].Equal(ast.InternedTerm("rules"))
}

// checkUserModule rejects modules that would change the built-in decision or
// whose deny rules would silently be ignored.
func checkUserModule(name string, m *ast.Module) error {
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	for _, r := range []string{"rptguard.authz", "rptguard.keycloak"} {
		if pkg == r || strings.HasPrefix(pkg, r+".") {
			return compileErr(nil, fmt.Sprintf("%s: package %s is reserved for the built-in library", name, pkg))
		}
	}
	if pkg == "rptguard" {
		return compileErr(nil, name+": package rptguard is reserved; use rptguard.user or rptguard.rules.<name>")
	}
	denyCounts := pkg == "rptguard.user" ||
		(strings.HasPrefix(pkg, "rptguard.rules.") && !strings.Contains(strings.TrimPrefix(pkg, "rptguard.rules."), "."))
	for _, r := range m.Rules {
		ref := r.Head.Ref()
		counts, refHead := denyCounts, false
		if len(ref) > 1 && ref[len(ref)-1].Equal(ast.StringTerm("deny")) {
			// A ref head ending in deny (a.deny contains ...) defines
			// data.<pkg>.a.deny: consulted only as data.rptguard.rules.<name>.deny.
			counts, refHead = pkg == "rptguard.rules" && len(ref) == 2, true
		} else if len(ref) == 0 || !ref[0].Equal(ast.VarTerm("deny")) {
			continue
		}
		loc := name
		if r.Location != nil {
			loc = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if !counts {
			if strings.HasPrefix(pkg, "rptguard.") {
				return compileErr(nil, fmt.Sprintf("%s: deny rules in package %s are not consulted; put them in rptguard.user or rptguard.rules.<name>", loc, pkg))
			}
			continue
		}
		if (!refHead && len(ref) != 1) || r.Head.RuleKind() != ast.MultiValue {
			return compileErr(nil, fmt.Sprintf("%s: deny must be a partial set rule: deny contains reason if { ... }", loc))
		}
	}
	return nil
}

// mergeData merges src into dst, failing on conflicting leaves.
func mergeData(dst, src map[string]any, at string) error {
	for k, v := range src {
		p := k
		if at != "" {
			p = at + "." + k
		}
		cur, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		cm, ok1 := cur.(map[string]any)
		vm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("data conflict at data.%s", p)
		}
		if err := mergeData(cm, vm, p); err != nil {
			return err
		}
	}
	return nil
}

// contentHash identifies a policy set by its modules and data.
func contentHash(raw map[string][]byte, data map[string]any) string {
	h := sha256.New()
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(raw[n])
		h.Write([]byte{0})
	}
	b, err := json.Marshal(data) // map keys sorted
	if err == nil {
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}
