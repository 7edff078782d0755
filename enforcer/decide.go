package enforcer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rptguard/rptguard/internal/pathmatch"
	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// Errors returned by [Enforcer.Decide] when no authorization decision could
// be reached. The accompanying Decision always denies.
var (
	// ErrUnavailable: a dependency (JWKS, introspection, the UMA grant, the
	// permission endpoint, an http claim information point) is unavailable,
	// or the enforcer is not ready yet ([WithStartNotReady]). Status 503.
	ErrUnavailable = errors.New("enforcer: authorization dependency unavailable")
	// ErrPolicy: the policy evaluation failed. Status 500.
	ErrPolicy = errors.New("enforcer: policy evaluation failed")
	// ErrInternal: the decision pipeline panicked; the panic was logged and
	// the request denied. Status 500.
	ErrInternal = errors.New("enforcer: internal error")
)

// Reason is a stable, machine-readable code for a decision. It is safe to log
// and to use as a metric label; it never names a resource, policy or token.
type Reason string

// Decision reasons.
const (
	// Allowed: a permission granted the request (token or exchanged RPT).
	ReasonAllowed Reason = "allowed"
	// Global enforcement-mode DISABLED.
	ReasonEnforcementDisabled Reason = "enforcement_disabled"
	// The matched path's enforcement-mode is DISABLED.
	ReasonPathDisabled Reason = "path_disabled"
	// Global PERMISSIVE and an authenticated request to an unmapped path.
	ReasonPermissive Reason = "permissive"
	// The request is the on-deny-redirect-to page (exact canonical match).
	ReasonDenyPage Reason = "deny_page"
	// The method's scopes-enforcement-mode is DISABLED (granted after the
	// permission check and the RPT exchange failed, as in Keycloak).
	ReasonScopesDisabled Reason = "scopes_disabled"

	// No bearer token on a protected path (401).
	ReasonNoToken Reason = "no_token"
	// The bearer token failed verification, whatever the cause (401).
	ReasonInvalidToken Reason = "invalid_token"
	// A UMA challenge with a permission ticket was issued (401).
	ReasonUMAChallenge Reason = "uma_challenge"
	// Authenticated but not permitted (403).
	ReasonForbidden Reason = "forbidden"
	// No configured or server-known path matches (403 or 302).
	ReasonUnmappedPath Reason = "unmapped_path"
	// Malformed or ambiguous credentials: two Authorization headers, a
	// malformed Bearer value, or a Bearer header plus an access_token
	// parameter (400, RFC 6750 invalid_request).
	ReasonInvalidRequest Reason = "invalid_request"
	// Malformed request target or method, a method override, a bad claim
	// source (400).
	ReasonBadRequest Reason = "bad_request"
	// The raw path exceeds the limits (414).
	ReasonPathTooLong Reason = "path_too_long"
	// The method is not accepted (405 with Allow).
	ReasonMethodNotAllowed Reason = "method_not_allowed"
	// A claim information point needed a body over the limit (413).
	ReasonBodyTooLarge Reason = "body_too_large"
	// A dependency is down or the enforcer is not ready (503).
	ReasonUnavailable Reason = "unavailable"
	// The policy evaluation failed (500).
	ReasonPolicyError Reason = "policy_error"
	// The pipeline panicked (500).
	ReasonInternalError Reason = "internal_error"
)

// Request is the input of [Enforcer.Decide]: the same pipeline as the
// middleware, for callers that are not net/http handlers (gRPC, queues,
// CLIs).
type Request struct {
	// Method is the request method (upper-case, as on the wire). HEAD is
	// authorized as GET.
	Method string
	// Path is the raw request target as it would appear on the request line:
	// the escaped path, optionally followed by "?query". It is canonicalized
	// exactly as the middleware canonicalizes r.RequestURI.
	Path string
	// Token is the raw bearer token (without "Bearer "). Empty means
	// anonymous.
	Token string
	// Header optionally carries request headers: method-override headers are
	// refused as in the middleware, and claim information points and
	// [WithPolicyHeaders] read them. Authorization is ignored (use Token).
	Header http.Header
	// RemoteAddr is the client address, for policies. Optional.
	RemoteAddr string
}

// Decision is the outcome of the pipeline. It is returned by
// [Enforcer.Decide] and given to the [DenyHandler]. Every field except
// Context and Err is safe to log; nothing in it is secret, but Template,
// Resource and CanonicalPath must not be shown to clients (I2).
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Status is the HTTP status: 200 on allow, else the denial's status
	// (400, 401, 403, 405, 413, 414, 500, 503, or 302 with Location).
	Status int
	// Reason is a stable code for the outcome.
	Reason Reason
	// Template is the matched path template ("" if none).
	Template string
	// Resource is the resource the path is bound to (zero if none).
	Resource Resource
	// RequiredScopes are the scopes the method required. Read-only.
	RequiredScopes []string
	// ScopesMode is how RequiredScopes were checked.
	ScopesMode ScopesEnforcementMode
	// CanonicalPath is the canonical path that was matched ("" if the
	// target was refused before canonicalization finished).
	CanonicalPath string
	// Challenge is the WWW-Authenticate value to send ("" for none).
	Challenge string
	// Location is the redirect target of a 302 (the configured
	// on-deny-redirect-to, never request input).
	Location string
	// Allow is the Allow header value of a 405.
	Allow string
	// RetryAfter is the Retry-After hint of a 503.
	RetryAfter time.Duration
	// Context is the authorization context on allow (nil on deny).
	Context *AuthorizationContext
	// Err is the internal cause of a failure-driven denial (for logs only;
	// never send it to clients). Nil for ordinary decisions.
	Err error
	// Stale reports that a cached answer was used because the authorization
	// server was unavailable (rptguard.on-outage stale-ok; see outage.go's
	// documentation in the README's Outages section).
	Stale bool

	canonical pathmatch.Canonical
}

// defaultRetryAfter is the Retry-After hint when a dependency gives none.
const defaultRetryAfter = 5 * time.Second

// in is one request entering the pipeline.
type in struct {
	method     string
	target     string
	rawQuery   string
	token      string
	tokenErr   error
	header     http.Header
	remoteAddr string
	req        *http.Request // nil for Decide
	claims     *rpt.Claims   // verified claims, for the decision log
	stale      bool          // a stale answer was used (on-outage stale-ok)
}

// Decide runs the decision pipeline without HTTP. The returned Decision is
// always complete. err is nil for every ordinary outcome — allow, any
// denial, a malformed request — and non-nil only when no decision could be
// reached: it then matches [ErrUnavailable] (503), [ErrPolicy] or
// [ErrInternal] (500), or ctx's error, and the Decision denies.
//
// Decide is safe for concurrent use.
func (e *Enforcer) Decide(ctx context.Context, r Request) (Decision, error) {
	rawQuery := ""
	if i := strings.IndexByte(r.Path, '?'); i >= 0 {
		rawQuery = r.Path[i+1:]
	}
	h := r.Header
	if h == nil {
		h = http.Header{}
	}
	d := e.decide(ctx, &in{
		method: r.Method, target: r.Path, rawQuery: rawQuery, token: r.Token,
		header: h, remoteAddr: r.RemoteAddr,
	})
	if d.Err != nil && (d.Status >= 500 || errors.Is(d.Err, context.Canceled) || errors.Is(d.Err, context.DeadlineExceeded)) {
		return d, d.Err
	}
	return d, nil
}

// decide is the pipeline (SPEC §3.2 with token verification; see doc.go for
// the differences from Keycloak). It never panics: a panic is logged and
// becomes a 500 denial.
func (e *Enforcer) decide(ctx context.Context, r *in) (d Decision) {
	start := time.Now()
	s := e.st.Load()
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(ctx, "enforcer: panic in the decision pipeline; request denied", "panic", fmt.Sprint(p))
			d = s.deny(ReasonInternalError, ErrInternal)
		}
		d.Stale = r.stale
		e.obs.Decision(d.Reason, d.Status, time.Since(start))
		if e.opts.decisionLog != nil {
			e.logDecision(ctx, r, &d, start) // decisionlog.go
		}
	}()
	return e.pipeline(ctx, s, r)
}

func (e *Enforcer) pipeline(ctx context.Context, s *state, r *in) Decision {
	// 1. Method (security.md §3 step 1).
	method, err := pathmatch.EffectiveMethod(r.method, r.header, r.rawQuery, s.cfg.RPTGuard.AllowMethodOverride)
	if err != nil {
		return s.deny(ReasonBadRequest, nil)
	}
	if !s.allowed[method] {
		d := s.deny(ReasonMethodNotAllowed, nil)
		d.Allow = s.allowHeader
		return d
	}
	// 2. Canonical path.
	if r.target == "*" && r.method == http.MethodOptions {
		if s.cfg.EnforcementMode == EnforcementDisabled {
			return s.allow(ReasonEnforcementDisabled, s.emptyCtx)
		}
		return s.denyUnmapped("")
	}
	c, err := pathmatch.Canonicalize(r.target, s.mode, s.limits)
	if err != nil {
		if errors.Is(err, pathmatch.ErrTooLong) {
			return s.deny(ReasonPathTooLong, nil)
		}
		return s.deny(ReasonBadRequest, nil)
	}
	// 3. Global DISABLED: everything allowed. Keycloak additionally sends
	// 401 "Invalid bearer" to anonymous requests while granting them; we
	// do not (a granted request gets no error status).
	if s.cfg.EnforcementMode == EnforcementDisabled {
		d := s.allow(ReasonEnforcementDisabled, s.emptyCtx)
		d.CanonicalPath, d.canonical = c.Path, c
		return d
	}
	d := e.authorize(ctx, s, r, method, c)
	d.CanonicalPath, d.canonical = c.Path, c
	return d
}

// authorize runs the steps after canonicalization.
func (e *Enforcer) authorize(ctx context.Context, s *state, r *in, method string, c pathmatch.Canonical) Decision {
	// 4. Credentials must be unambiguous.
	if errors.Is(r.tokenErr, errAmbiguousCredentials) {
		d := s.deny(ReasonInvalidRequest, nil)
		d.Challenge = s.chInvalidRequest
		return d
	}
	switch {
	case errors.Is(r.tokenErr, ErrBodyTooLarge):
		return s.deny(ReasonBodyTooLarge, nil)
	case errors.Is(r.tokenErr, ErrBodyUnreadable):
		return s.deny(ReasonBadRequest, nil)
	}
	// 5. The deny page is never matched against paths (exact canonical
	// equality only: F18, CVE-2026-9800).
	if s.denyPage != "" && c.Path == s.denyPage {
		return s.allow(ReasonDenyPage, s.emptyCtx)
	}
	if !s.ready {
		if res, ok := s.matcher.Match(c.Path); ok && s.paths[res.Index].mode == EnforcementDisabled {
			d := s.allow(ReasonPathDisabled, s.emptyCtx)
			s.describe(&d, s.paths[res.Index], method)
			return d
		}
		d := s.deny(ReasonUnavailable, ErrUnavailable)
		d.RetryAfter = defaultRetryAfter
		return d
	}
	// 6. Match (lazy lookups included). A lookup error is an unmapped path.
	p, res, err := e.match(ctx, s, c.Path)
	lookupFailed := err != nil
	if lookupFailed {
		p = nil
	}
	anonymous := r.token == "" && r.tokenErr == nil
	// 7. Anonymous requests.
	if anonymous {
		if p == nil {
			return s.denyUnmapped("")
		}
		if p.mode == EnforcementDisabled {
			d := s.allow(ReasonPathDisabled, s.emptyCtx)
			s.describe(&d, p, method)
			return d
		}
		me := s.methodFor(p, method)
		if s.umaChallengeFor(p) {
			d := e.umaChallenge(ctx, s, p, me, nil)
			s.describe(&d, p, method)
			return d
		}
		d := s.deny(ReasonNoToken, nil)
		d.Challenge = s.chBearer
		s.describe(&d, p, method)
		return d
	}
	// 8. Verify the token (every failure looks the same: I1).
	if r.tokenErr != nil {
		return s.invalidToken(p, method)
	}
	ver := s.defaultVerifier
	if p != nil && p.verifier != nil {
		ver = p.verifier
	}
	claims, err := e.verifyToken(ctx, s, p, ver, r) // outage.go: latency, stale-ok
	if err != nil {
		if errors.Is(err, rpt.ErrInvalidToken) {
			e.log.DebugContext(ctx, "enforcer: token rejected", "token", fingerprint(r.token), "error", err)
			return s.invalidToken(p, method)
		}
		return s.unavailable(ctx, e, err)
	}
	if claims == nil {
		return s.invalidToken(p, method)
	}
	// 9. Authenticated, unmapped. A failed lookup is not "unmapped" for
	// PERMISSIVE: the path may be a protected one (fail closed).
	if p == nil {
		if s.cfg.EnforcementMode == EnforcementPermissive && !lookupFailed {
			return s.allow(ReasonPermissive, &AuthorizationContext{granted: true, claims: claims, permissions: claims.Permissions()})
		}
		return s.denyUnmapped(s.chInsufficient)
	}
	// 10. DISABLED path.
	if p.mode == EnforcementDisabled {
		d := s.allow(ReasonPathDisabled, &AuthorizationContext{granted: true, claims: claims, permissions: claims.Permissions(), template: p.template, resource: p.resource()})
		s.describe(&d, p, method)
		return d
	}
	// 11. Required scopes.
	me := s.methodFor(p, method)
	// 12. Claim information points.
	pushed, err := e.resolveCIP(ctx, s, p, r, claims)
	if err != nil {
		d := s.cipDenial(ctx, e, err)
		s.describe(&d, p, method)
		return d
	}
	// 13. Policy evaluation with the token's permissions.
	tv, err := e.tokenValue(claims)
	if err != nil {
		d := s.deny(ReasonPolicyError, fmt.Errorf("%w: %w", ErrPolicy, err))
		s.describe(&d, p, method)
		return d
	}
	input := policies.Input{
		Request:         e.policyRequest(s, r, method, c, p, res),
		Resource:        policies.Resource{ID: p.id, Name: p.name, Type: p.typ, URIs: p.uris, Template: p.template, ParentID: p.parentID},
		RequiredScopes:  me.scopes,
		ScopesMode:      me.mode.policy(),
		EnforcementMode: p.pmode,
		Token:           tv,
		Claims:          pushed,
		Rule:            p.rule,

		PermissionsSource: p.inputSource(), // offline.go
	}
	pd, err := e.evaluate(ctx, input)
	if err != nil {
		d := e.policyFailure(ctx, s, err)
		s.describe(&d, p, method)
		return d
	}
	if s.shadow != nil && p.permSource == PermissionsOffline {
		e.shadowOffline(s, p, me, r.token, pushed, pd.Allow) // shadow.go: never blocks
	}
	if pd.Allow {
		return e.granted(s, p, method, me, c.Path, claims, tv.Permissions())
	}
	// 14. Keycloak's default: exchange the token for an RPT server-side.
	if p.permSource == PermissionsUMA && !s.umaOn && s.uma != nil && (p.id != "" || len(me.scopes) > 0) {
		x, err := e.exchangeOrStale(ctx, s, p, me, r, claims, pushed) // outage.go
		switch {
		case err == nil:
			tv2, err := e.tokenValue(x.Claims)
			if err != nil {
				d := s.deny(ReasonPolicyError, fmt.Errorf("%w: %w", ErrPolicy, err))
				s.describe(&d, p, method)
				return d
			}
			input.Token = tv2
			pd, err = e.evaluate(ctx, input)
			if err != nil {
				d := e.policyFailure(ctx, s, err)
				s.describe(&d, p, method)
				return d
			}
			if pd.Allow {
				return e.granted(s, p, method, me, c.Path, x.Claims, tv2.Permissions())
			}
		case me.mode != ScopesDisabled && isUnavailable(err):
			d := s.unavailable(ctx, e, err)
			s.describe(&d, p, method)
			return d
		}
	}
	// 15. scopes-enforcement-mode DISABLED grants after the checks failed, as
	// in Keycloak — but the user's deny rules and the path's named rule still
	// apply (Keycloak has none).
	if me.mode == ScopesDisabled {
		ok, err := e.userRulesAllow(ctx, input)
		if err != nil {
			d := e.policyFailure(ctx, s, err)
			s.describe(&d, p, method)
			return d
		}
		if ok {
			d := s.allow(ReasonScopesDisabled, s.emptyCtx)
			s.describe(&d, p, method)
			return d
		}
		d := s.deny(ReasonForbidden, nil)
		d.Challenge = s.chInsufficient
		s.describe(&d, p, method)
		return d
	}
	// 16. Challenge.
	if s.umaChallengeFor(p) {
		d := e.umaChallenge(ctx, s, p, me, pushed)
		s.describe(&d, p, method)
		return d
	}
	d := s.deny(ReasonForbidden, nil)
	d.Challenge = s.chInsufficient
	s.describe(&d, p, method)
	return d
}

// granted builds an allow decision; a granted DELETE on an instance path
// evicts it from the path cache (SPEC §2.7).
func (e *Enforcer) granted(s *state, p *pathEntry, method string, me methodEntry, path string, claims *rpt.Claims, perms []rpt.Permission) Decision {
	if method == http.MethodDelete && p.instance && s.cache != nil {
		s.cache.remove(path)
	}
	d := s.allow(ReasonAllowed, &AuthorizationContext{
		granted: true, claims: claims, permissions: perms,
		template: p.template, resource: p.resource(), scopes: me.scopes,
	})
	d.Template, d.Resource, d.RequiredScopes, d.ScopesMode = p.template, p.resource(), me.scopes, me.mode
	return d
}

func (p *pathEntry) resource() Resource { return Resource{ID: p.id, Name: p.name, Type: p.typ} }

// describe fills the path-related fields of d.
func (s *state) describe(d *Decision, p *pathEntry, method string) {
	if p == nil {
		return
	}
	me := s.methodFor(p, method)
	d.Template, d.Resource, d.RequiredScopes, d.ScopesMode = p.template, p.resource(), me.scopes, me.mode
}

func (s *state) allow(reason Reason, ac *AuthorizationContext) Decision {
	return Decision{Allowed: true, Status: http.StatusOK, Reason: reason, Context: ac}
}

func (s *state) deny(reason Reason, err error) Decision {
	return Decision{Status: statusFor(reason, false), Reason: reason, Err: err}
}

// denyUnmapped is Keycloak's handleAccessDenied: 302 to on-deny-redirect-to
// when configured, else 403.
func (s *state) denyUnmapped(challenge string) Decision {
	if s.cfg.OnDenyRedirectTo != "" {
		return Decision{Status: statusFor(ReasonUnmappedPath, true), Reason: ReasonUnmappedPath, Location: s.cfg.OnDenyRedirectTo}
	}
	d := s.deny(ReasonUnmappedPath, nil)
	d.Challenge = challenge
	return d
}

func (s *state) invalidToken(p *pathEntry, method string) Decision {
	d := s.deny(ReasonInvalidToken, nil)
	d.Challenge = s.chInvalidToken
	s.describe(&d, p, method)
	return d
}

// unavailable maps a dependency failure to 503 with a Retry-After hint.
func (s *state) unavailable(ctx context.Context, e *Enforcer, err error) Decision {
	e.log.WarnContext(ctx, "enforcer: dependency unavailable; request denied", "error", err)
	d := s.deny(ReasonUnavailable, fmt.Errorf("%w: %w", ErrUnavailable, err))
	d.RetryAfter = defaultRetryAfter
	var ue *introspection.UnavailableError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		d.RetryAfter = ue.RetryAfter
	}
	return d
}

func (e *Enforcer) policyFailure(ctx context.Context, s *state, err error) Decision {
	if ctx.Err() != nil {
		return s.unavailable(ctx, e, err)
	}
	e.log.ErrorContext(ctx, "enforcer: policy evaluation failed; request denied", "error", err)
	return s.deny(ReasonPolicyError, fmt.Errorf("%w: %w", ErrPolicy, err))
}

// isUnavailable reports a failure that is not a verdict: the server or the
// network is down, or the request's context ended.
func isUnavailable(err error) bool {
	return errors.Is(err, uma.ErrUnavailable) || errors.Is(err, rpt.ErrUnavailable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// cipDenial maps claim-information-point errors: 413, 400 or 503.
func (s *state) cipDenial(ctx context.Context, e *Enforcer, err error) Decision {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return s.deny(ReasonBodyTooLarge, nil)
	case errors.Is(err, ErrBodyUnreadable), errors.Is(err, ErrClaimsRejected):
		return s.deny(ReasonBadRequest, nil)
	default:
		return s.unavailable(ctx, e, err)
	}
}

// resolveCIP resolves the global and the path's claim information points.
func (e *Enforcer) resolveCIP(ctx context.Context, s *state, p *pathEntry, r *in, claims *rpt.Claims) (map[string][]string, error) {
	if s.globalCIP == nil && p.cip == nil {
		return nil, nil
	}
	hr := r.req
	if hr == nil {
		u, err := url.ParseRequestURI(r.target)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBodyUnreadable, err)
		}
		hr = (&http.Request{Method: r.method, URL: u, Header: r.header, RequestURI: r.target, Body: http.NoBody, Host: "localhost"}).WithContext(ctx)
	}
	return resolveClaims(ctx, hr, r.token, claims.Raw, s.globalCIP, p.cip)
}

// policyRequest builds input.request. Maps are allocated only when there is
// something to put in them.
func (e *Enforcer) policyRequest(s *state, r *in, method string, c pathmatch.Canonical, p *pathEntry, res pathmatch.Result) policies.Request {
	pr := policies.Request{Method: method, Path: c.Path, RawPath: c.Raw, RemoteAddr: r.remoteAddr}
	if n := res.NumParams(); n > 0 && len(p.paramNames) == n && p.configured {
		pr.PathParams = make(map[string]string, n)
		for i := range n {
			pr.PathParams[p.paramNames[i]] = res.Value(c.Path, i)
		}
	}
	if r.rawQuery != "" {
		if q, err := url.ParseQuery(r.rawQuery); err == nil {
			delete(q, accessTokenParam)
			pr.Query = q
		}
	}
	if len(e.opts.policyHeaders) > 0 {
		for _, name := range e.opts.policyHeaders {
			if v := r.header[name]; len(v) > 0 {
				if pr.Headers == nil {
					pr.Headers = make(map[string][]string, len(e.opts.policyHeaders))
				}
				pr.Headers[name] = v
			}
		}
	}
	return pr
}

// exchange obtains an RPT for the request through the UMA grant with the
// caller's token as subject_token (SPEC §3.5), cached per (token, resource,
// scopes, claims) by the uma client.
func (e *Enforcer) exchange(ctx context.Context, s *state, p *pathEntry, me methodEntry, raw string, claims *rpt.Claims, pushed map[string][]string) (*uma.ExchangedRPT, error) {
	start := time.Now()
	x, err := s.uma.Exchange(ctx, uma.ExchangeRequest{
		SubjectToken:  raw,
		SubjectExpiry: claims.ExpiresAt,
		Audience:      s.cfg.Resource,
		Permissions:   []uma.Permission{{Resource: p.id, Scopes: me.scopes}},
		Claims:        pushed,
	})
	e.obs.Call("uma_exchange", time.Since(start), err)
	if err != nil {
		e.log.DebugContext(ctx, "enforcer: RPT exchange did not grant", "token", fingerprint(raw), "error", err)
		return nil, err
	}
	return x, nil
}

// umaChallenge creates a permission ticket for (resource, scopes, claims)
// and returns the 401 UMA challenge. A ticket failure is 503 when the server
// is unavailable, else 403 (E2); no detail reaches the client.
func (e *Enforcer) umaChallenge(ctx context.Context, s *state, p *pathEntry, me methodEntry, pushed map[string][]string) Decision {
	if s.uma == nil || (p.id == "" && len(me.scopes) == 0) {
		d := s.deny(ReasonForbidden, nil)
		d.Challenge = s.chInsufficient
		return d
	}
	start := time.Now()
	ch, err := s.uma.Challenge(ctx, []uma.PermissionRequest{{ResourceID: p.id, Scopes: me.scopes, Claims: pushed}})
	e.obs.Call("uma_ticket", time.Since(start), err)
	if err != nil {
		if isUnavailable(err) {
			return s.unavailable(ctx, e, err)
		}
		e.log.WarnContext(ctx, "enforcer: permission ticket refused; request denied", "error", err)
		d := s.deny(ReasonForbidden, nil)
		d.Challenge = s.chInsufficient
		return d
	}
	d := s.deny(ReasonUMAChallenge, nil)
	d.Challenge = ch
	return d
}
