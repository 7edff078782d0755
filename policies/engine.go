package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/rptguard/rptguard/rpt"
)

// Engine evaluates inputs against the built-in Rego library and the user's
// policies. Policies are compiled and both queries prepared once, in [New]
// and on [Engine.Reload]; evaluation only builds the input.
//
// An Engine is safe for concurrent use. Reloads swap the compiled set
// atomically: an evaluation uses one set from start to end.
type Engine struct {
	cur    atomic.Pointer[compiled]
	opts   options
	static *staticCache // input parts per path and method (inputcache.go)

	mu      sync.Mutex // serialises reloads; guards sources
	sources []Source

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

type options struct {
	sources          []Source
	logger           *slog.Logger
	now              func() time.Time
	watch            time.Duration
	onReload         func(revision string, err error)
	insecureBuiltins []string
}

// Option configures an [Engine].
type Option func(*options)

// WithSources adds user policy sources. Without any, the engine evaluates
// the built-in Keycloak decision alone.
func WithSources(src ...Source) Option {
	return func(o *options) { o.sources = append(o.sources, src...) }
}

// WithLogger sets the logger for background reloads. If nil or not set,
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithClock sets the clock used to drop expired permissions (a permission's
// own exp) and read by policies through time.now_ns() (offline time
// policies). Defaults to time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithWatch polls the file-system sources (files, directories, bundles, and
// fs.FS sources) every interval and reloads when a file's name, size or
// modification time changed. A failed reload keeps the current set and is
// reported to the logger and to [WithOnReload]. Zero (the default) disables
// watching. [Engine.Close] stops the watch.
func WithWatch(interval time.Duration) Option {
	return func(o *options) { o.watch = interval }
}

// WithOnReload sets a callback run after every reload the watch triggers,
// with the new revision or the error that kept the old set. It runs on the
// watch goroutine and must not block for long.
func WithOnReload(fn func(revision string, err error)) Option {
	return func(o *options) { o.onReload = fn }
}

// WithInsecureBuiltins re-enables builtins from [RestrictedBuiltins]
// (http.send, net.lookup_ip_addr, opa.runtime) by name. Policies that use
// them make decisions depend on the network or expose the host environment:
// you MUST NOT enable them for policies you do not fully control.
func WithInsecureBuiltins(names ...string) Option {
	return func(o *options) { o.insecureBuiltins = append(o.insecureBuiltins, names...) }
}

// New loads and compiles the built-in library and the sources given with
// [WithSources], and prepares the decision queries. ctx bounds compilation
// only. It fails with an error matching [ErrCompile] ([*CompileError]) when a
// source cannot be read, parsed, type-checked against the input schema or
// compiled in strict mode, or uses a reserved package.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	e := &Engine{static: newStaticCache()}
	for _, o := range opts {
		o(&e.opts)
	}
	if e.opts.logger == nil {
		e.opts.logger = slog.New(slog.DiscardHandler)
	}
	if e.opts.now == nil {
		e.opts.now = time.Now
	}
	e.sources = slices.Clone(e.opts.sources)
	var fp string
	if e.opts.watch > 0 {
		fp = fingerprint(e.sources) // before compiling: a change during compile triggers a reload
	}
	set, err := compile(ctx, e.sources, &e.opts)
	if err != nil {
		return nil, err
	}
	e.cur.Store(set)
	if e.opts.watch > 0 {
		e.stop = make(chan struct{})
		e.done = make(chan struct{})
		go e.watchLoop(e.opts.watch, fp)
	}
	return e, nil
}

// Revision identifies the compiled policy set: the bundle manifest's
// revision when a single bundle is the only source, otherwise "sha256:" and
// a hash of every module and data document. Decision caches can key on it.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Reload recompiles the policies and swaps them in atomically. With sources,
// they replace the current ones; without, the current sources are read
// again. On error the current set stays in place and the error (matching
// [ErrCompile]) is returned. Safe to call concurrently with evaluations.
func (e *Engine) Reload(ctx context.Context, sources ...Source) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	srcs := e.sources
	if len(sources) > 0 {
		srcs = slices.Clone(sources)
	}
	set, err := compile(ctx, srcs, &e.opts)
	if err != nil {
		return err
	}
	e.sources = srcs
	e.cur.Store(set)
	return nil
}

// HasRule reports whether name ("rules.<name>" or "rules.<pkg>.<name>") is
// defined by the loaded policies, so configurations naming rules can be
// validated at start-up instead of denying at run time.
func (e *Engine) HasRule(name string) bool {
	if !validRuleName(name) {
		return false
	}
	ref, err := ast.ParseRef("data.rptguard." + name)
	if err != nil {
		return false
	}
	return len(e.cur.Load().compiler.GetRulesExact(ref)) > 0
}

// Close stops the watch started by [WithWatch], waiting for it to finish. It
// is idempotent and always returns nil. The engine keeps evaluating after
// Close.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		if e.stop != nil {
			close(e.stop)
			<-e.done
		}
	})
	return nil
}

func (e *Engine) watchLoop(interval time.Duration, last string) {
	defer close(e.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		e.mu.Lock()
		fp := fingerprint(e.sources)
		e.mu.Unlock()
		if fp == last {
			continue
		}
		last = fp
		ctx, cancel := context.WithTimeout(context.Background(), 10*interval+30*time.Second)
		err := e.Reload(ctx)
		cancel()
		rev := e.Revision()
		if err != nil {
			e.opts.logger.Error("policies: reload failed, keeping the current policies", slog.String("revision", rev), slog.Any("error", err))
		} else {
			e.opts.logger.Info("policies: reloaded", slog.String("revision", rev))
		}
		if e.opts.onReload != nil {
			e.opts.onReload(rev, err)
		}
	}
}

// Evaluate decides in. The built-in Keycloak part of
// data.rptguard.authz.allow is computed in Go (it depends on the input
// alone; see fast.go), the user part (deny rules, the named rule) by Rego
// when user policies are loaded; only on deny is the decision object
// evaluated, for the reasons.
//
// Every error comes with a denying Decision: [ErrInvalidInput] for an input
// that cannot be built, [ErrEvaluation] ([*EvalError]) for a failed, panicked
// or cancelled evaluation (also matching ctx's error), [ErrUndefined] when the
// query has no result.
func (e *Engine) Evaluate(ctx context.Context, in Input) (Decision, error) {
	return e.evaluate(ctx, &in, evalReasons)
}

// EvaluateAllow is [Engine.Evaluate] without the reasons of a deny: a
// denying Decision has no Reasons and no MatchedPermission, which saves the
// second evaluation a deny otherwise costs. Allow, the errors, and an
// allow's MatchedPermission are exactly Evaluate's. The enforcer uses it on
// its hot path.
func (e *Engine) EvaluateAllow(ctx context.Context, in Input) (Decision, error) {
	return e.evaluate(ctx, &in, evalAllowOnly)
}

// EvaluateExplain is [Engine.Evaluate] with a trace: it evaluates the full
// decision object under OPA's buffer tracer and returns the pretty-printed
// trace in [Decision.Trace] (rules entered, expressions evaluated, with
// locations and variable values). It is several times slower than Evaluate;
// use it for debugging and the CLI's explain, not on every request. The
// trace can contain token claims: never return it to clients.
func (e *Engine) EvaluateExplain(ctx context.Context, in Input) (Decision, error) {
	return e.evaluate(ctx, &in, evalExplain)
}

// EvaluateUserRules reports whether the user's rules allow in, leaving out
// Keycloak's permission check: no user deny rule (rptguard.user,
// rptguard.rules.<pkg>) produces a reason, and the rule the path names
// (in.Rule), if any, is exactly true. The enforcer asks it where Keycloak
// grants without a permission (a method whose scopes-enforcement-mode is
// DISABLED), so user rules still deny there. Errors, a cancelled ctx and a
// recovered panic report false with an error, as Evaluate does.
func (e *Engine) EvaluateUserRules(ctx context.Context, in Input) (ok bool, err error) {
	set := e.cur.Load()
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, &EvalError{Code: "panic"}
		}
	}()
	if err := ctx.Err(); err != nil {
		return false, &EvalError{Code: topdown.CancelErr, cause: err}
	}
	if set.noUserRules && in.Rule == "" {
		return true, nil
	}
	v, _, err := in.value(e.opts.now, e.static)
	if err != nil {
		return false, err
	}
	rs, err := run(ctx, set.userQueryFor(in.Rule), v, rego.EvalTime(e.opts.now()))
	if err != nil {
		return false, evalError(ctx, err)
	}
	return len(rs) > 0, nil
}

type evalMode int

const (
	evalReasons   evalMode = iota // allow, and the reasons of a deny
	evalAllowOnly                 // allow only
	evalExplain                   // the full decision object, traced
)

func (e *Engine) evaluate(ctx context.Context, in *Input, mode evalMode) (d Decision, err error) {
	set := e.cur.Load()
	d.Revision = set.revision
	defer func() {
		if r := recover(); r != nil {
			d = Decision{Revision: set.revision, Reasons: []string{"policy evaluation failed"}}
			err = &EvalError{Code: "panic"}
		}
	}()
	if err := ctx.Err(); err != nil {
		return d, &EvalError{Code: topdown.CancelErr, cause: err}
	}
	if mode != evalExplain && fastEligible(in) {
		return e.evaluateFast(ctx, set, in, mode, d)
	}
	v, perms, err := in.value(e.opts.now, e.static)
	if err != nil {
		return d, err
	}
	// time.now_ns() in policies (offline time policies) is the engine's clock.
	tm := rego.EvalTime(e.opts.now())
	if mode == evalExplain {
		return set.decide(ctx, v, perms, d, true, tm)
	}
	if offlineFastEligible(set, in) {
		rs, err := run(ctx, set.offline, v, tm)
		if err != nil {
			return d, evalError(ctx, err)
		}
		if granted, ok := offlineGranted(in, rs); ok {
			// MatchedPermission stays nil: offline decisions match none.
			if d.Allow = granted; granted || mode == evalAllowOnly {
				return d, nil
			}
			return set.decide(ctx, v, perms, d, false, tm)
		}
	}
	rs, err := run(ctx, set.allow, v, tm)
	if err != nil {
		return d, evalError(ctx, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return d, ErrUndefined
	}
	allow, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return d, fmt.Errorf("%w: %s is not a boolean", ErrUndefined, allowQuery)
	}
	if allow {
		d.Allow = true
		d.MatchedPermission = matchPermission(in, perms)
		return d, nil
	}
	if mode == evalAllowOnly {
		return d, nil
	}
	return set.decide(ctx, v, perms, d, false, tm)
}

// evaluateFast decides an input [fastEligible] accepts: keycloak_granted in
// Go, then, with user policies loaded, the user part of allow in Rego.
func (e *Engine) evaluateFast(ctx context.Context, set *compiled, in *Input, mode evalMode, d Decision) (Decision, error) {
	granted, matched := keycloakGranted(in, e.opts.now)
	if granted && set.noUserRules && in.Rule == "" {
		// No user rules (module or data under rptguard.user or rptguard.rules):
		// user_denied is false, and rule_satisfied holds exactly when no rule
		// is named.
		d.Allow, d.MatchedPermission = true, matched
		return d, nil
	}
	if !granted && mode == evalAllowOnly {
		return d, nil
	}
	v, perms, err := in.value(e.opts.now, e.static)
	if err != nil {
		return d, err
	}
	tm := rego.EvalTime(e.opts.now())
	if granted && !set.noUserRules {
		rs, err := run(ctx, set.userQueryFor(in.Rule), v, tm)
		if err != nil {
			return d, evalError(ctx, err)
		}
		if len(rs) > 0 {
			d.Allow, d.MatchedPermission = true, matched
			return d, nil
		}
	}
	if mode == evalAllowOnly {
		return d, nil
	}
	return set.decide(ctx, v, perms, d, false, tm)
}

// run evaluates a prepared query on a prebuilt input value, without
// metrics, cancelling through context.AfterFunc rather than the goroutine
// per evaluation OPA starts otherwise.
func run(ctx context.Context, pq rego.PreparedEvalQuery, v ast.Value, extra ...rego.EvalOption) (rego.ResultSet, error) {
	var buf [6]rego.EvalOption
	opts := append(buf[:0], rego.EvalParsedInput(v), noMetrics)
	if ctx.Done() != nil {
		c := topdown.NewCancel()
		stop := context.AfterFunc(ctx, c.Cancel)
		defer stop()
		opts = append(opts, rego.EvalExternalCancel(c))
	}
	opts = append(opts, extra...)
	return pq.Eval(ctx, opts...)
}

// noMetrics turns OPA's per-evaluation metrics off.
var noMetrics = rego.EvalMetrics(metrics.NoOp())

// decide evaluates the decision object: reasons and the matched permission
// (and, with explain, the trace and the allow it computed).
func (set *compiled) decide(ctx context.Context, v ast.Value, perms []rpt.Permission, d Decision, explain bool, tm rego.EvalOption) (Decision, error) {
	extra := []rego.EvalOption{tm}
	var tracer *topdown.BufferTracer
	if explain {
		tracer = topdown.NewBufferTracer()
		extra = append(extra, rego.EvalQueryTracer(tracer))
	}
	rs, err := run(ctx, set.decision, v, extra...)
	if tracer != nil {
		var b strings.Builder
		topdown.PrettyTraceWithOpts(&b, *tracer, topdown.PrettyTraceOptions{Locations: true, ExprVariables: true})
		d.Trace = b.String()
	}
	if err != nil {
		return d, evalError(ctx, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return d, ErrUndefined
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return d, fmt.Errorf("%w: %s is not an object", ErrUndefined, decisionQuery)
	}
	if explain {
		allow, _ := obj["allow"].(bool)
		d.Allow = allow
	}
	if list, ok := obj["reasons"].([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok {
				d.Reasons = append(d.Reasons, s)
			}
		}
	}
	if mp, ok := obj["matched_permission"].(map[string]any); ok {
		if n, ok := mp["index"].(json.Number); ok {
			if i, err := n.Int64(); err == nil && i >= 0 && int(i) < len(perms) {
				d.MatchedPermission = &perms[i]
			}
		}
	}
	if !d.Allow && len(d.Reasons) == 0 {
		d.Reasons = []string{"denied by policy"}
	}
	if d.Allow {
		d.Reasons = nil
	}
	return d, nil
}

// evalError turns an OPA evaluation error into an *EvalError, keeping only
// the code and location (messages can quote input values).
func evalError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &EvalError{Code: topdown.CancelErr, cause: cerr}
	}
	var te *topdown.Error
	if errors.As(err, &te) {
		ee := &EvalError{Code: te.Code}
		if te.Location != nil {
			ee.Location = fmt.Sprintf("%s:%d", te.Location.File, te.Location.Row)
		}
		return ee
	}
	return &EvalError{Code: "eval_error"}
}
