package enforcer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rptguard/rptguard/internal/httpx"
	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// ErrMissingServer is returned by [New] when the configuration names no
// realm, auth-server-url or resource and the enforcer is not offline
// ([WithoutServer]).
var ErrMissingServer = errors.New("enforcer: realm, auth-server-url and resource are required unless WithoutServer is given")

// reloadTimeout bounds the server calls of [Enforcer.Reload].
const reloadTimeout = 30 * time.Second

// Enforcer is the policy enforcement point: the compiled configuration, the
// token verifiers, the UMA client, the policy evaluator and the caches.
// Build it with [New]; protect handlers with [Enforcer.Middleware] or call
// [Enforcer.Decide]. An Enforcer is safe for concurrent use; [Enforcer.Reload]
// swaps the compiled configuration atomically.
//
// # Decision pipeline
//
// Keycloak's PolicyEnforcer.enforce (SPEC §3.2), with token verification,
// in this order (the first answer wins):
//
//  1. Method: an upper-case RFC 9110 token (else 400); method-override
//     headers or _method → 400 unless rptguard.allow-method-override; methods
//     other than GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS and those named
//     in the configuration → 405 with Allow (CONNECT and TRACE always).
//     HEAD is authorized as GET.
//  2. Canonical path from the raw request target (strict or keycloak mode):
//     400, or 414 beyond 8 KiB / 256 segments.
//  3. Global DISABLED → allow.
//  4. Credentials: two Authorization headers, a malformed Bearer value, or a
//     Bearer header plus an access_token query or form parameter → 400
//     invalid_request. A token only in the query or body is never read.
//  5. The on-deny-redirect-to page (exact canonical equality) → allow.
//  6. Match (configured paths, server instances and lazy lookups through
//     the path cache; a lookup error is an unmapped path, not cached).
//  7. Anonymous: unmapped → 403 (or 302 to on-deny-redirect-to); DISABLED
//     path → allow; mapped → 401 Bearer realm="…", or with
//     user-managed-access a UMA challenge with a fresh permission ticket.
//  8. Verify the token: any failure → 401 Bearer error="invalid_token"
//     (identical for every cause, no description); dependency down → 503
//     with Retry-After.
//  9. Authenticated and unmapped: global PERMISSIVE → allow; else 403 (or
//     302).
//  10. DISABLED path → allow.
//  11. Required scopes: the method config, else [METHOD] with
//     http-method-as-scope, else the path's scopes (ANY).
//  12. Claim information points (413 body too large, 400 rejected claims,
//     503 http provider down).
//  13. Policy evaluation with the token's permissions (Keycloak's
//     isAuthorized in Rego plus user rules); with permissions-source
//     "offline", with the permission Keycloak's own policies, translated to
//     Rego, grant (see [WithAuthorizationSettings]; offline paths never ask
//     the server for permissions or tickets). Evaluation error → 500.
//  14. Denied and permissions-source "uma" (the default, without
//     user-managed-access): exchange the token for an RPT server-side
//     (subject_token, pushed claims; cached per token, resource, scopes and
//     claims) and evaluate again with the RPT's permissions. Server down →
//     503.
//  15. The method's scopes-enforcement-mode DISABLED → allow.
//  16. user-managed-access → 401 UMA challenge; else 403 Bearer
//     error="insufficient_scope" (no resource or policy names).
//
// # Differences from Keycloak
//
// Deliberate, all on the side of failing closed or of RFC 6750:
//   - Tokens are verified (signature, exp, iss, aud, typ); Keycloak's
//     enforcer decodes them unverified and relies on the host framework.
//   - Global DISABLED grants without Keycloak's 401 "Invalid bearer" to
//     anonymous requests.
//   - Anonymous requests to a mapped path get 401 with a Bearer (or UMA)
//     challenge, never a 302; Keycloak leaves the 401 to the
//     authentication layer and redirects non-bearer requests. With
//     user-managed-access, a path for which no ticket can be had (no
//     resource id and no scopes, or the server refuses the ticket) answers
//     403, as Keycloak does (catalogue E2); 503 when the server is down.
//   - scopes-enforcement-mode DISABLED grants after the permission check
//     failed, as in Keycloak, but the user's deny rules and the path's
//     named rule still apply.
//   - The deny page is allowed for anonymous requests too (Keycloak stops
//     the chain without a response).
//   - Bearer extraction is strict (two headers, header plus access_token
//     parameter, malformed values → 400); Keycloak takes the first header
//     that splits into two words.
//   - Ambiguous paths are refused with 400 in strict mode; keycloak mode
//     rewrites the request path so the handler sees what was authorized.
//   - An RPT exchange that fails because the server is down answers 503;
//     Keycloak treats every failure as "no RPT" (403).
//   - A failed server lookup during matching (instance or lazy) denies;
//     Keycloak does the same for lazy lookups only.
//   - Configured paths are resolved at New and Reload only; Keycloak
//     re-resolves invalidated non-static paths when cache entries expire.
//   - Server-loaded paths are ordered as the server lists them (Keycloak:
//     Java HashMap order); DISABLED configured paths are not resolved.
//   - Policy errors answer 500; permission-ticket failures 503 (server
//     down) or 403 (refused), without detail.
type Enforcer struct {
	opts        options
	log         *slog.Logger
	now         func() time.Time
	obs         Observer
	denyHandler DenyHandler
	eval        Evaluator
	ownEngine   *policies.Engine
	tvs         *tokenValues
	authz       authzCache  // offline.go
	stale       *staleStore // outage.go; never shared between enforcers
	shadow      shadowPool  // shadow.go

	st   atomic.Pointer[state]
	deps atomic.Pointer[deps]

	mu        sync.Mutex // serializes Reload and the not-ready retry
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// deps are the connections built from the configuration's connection fields.
type deps struct {
	hc        *http.Client
	verifiers map[TokenVerification]TokenVerifier
	uma       *uma.Client
	closers   []func()
}

// state is one compiled configuration. It is immutable once published.
type state struct {
	cfg    *Config
	log    *slog.Logger
	mode   pathmatch.Mode
	limits pathmatch.Limits

	matcher *pathmatch.Matcher
	paths   []*pathEntry

	denyPage     string
	allowed      map[string]bool
	allowHeader  string
	methodScopes map[string][]string
	globalCIP    *cipResolver

	uma     *uma.Client
	umaOn   bool
	lookups bool
	cache   *pathCache

	maxToken int
	maxBody  int64

	chBearer, chInvalidToken, chInvalidRequest, chInsufficient string

	ready           bool
	defaultVerifier TokenVerifier
	permSource      PermissionsSource
	rule            string
	emptyCtx        *AuthorizationContext
	offline         *offlineState // offline.go
	shadow          *shadowState  // shadow.go
}

// standardMethods are always accepted (Spring StrictHttpFirewall's list);
// methods named in the configuration are added. CONNECT and TRACE never are.
var standardMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// New validates cfg, connects to the authorization server (discovery, JWKS,
// UMA client, Protection API resolution of the configured paths, SPEC §1.6)
// and compiles everything the request path needs. ctx bounds the start-up
// calls only.
//
// Unless [WithoutServer] is given, cfg must name the realm, auth-server-url
// and resource ([ErrMissingServer]). An unreachable server makes New fail
// (security catalogue H1) unless [WithStartNotReady] is given. Configuration
// errors match [ErrInvalidConfig]. PERMISSIVE and DISABLED enforcement are
// logged at warning level (H11).
func New(ctx context.Context, cfg Config, opts ...Option) (*Enforcer, error) {
	e := &Enforcer{}
	for _, o := range opts {
		o(&e.opts)
	}
	o := &e.opts
	e.log = o.logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.now = o.now
	if e.now == nil {
		e.now = time.Now
	}
	e.obs = o.observer
	if e.obs == nil {
		e.obs = noopObserver{}
	}
	e.denyHandler = o.denyHandler
	if e.denyHandler == nil {
		e.denyHandler = defaultDeny{}
	}
	if o.retryMin <= 0 {
		o.retryMin = time.Second
	}
	if o.retryMax < o.retryMin {
		o.retryMax = max(30*time.Second, o.retryMin)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.offline {
		if o.verifier == nil {
			return nil, errors.New("enforcer: WithoutServer needs WithVerifier")
		}
	} else if o.umaClient == nil && (cfg.Realm == "" || cfg.AuthServerURL == "" || cfg.Resource == "") {
		return nil, ErrMissingServer
	} else if cfg.Resource == "" && len(cfg.RPTGuard.Audience) == 0 && o.verifier == nil {
		return nil, ErrMissingServer
	}
	if err := e.buildEvaluator(ctx, &cfg); err != nil {
		return nil, err
	}
	e.tvs = newTokenValues(cfg.RPTGuard.TokenCache.MaxEntries)
	e.stale = newStaleStore(&cfg.RPTGuard)
	cp := cfg
	logModes(e.log, &cp)

	d, err := e.buildDeps(ctx, &cp)
	if err == nil {
		e.deps.Store(d)
		var s *state
		s, err = e.buildState(ctx, &cp, d, true)
		if err == nil {
			e.st.Store(s)
			return e, nil
		}
		if !o.startNotReady || !isStartupUnavailable(err) {
			e.closeDeps(d)
			e.closeEngine()
			return nil, err
		}
	} else if !o.startNotReady || !isStartupUnavailable(err) {
		e.closeEngine()
		return nil, err
	}
	// Not ready: publish a state that answers 503 on protected paths and
	// retry in the background.
	e.log.Warn("enforcer: authorization server unavailable at start; answering 503 until it is reachable", "error", err)
	s, serr := e.buildState(ctx, &cp, nil, false)
	if serr != nil {
		if d := e.deps.Load(); d != nil {
			e.closeDeps(d)
		}
		e.closeEngine()
		return nil, serr
	}
	e.st.Store(s)
	rctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(1)
	go e.retryReady(rctx)
	return e, nil
}

// isStartupUnavailable reports whether a start-up error means "the server
// could not be reached" (as opposed to a configuration or protocol error).
func isStartupUnavailable(err error) bool {
	return errors.Is(err, rpt.ErrUnavailable) || errors.Is(err, rpt.ErrDiscovery) ||
		errors.Is(err, uma.ErrUnavailable) || errors.Is(err, introspection.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded)
}

func logModes(l *slog.Logger, cfg *Config) {
	switch cfg.EnforcementMode {
	case EnforcementDisabled:
		l.Warn("enforcer: enforcement-mode DISABLED: every request is allowed without any check; never use this in production")
	case EnforcementPermissive:
		l.Warn("enforcer: enforcement-mode PERMISSIVE: authenticated requests to unconfigured paths are allowed")
	}
	for _, p := range cfg.Paths {
		if p.EnforcementMode == EnforcementPermissive {
			l.Warn("enforcer: path in PERMISSIVE mode: granted when the token holds no permission for its resource", "path", p.Path)
		}
	}
}

// retryReady retries the connections and the path resolution until they
// succeed or the enforcer is closed, with exponential backoff.
func (e *Enforcer) retryReady(ctx context.Context) {
	defer e.wg.Done()
	wait := e.opts.retryMin
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if e.tryReady(ctx) {
			e.log.Info("enforcer: authorization server reachable; enforcer ready")
			return
		}
		wait = min(wait*2, e.opts.retryMax)
		t.Reset(wait)
	}
}

func (e *Enforcer) tryReady(ctx context.Context) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.st.Load()
	if cur.ready {
		return true
	}
	d := e.deps.Load()
	if d == nil {
		nd, err := e.buildDeps(ctx, cur.cfg)
		if err != nil {
			e.log.Warn("enforcer: authorization server still unavailable", "error", err)
			return false
		}
		e.deps.Store(nd)
		d = nd
	}
	s, err := e.buildState(ctx, cur.cfg, d, true)
	if err != nil {
		e.log.Warn("enforcer: resolving paths failed; still not ready", "error", err)
		return false
	}
	e.st.Store(s)
	return true
}

// Close stops the background retry and releases what New created (token
// verifiers, the UMA client, the default policy engine). Things given through
// options are not closed. Close is idempotent; requests decided after Close
// may fail with 503.
func (e *Enforcer) Close() {
	e.closeOnce.Do(func() {
		if e.cancel != nil {
			e.cancel()
		}
		e.wg.Wait()
		e.shadow.close() // shadow.go: before the UMA client closes
		if d := e.deps.Load(); d != nil {
			e.closeDeps(d)
		}
		e.closeEngine()
	})
}

func (e *Enforcer) closeDeps(d *deps) {
	for _, c := range d.closers {
		c()
	}
	d.closers = nil
}

func (e *Enforcer) closeEngine() {
	if e.ownEngine != nil {
		_ = e.ownEngine.Close()
	}
}

// Ready reports whether the enforcer has reached the authorization server
// and resolved its paths (always true unless [WithStartNotReady] was used).
func (e *Enforcer) Ready() bool { return e.st.Load().ready }

// Reload validates cfg, compiles it (resolving paths through the Protection
// API, bounded by 30 s) and swaps it in atomically; requests in flight finish
// with the configuration they started with. On any error the current
// configuration stays. The connection settings cannot change: realm,
// auth-server-url, resource, credentials and rptguard's verification, cache
// and transport settings must equal the current ones (build a new Enforcer
// instead), and a path may only select a token verification mode already in
// use. When the enforcer owns its policy engine and rptguard.policies
// changed, the engine is reloaded too. Path cache entries are dropped.
func (e *Enforcer) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.st.Load()
	if err := sameConnection(cur.cfg, &cfg); err != nil {
		return err
	}
	if err := e.checkRules(&cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	cp := cfg
	d := e.deps.Load()
	var (
		s   *state
		err error
	)
	if cur.ready || e.opts.offline {
		if e.opts.offline {
			d = e.offlineDeps()
		}
		s, err = e.buildState(ctx, &cp, d, true)
	} else {
		s, err = e.buildState(ctx, &cp, nil, false)
	}
	if err != nil {
		return err
	}
	if e.ownEngine != nil && (!slices.Equal(cur.cfg.RPTGuard.Policies, cfg.RPTGuard.Policies) || s.offlineResult() != cur.offlineResult()) {
		src, err := e.engineSources(&cfg, s.offlineResult())
		if err != nil {
			return err
		}
		if err := e.ownEngine.Reload(ctx, src...); err != nil {
			return fmt.Errorf("enforcer: reload policies: %w", err)
		}
	}
	logModes(e.log, &cp)
	e.st.Store(s)
	return nil
}

// sameConnection refuses a reload that changes what the connections were
// built from.
func sameConnection(a, b *Config) error {
	type conn struct {
		realm, url, resource, secret string
		public                       bool
		tv                           TokenVerification
		interval, leeway             Duration
		algs, aud                    []string
		maxTok                       int
		tc, ic, uc                   CacheConfig
		insecure                     bool
		conTO, sockTO, minTTL        int64
	}
	f := func(c *Config) conn {
		return conn{c.Realm, c.AuthServerURL, c.Resource, credentialsKey(&c.Credentials), c.PublicClient,
			c.RPTGuard.TokenVerification, c.RPTGuard.IntrospectionInterval, c.RPTGuard.Leeway,
			c.RPTGuard.AllowedAlgorithms, c.RPTGuard.Audience, c.RPTGuard.MaxTokenSize,
			c.RPTGuard.TokenCache, c.RPTGuard.IntrospectionCache, c.RPTGuard.UMACache,
			c.RPTGuard.InsecureAllowHTTP, c.ConnectionTimeoutMillis, c.SocketTimeoutMillis, c.TokenMinimumTimeToLive}
	}
	if !reflect.DeepEqual(f(a), f(b)) {
		return &ConfigError{Err: errors.New("reload cannot change connection settings (realm, auth-server-url, resource, credentials, token verification, caches); create a new enforcer")}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Building

func (e *Enforcer) buildEvaluator(ctx context.Context, cfg *Config) error {
	if e.opts.evaluator != nil {
		e.eval = e.opts.evaluator
		return e.checkRules(cfg)
	}
	res, err := e.authorization(cfg)
	if err != nil {
		return err
	}
	src, err := e.engineSources(cfg, res)
	if err != nil {
		return err
	}
	eng, err := policies.New(ctx,
		policies.WithSources(src...),
		policies.WithClock(e.now), policies.WithLogger(e.log))
	if err != nil {
		return fmt.Errorf("enforcer: policies: %w", err)
	}
	e.eval, e.ownEngine = eng, eng
	if err := e.checkRules(cfg); err != nil {
		_ = eng.Close()
		return err
	}
	return nil
}

// checkRules verifies that every decision-rule the configuration names is
// defined, when the evaluator can tell.
func (e *Enforcer) checkRules(cfg *Config) error {
	hr, ok := e.eval.(interface{ HasRule(string) bool })
	if !ok {
		return nil
	}
	check := func(field, rule string) error {
		if rule != "" && !hr.HasRule(ruleName(rule)) {
			return cfgErr(field, "rule %s is not defined by the loaded policies", quoteTrunc(rule))
		}
		return nil
	}
	errs := []error{check("rptguard.decision-rule", cfg.RPTGuard.DecisionRule)}
	for i, p := range cfg.Paths {
		errs = append(errs, check(fmt.Sprintf("paths[%d].rptguard.decision-rule", i), p.RPTGuard.DecisionRule))
	}
	return errors.Join(errs...)
}

// policySources maps rptguard.policies entries to policy sources: .rego,
// .json and .yaml files, .tar.gz bundles, bundle directories (with a
// .manifest) and plain directories. Remote bundle URLs are not supported here.
func policySources(paths []string) ([]policies.Source, error) {
	var out []policies.Source
	for i, p := range paths {
		switch {
		case strings.Contains(p, "://"):
			return nil, cfgErr(fmt.Sprintf("rptguard.policies[%d]", i), "remote bundles are not supported; load them with WithPolicies or OPA's bundle plugin")
		case strings.HasSuffix(p, ".tar.gz"):
			out = append(out, policies.FromBundle(p))
		case strings.HasSuffix(p, ".rego"), strings.HasSuffix(p, ".json"), strings.HasSuffix(p, ".yaml"), strings.HasSuffix(p, ".yml"):
			out = append(out, policies.FromFile(p))
		default:
			if _, err := os.Stat(filepath.Join(p, ".manifest")); err == nil {
				out = append(out, policies.FromBundle(p))
			} else {
				out = append(out, policies.FromDir(p))
			}
		}
	}
	return out, nil
}

func (e *Enforcer) offlineDeps() *deps {
	return &deps{verifiers: map[TokenVerification]TokenVerifier{
		VerifyLocal: e.opts.verifier, VerifyIntrospection: e.opts.verifier, VerifyHybrid: e.opts.verifier,
	}}
}

func (e *Enforcer) httpClient(cfg *Config) *http.Client {
	hc := e.opts.httpClient
	if hc == nil {
		hc = httpx.NewClient()
	}
	c := *hc
	if cfg.SocketTimeoutMillis > 0 {
		t := time.Duration(cfg.SocketTimeoutMillis) * time.Millisecond
		if c.Timeout == 0 || t < c.Timeout {
			c.Timeout = t
		}
	}
	c.CheckRedirect = httpx.NoRedirect
	c.Jar = nil
	return &c
}

// buildDeps discovers the realm and builds the verifiers and the UMA client.
func (e *Enforcer) buildDeps(ctx context.Context, cfg *Config) (_ *deps, err error) {
	if e.opts.offline {
		return e.offlineDeps(), nil
	}
	d := &deps{hc: e.httpClient(cfg), verifiers: map[TokenVerification]TokenVerifier{}}
	defer func() {
		if err != nil {
			e.closeDeps(d)
		}
	}()
	s := &cfg.RPTGuard
	insecure := s.InsecureAllowHTTP || strings.HasPrefix(strings.ToLower(cfg.AuthServerURL), "http://")
	cc, err := loadClientCredentials(cfg) // credentials.go: secret, jwt (PEM key) or secret-jwt
	if err != nil {
		return nil, err
	}
	var md *rpt.ProviderMetadata
	if e.opts.umaClient == nil || e.opts.verifier == nil {
		var dopts []rpt.DiscoverOption
		if insecure {
			dopts = append(dopts, rpt.InsecureAllowHTTP())
		}
		authURL, realm := cfg.AuthServerURL, cfg.Realm
		if authURL == "" && e.opts.umaClient != nil {
			return nil, ErrMissingServer
		}
		md, err = rpt.Discover(ctx, d.hc, authURL, realm, dopts...)
		if err != nil {
			return nil, fmt.Errorf("enforcer: %w", err)
		}
	}
	aud := s.Audience
	if len(aud) == 0 {
		aud = []string{cfg.Resource}
	}
	leeway := time.Duration(s.Leeway)
	if leeway == 0 {
		leeway = -1 // rptguard.leeway zero means no leeway; rpt's zero means 60 s
	}
	var rules rpt.ClaimRules
	if md != nil {
		rules = rpt.ClaimRules{Issuer: md.Issuer, Audience: aud, Leeway: leeway}
	}
	var local TokenVerifier
	if e.opts.verifier != nil {
		local = e.opts.verifier
		for _, m := range []TokenVerification{VerifyLocal, VerifyIntrospection, VerifyHybrid} {
			d.verifiers[m] = local
		}
	} else {
		cacheSize := s.TokenCache.MaxEntries
		maxTok := s.MaxTokenSize
		if maxTok == 0 {
			maxTok = DefaultMaxTokenSize
		}
		v, err := rpt.New(ctx, rpt.Config{
			ClaimRules:        rules,
			JWKSURL:           md.JWKSURI,
			Algorithms:        s.AllowedAlgorithms,
			MaxTokenSize:      min(maxTok, rpt.MaxMaxTokenSize),
			CacheSize:         cacheSize,
			CacheTTL:          time.Duration(s.TokenCache.MaxTTL),
			InsecureAllowHTTP: insecure,
		}, rpt.WithHTTPClient(d.hc), rpt.WithLogger(e.log), rpt.WithClock(e.now))
		if err != nil {
			return nil, fmt.Errorf("enforcer: token verifier: %w", err)
		}
		d.closers = append(d.closers, v.Close)
		local = v
		d.verifiers[VerifyLocal] = v
		modes := map[TokenVerification]bool{s.TokenVerification: true}
		for _, p := range cfg.Paths {
			modes[p.RPTGuard.TokenVerification] = true
		}
		if modes[VerifyIntrospection] || modes[VerifyHybrid] {
			ic, err := introspection.New(introspection.Config{
				Endpoint:           md.IntrospectionEndpoint,
				ClientID:           cfg.Resource,
				ClientSecret:       cc.secret,
				AuthMethod:         cc.introspectionMethod(),
				PrivateKey:         cc.key,
				KeyID:              cc.keyID,
				AssertionAlgorithm: cc.alg,
				AssertionTTL:       cc.ttl,
				Rules:              rules,
				CacheTTL:           introspectionTTL(s.IntrospectionCache),
				NegativeCacheTTL:   introspectionNegativeTTL(s.IntrospectionCache),
				MaxEntries:         max(s.IntrospectionCache.MaxEntries, 0),
				InsecureAllowHTTP:  insecure,
			}, introspection.WithHTTPClient(d.hc), introspection.WithLogger(e.log), introspection.WithClock(e.now))
			if err != nil {
				return nil, fmt.Errorf("enforcer: introspection: %w", err)
			}
			d.verifiers[VerifyIntrospection] = ic
			interval := time.Duration(s.IntrospectionInterval)
			if interval == 0 {
				interval = DefaultIntrospectionInterval
			}
			h, err := introspection.NewHybrid(v, ic, introspection.Interval(interval))
			if err != nil {
				return nil, fmt.Errorf("enforcer: hybrid verifier: %w", err)
			}
			d.verifiers[VerifyHybrid] = h
		}
	}
	if e.opts.umaClient != nil {
		d.uma = e.opts.umaClient
		return d, nil
	}
	uc, err := uma.New(ctx, uma.Config{
		AuthServerURL:                cfg.AuthServerURL,
		Realm:                        cfg.Realm,
		Issuer:                       md.Issuer,
		TokenEndpoint:                md.TokenEndpoint,
		PermissionEndpoint:           md.PermissionEndpoint,
		ResourceRegistrationEndpoint: md.ResourceRegistrationEndpoint,
		JWKSURL:                      md.JWKSURI,
		ClientID:                     cfg.Resource,
		Credentials:                  uma.Credentials{Secret: uma.Secret(cc.secret)},
		AuthMethod:                   cc.umaMethod(),
		PrivateKey:                   cc.key,
		KeyID:                        cc.keyID,
		AssertionAlgorithm:           cc.alg,
		AssertionTTL:                 cc.ttl,
		TokenMinimumTimeToLive:       int(cfg.TokenMinimumTimeToLive),
		Exchange: uma.ExchangeConfig{
			MaxEntries: max(s.UMACache.MaxEntries, 0),
			MaxTTL:     time.Duration(s.UMACache.MaxTTL),
			Disabled:   s.UMACache.MaxEntries == -1,
		},
		InsecureAllowHTTP: insecure,
	}, uma.WithHTTPClient(d.hc), uma.WithLogger(e.log), uma.WithClock(e.now), uma.WithVerifier(local))
	if err != nil {
		return nil, fmt.Errorf("enforcer: uma client: %w", err)
	}
	d.closers = append(d.closers, uc.Close)
	d.uma = uc
	return d, nil
}

// buildState compiles cfg. With d nil the state is "not ready". resolve
// binds paths to server resources.
func (e *Enforcer) buildState(ctx context.Context, cfg *Config, d *deps, resolve bool) (*state, error) {
	set := &cfg.RPTGuard
	s := &state{cfg: cfg, log: e.log, ready: d != nil, umaOn: cfg.UserManagedAccess != nil,
		lookups: cfg.LazyLoadPaths || cfg.PathCache != nil}
	if set.PathCanonicalization == CanonicalizationKeycloak {
		s.mode = pathmatch.ModeKeycloak
	}
	s.maxToken = set.MaxTokenSize
	if s.maxToken == 0 {
		s.maxToken = DefaultMaxTokenSize
	}
	s.maxBody = set.MaxBodyBytes
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.permSource = set.PermissionsSource
	if s.permSource == "" {
		s.permSource = PermissionsUMA
	}
	s.rule = ruleName(set.DecisionRule)
	s.emptyCtx = &AuthorizationContext{granted: true, empty: true}
	realm := cfg.Realm
	if realm == "" && e.opts.umaClient != nil {
		realm = e.opts.umaClient.Realm()
	}
	s.chBearer, s.chInvalidToken, s.chInvalidRequest, s.chInsufficient = bearerChallenges(realm)

	var hc *http.Client
	if d != nil {
		hc = d.hc
		s.uma = d.uma
		s.defaultVerifier = d.verifiers[verification(set.TokenVerification)]
		if s.defaultVerifier == nil {
			return nil, cfgErr("rptguard.token-verification", "verifier for %s not available", verification(set.TokenVerification))
		}
	}
	copts := cipOptions{httpClient: hc, allowInsecureHTTP: set.InsecureAllowHTTP, maxBodyBytes: set.MaxBodyBytes}
	if len(cfg.ClaimInformationPoint) > 0 {
		g, err := compileCIP(cfg.ClaimInformationPoint, copts)
		if err != nil {
			return nil, prefixErr("claim-information-point", err)
		}
		if len(g.providers) > 0 {
			s.globalCIP = g
		}
	}
	configured := make([]*pathEntry, 0, len(cfg.Paths))
	for i := range cfg.Paths {
		pc := &cfg.Paths[i]
		p := &pathEntry{
			template: pc.Path, name: pc.Name, typ: pc.Type, id: pc.ID, scopes: pc.Scopes,
			mode: pc.EnforcementMode, pmode: pc.EnforcementMode.policy(),
			rule: s.rule, permSource: s.permSource, verifier: s.defaultVerifier,
			hasParams: strings.Contains(pc.Path, "{"), wildcard: strings.Contains(pc.Path, "*"),
			static: pc.Name != "" || pc.EnforcementMode == EnforcementDisabled, configured: true,
		}
		for _, m := range pc.Methods {
			p.methods = append(p.methods, methodEntry{method: m.Method, scopes: m.Scopes, mode: m.ScopesEnforcementMode})
		}
		if r := pc.RPTGuard.DecisionRule; r != "" {
			p.rule = ruleName(r)
		}
		if ps := pc.RPTGuard.PermissionsSource; ps != "" {
			p.permSource = ps
		}
		if tv := pc.RPTGuard.TokenVerification; tv != "" && d != nil {
			p.verifier = d.verifiers[tv]
			if p.verifier == nil {
				return nil, cfgErr(fmt.Sprintf("paths[%d].rptguard.token-verification", i), "verifier for %s not available (not configured at start)", tv)
			}
		}
		if len(pc.ClaimInformationPoint) > 0 {
			o := copts
			if pc.RPTGuard.MaxBodyBytes > 0 {
				o.maxBodyBytes = pc.RPTGuard.MaxBodyBytes
			}
			c, err := compileCIP(pc.ClaimInformationPoint, o)
			if err != nil {
				return nil, prefixErr(fmt.Sprintf("paths[%d].claim-information-point", i), err)
			}
			if len(c.providers) > 0 {
				p.cip = c
			}
		}
		p.outage = pathOutage(set, pc.RPTGuard)
		p.fresh = pc.RPTGuard.FreshIntrospection
		configured = append(configured, p)
	}
	s.defaultVerifier = defaultOr(s.defaultVerifier)
	configured, err := e.bindOffline(s, cfg, configured) // offline.go
	if err != nil {
		return nil, err
	}
	if err := e.bindShadow(s, cfg, d); err != nil { // shadow.go
		return nil, err
	}
	paths := configured
	if resolve && d != nil && d.uma != nil {
		var err error
		if paths, err = s.resolvePaths(ctx, d.uma, configured); err != nil {
			return nil, err
		}
	}
	templates := make([]string, len(paths))
	for i, p := range paths {
		templates[i] = p.template
	}
	m, err := pathmatch.Compile(templates, pathmatch.WithMode(s.mode))
	if err != nil {
		return nil, &ConfigError{Field: "paths", Err: err}
	}
	for i, p := range paths {
		p.paramNames = m.ParamNames(i)
	}
	s.matcher, s.paths = m, paths

	if v := cfg.OnDenyRedirectTo; v != "" {
		if c, err := pathmatch.Canonicalize(v, s.mode, s.limits); err == nil {
			s.denyPage = c.Path
		} else {
			e.log.Warn("enforcer: on-deny-redirect-to is not a canonical path; no request will be recognised as the deny page")
		}
	}
	s.allowed = map[string]bool{}
	for _, mm := range standardMethods {
		s.allowed[mm] = true
	}
	for _, p := range cfg.Paths {
		for _, mc := range p.Methods {
			if mc.Method != http.MethodConnect && mc.Method != http.MethodTrace {
				s.allowed[mc.Method] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(s.allowed))
	s.allowHeader = strings.Join(names, ", ")
	s.methodScopes = make(map[string][]string, len(names))
	for _, n := range names {
		s.methodScopes[n] = []string{n}
	}
	pcc := PathCacheConfig{MaxEntries: DefaultPathCacheMaxEntries, Lifespan: DefaultPathCacheLifespan}
	if cfg.PathCache != nil {
		pcc = *cfg.PathCache
	}
	if ttl, ok := pcc.TTL(); ok {
		s.cache = newPathCache(pcc.MaxEntries, ttl)
	}
	return s, nil
}

// defaultOr returns v, or a verifier that refuses every token while the
// enforcer is not ready (never reached: not-ready states answer 503 first).
func defaultOr(v TokenVerifier) TokenVerifier {
	if v != nil {
		return v
	}
	return TokenVerifierFunc(func(context.Context, string) (*rpt.Claims, error) {
		return nil, ErrUnavailable
	})
}

func verification(v TokenVerification) TokenVerification {
	if v == "" {
		return VerifyLocal
	}
	return v
}

// ruleName maps a configured decision-rule to the policies input's rule
// reference ("rules.<name>" or "rules.<pkg>.<name>"); a name without the
// "rules." prefix gets it.
func ruleName(r string) string {
	if r == "" || strings.HasPrefix(r, "rules.") {
		return r
	}
	return "rules." + r
}

// PathCacheLen reports the number of entries in the path cache (for tests
// and diagnostics).
func (e *Enforcer) PathCacheLen() int {
	s := e.st.Load()
	if s.cache == nil {
		return 0
	}
	return s.cache.len()
}

// introspectionTTL maps the introspection-cache setting to the client's
// positive TTL: max-entries -1 disables caching (a negative TTL), otherwise
// max-ttl (0 selects the client's default).
func introspectionTTL(c CacheConfig) time.Duration {
	if c.MaxEntries == -1 {
		return -1
	}
	return time.Duration(c.MaxTTL)
}

// introspectionNegativeTTL disables the negative cache too when the cache is
// disabled, so every request asks the server.
func introspectionNegativeTTL(c CacheConfig) time.Duration {
	if c.MaxEntries == -1 {
		return -1
	}
	return 0
}
