package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rptguard/rptguard/uma"
)

// Shadow mode (rptguard.offline-shadow): a sample of the offline decisions
// is asked again of the authorization server, in the background, with the
// UMA grant in response_mode=decision, and the two answers are compared. The
// request's answer is the offline one, always: shadow work never changes nor
// delays it.

// Defaults and limits of [ShadowConfig].
const (
	// DefaultShadowMaxInFlight is the default for [ShadowConfig.MaxInFlight].
	DefaultShadowMaxInFlight = 4
	// DefaultShadowTimeout is the default for [ShadowConfig.Timeout].
	DefaultShadowTimeout = 2 * time.Second

	maxShadowInFlight = 1024
	maxShadowTimeout  = time.Minute
)

// ShadowConfig configures shadow mode, under rptguard.offline-shadow:
// checking a sample of the offline decisions against the authorization
// server to find where the translated policies (see
// [WithAuthorizationSettings]) and Keycloak disagree. It needs at least one
// path with permissions-source "offline" and an authorization server (not
// [WithoutServer]).
//
// For a sampled decision of an offline, ENFORCING path whose method's
// scopes-enforcement-mode is ALL or ANY, a background task runs Keycloak's
// UMA grant with response_mode=decision, the caller's token as
// subject_token, the configuration's resource as audience, the claims the
// claim information points pushed, and the permission
// "<resource name or id>#<required scopes>" (the name when the path has
// one: names survive export and import, ids need not). Keycloak's decision
// answers true as soon as any requested scope is granted, so ANY sends one
// permission with every scope (granted unless Keycloak grants none), while
// ALL with several scopes sends one request per scope and counts as granted
// only when every one is. The comparison is reported to a [ShadowObserver]
// and disagreements are logged at warning level (token fingerprint, path,
// resource, scopes, both answers; never the token). A failed or timed-out
// call is reported as [ShadowUnavailable], never as a disagreement.
//
// The zero value of each field selects its default. Reload applies new
// values; checks started before a Reload count against the previous
// MaxInFlight.
type ShadowConfig struct {
	// SampleRate is the fraction of offline decisions checked, from 0 to 1.
	// If zero, none is (shadow mode stays configured but idle). Replace the
	// random sampling with [WithShadowSampler].
	SampleRate float64 `json:"sample-rate,omitempty"`
	// MaxInFlight bounds the concurrent checks (1 to 1024); a sampled
	// decision arriving when all are busy is dropped ([ShadowDropped]),
	// never queued. If zero, [DefaultShadowMaxInFlight].
	MaxInFlight int `json:"max-in-flight,omitempty"`
	// Timeout bounds one check, every request of it included (at most 1m).
	// If zero, [DefaultShadowTimeout].
	Timeout Duration `json:"timeout,omitempty"`
}

// ShadowOutcome is the result of one shadow check. It is a stable,
// low-cardinality code, fit for a metric label.
type ShadowOutcome string

// Shadow outcomes.
const (
	// ShadowAgreed: the server's answer equals the offline one.
	ShadowAgreed ShadowOutcome = "agreed"
	// ShadowDisagreed: the server answered otherwise.
	ShadowDisagreed ShadowOutcome = "disagreed"
	// ShadowUnavailable: no answer was obtained (server down, timeout,
	// Close, an error answer other than access_denied).
	ShadowUnavailable ShadowOutcome = "unavailable"
	// ShadowDropped: the decision was sampled but MaxInFlight checks were
	// already running; nothing was asked.
	ShadowDropped ShadowOutcome = "dropped"
)

// ShadowEvent describes one sampled offline decision and its shadow check.
// Only Outcome is a metric label; the other fields are for logs and
// alerts (they name resources, and TokenHash identifies a token).
type ShadowEvent struct {
	// Outcome of the check.
	Outcome ShadowOutcome
	// Template is the matched path template.
	Template string
	// Resource is the resource the path is bound to.
	Resource Resource
	// Scopes are the required scopes. Read-only.
	Scopes []string
	// ScopesMode is how Scopes were checked (ALL or ANY).
	ScopesMode ScopesEnforcementMode
	// Offline is the offline answer (the one the request got).
	Offline bool
	// Server is the authorization server's answer (meaningful for
	// ShadowAgreed and ShadowDisagreed only).
	Server bool
	// TokenHash is a short SHA-256 fingerprint of the caller's token, as in
	// log lines. Never the token.
	TokenHash string
	// Elapsed is how long the check took (zero for ShadowDropped).
	Elapsed time.Duration
	// Err is why the check was unavailable (nil otherwise). It never
	// contains a token.
	Err error
}

// ShadowObserver is an optional interface of an [Observer] given with
// [WithObserver]: when the observer implements it, it receives one
// ShadowEvent per sampled offline decision (rptguard.offline-shadow).
// Shadow is called from background goroutines, and for ShadowDropped on the
// request path: it must be safe for concurrent use and fast.
type ShadowObserver interface {
	Shadow(ev ShadowEvent)
}

// WithShadowSampler replaces the random sampling of shadow mode: sample is
// called, on the request path, for each offline decision eligible for a
// shadow check while rptguard.offline-shadow.sample-rate is positive, with
// that rate, and the decision is checked when it returns true. It must be
// safe for concurrent use and fast. If nil or not given, a decision is
// sampled with probability rate.
func WithShadowSampler(sample func(rate float64) bool) Option {
	return func(o *options) { o.shadowSampler = sample }
}

// defaultShadowSampler samples with probability rate.
func defaultShadowSampler(rate float64) bool {
	return rate >= 1 || rand.Float64() < rate
}

// ---------------------------------------------------------------------------
// Configuration

// shadowConfig decodes rptguard.offline-shadow.
func (p *parser) shadowConfig(o *object, key string, dst **ShadowConfig) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	so, err := p.object(o.field(key), v)
	if err != nil {
		return err
	}
	sc := &ShadowConfig{}
	if err := firstErr([]error{
		so.number("sample-rate", &sc.SampleRate),
		so.intField("max-in-flight", &sc.MaxInFlight),
		so.unmarshal("timeout", &sc.Timeout),
	}); err != nil {
		return err
	}
	if err := strictRest(so); err != nil {
		return err
	}
	*dst = sc
	return nil
}

// number decodes a JSON number.
func (o *object) number(key string, dst *float64) error {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return cfgErr(o.field(key), "want a number")
	}
	return nil
}

// validateShadow checks rptguard.offline-shadow: ranges, and that some path
// is decided offline.
func (c *Config) validateShadow() error {
	sc := c.RPTGuard.OfflineShadow
	if sc == nil {
		return nil
	}
	const field = "rptguard.offline-shadow"
	var errs []error
	if r := sc.SampleRate; math.IsNaN(r) || r < 0 || r > 1 {
		errs = append(errs, cfgErr(field+".sample-rate", "must be between 0 and 1, got %g", r))
	}
	if sc.MaxInFlight < 0 || sc.MaxInFlight > maxShadowInFlight {
		errs = append(errs, cfgErr(field+".max-in-flight", "must be between 0 (default %d) and %d, got %d", DefaultShadowMaxInFlight, maxShadowInFlight, sc.MaxInFlight))
	}
	if d := time.Duration(sc.Timeout); d > maxShadowTimeout {
		errs = append(errs, cfgErr(field+".timeout", "must be at most %s, got %s", maxShadowTimeout, d))
	}
	offline := c.RPTGuard.PermissionsSource == PermissionsOffline
	for _, p := range c.Paths {
		if p.RPTGuard.PermissionsSource == PermissionsOffline {
			offline = true
		}
	}
	if !offline {
		errs = append(errs, cfgErr(field, "only valid when permissions-source is offline (globally or for a path): it checks offline decisions"))
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// Running

// shadowState is what a compiled configuration keeps of shadow mode.
type shadowState struct {
	rate    float64
	timeout time.Duration
	sem     chan struct{} // one slot per check in flight
	uc      *uma.Client
}

// bindShadow compiles rptguard.offline-shadow into s. A state that is not
// ready (no connections yet) gets none: it answers 503 anyway.
func (e *Enforcer) bindShadow(s *state, cfg *Config, d *deps) error {
	sc := cfg.RPTGuard.OfflineShadow
	if sc == nil {
		return nil
	}
	if e.opts.offline {
		return cfgErr("rptguard.offline-shadow", "needs an authorization server to ask; not available with WithoutServer")
	}
	if d == nil {
		return nil
	}
	if d.uma == nil {
		return cfgErr("rptguard.offline-shadow", "needs the UMA client, which is not available")
	}
	n := sc.MaxInFlight
	if n == 0 {
		n = DefaultShadowMaxInFlight
	}
	t := time.Duration(sc.Timeout)
	if t == 0 {
		t = DefaultShadowTimeout
	}
	s.shadow = &shadowState{rate: sc.SampleRate, timeout: t, sem: make(chan struct{}, n), uc: d.uma}
	return nil
}

// shadowPool owns the background checks (one goroutine each, bounded by the
// state's semaphore): Close cancels them and waits. The zero value is ready
// to use.
type shadowPool struct {
	mu     sync.Mutex
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start registers one check; it returns false after close.
func (r *shadowPool) start() (context.Context, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false
	}
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(context.Background())
	}
	r.wg.Add(1)
	return r.ctx, true
}

// done ends a check registered by start.
func (r *shadowPool) done() { r.wg.Done() }

// close cancels the checks in flight and waits for them. Idempotent.
func (r *shadowPool) close() {
	r.mu.Lock()
	r.closed = true
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// shadowJob is one check. It holds the raw token until the check ends (in
// memory only: it is never logged or reported).
type shadowJob struct {
	ev       ShadowEvent
	token    string
	ref      string
	audience string
	claims   map[string][]string
}

// shadowOffline samples an offline policy decision (allowed: the answer)
// and, when sampled and a slot is free, checks it in the background. It
// never blocks.
func (e *Enforcer) shadowOffline(s *state, p *pathEntry, me methodEntry, token string, pushed map[string][]string, allowed bool) {
	sh := s.shadow
	if sh == nil || sh.rate <= 0 || p.mode != EnforcementEnforcing || me.mode == ScopesDisabled {
		return
	}
	ref := p.name
	if ref == "" {
		ref = p.id
	}
	if ref == "" && len(me.scopes) == 0 {
		return // nothing Keycloak could be asked about
	}
	sample := e.opts.shadowSampler
	if sample == nil {
		sample = defaultShadowSampler
	}
	if !sample(sh.rate) {
		return
	}
	ev := ShadowEvent{
		Template: p.template, Resource: p.resource(), Scopes: me.scopes, ScopesMode: me.mode,
		Offline: allowed, TokenHash: fingerprint(token),
	}
	select {
	case sh.sem <- struct{}{}:
	default:
		ev.Outcome = ShadowDropped
		e.reportShadow(&ev)
		return
	}
	ctx, ok := e.shadow.start()
	if !ok {
		<-sh.sem
		return
	}
	job := &shadowJob{ev: ev, token: token, ref: ref, audience: s.cfg.Resource, claims: maps.Clone(pushed)}
	go e.runShadow(ctx, sh, job)
}

// runShadow asks the server and reports the comparison.
func (e *Enforcer) runShadow(ctx context.Context, sh *shadowState, job *shadowJob) {
	start := time.Now()
	ev := &job.ev
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("enforcer: panic in a shadow check", "panic", fmt.Sprint(p))
			ev.Outcome, ev.Err = ShadowUnavailable, ErrInternal
			e.reportShadow(ev)
		}
		<-sh.sem
		e.shadow.done()
	}()
	ctx, cancel := context.WithTimeout(ctx, sh.timeout)
	defer cancel()
	granted, err := e.askShadow(ctx, sh.uc, job)
	ev.Elapsed = time.Since(start)
	e.obs.Call("uma_shadow", ev.Elapsed, err)
	switch {
	case err != nil:
		ev.Outcome, ev.Err = ShadowUnavailable, err
	case granted == ev.Offline:
		ev.Outcome, ev.Server = ShadowAgreed, granted
	default:
		ev.Outcome, ev.Server = ShadowDisagreed, granted
	}
	e.reportShadow(ev)
}

// askShadow runs the decision requests of job (see [ShadowConfig]). A
// denial is (false, nil); any other failure is an error.
func (e *Enforcer) askShadow(ctx context.Context, uc *uma.Client, job *shadowJob) (bool, error) {
	perms := []uma.Permission{{Resource: job.ref, Scopes: job.ev.Scopes}}
	if job.ev.ScopesMode == ScopesAll && len(job.ev.Scopes) > 1 {
		perms = perms[:0]
		for _, sc := range job.ev.Scopes {
			perms = append(perms, uma.Permission{Resource: job.ref, Scopes: []string{sc}})
		}
	}
	for _, perm := range perms {
		err := uc.RequestDecision(ctx, uma.GrantRequest{
			SubjectToken: job.token,
			Audience:     job.audience,
			Permissions:  []uma.Permission{perm},
			ClaimToken:   job.claims,
		})
		switch {
		case errors.Is(err, uma.ErrAccessDenied):
			return false, nil
		case err != nil:
			return false, err
		}
	}
	return true, nil
}

// reportShadow sends ev to the observer and logs it.
func (e *Enforcer) reportShadow(ev *ShadowEvent) {
	if so, ok := e.obs.(ShadowObserver); ok {
		so.Shadow(*ev)
	}
	attrs := []any{"token", ev.TokenHash, "path", ev.Template, "resource", ev.Resource.Name,
		"scopes", slices.Clone(ev.Scopes), "mode", ev.ScopesMode.String()}
	switch ev.Outcome {
	case ShadowDisagreed:
		e.log.Warn("enforcer: offline decision disagrees with the authorization server",
			append(attrs, "offline", answer(ev.Offline), "server", answer(ev.Server))...)
	case ShadowUnavailable:
		if isUnavailable(ev.Err) || errors.Is(ev.Err, ErrInternal) {
			e.log.Debug("enforcer: shadow check unavailable", append(attrs, "error", ev.Err)...)
		} else {
			e.log.Warn("enforcer: shadow check refused by the authorization server", append(attrs, "error", ev.Err)...)
		}
	case ShadowDropped:
		e.log.Debug("enforcer: shadow check dropped: max-in-flight reached", attrs...)
	}
}

func answer(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}
