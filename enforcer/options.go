package enforcer

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// TokenVerifier verifies a raw bearer token and returns its claims. Errors
// matching [rpt.ErrInvalidToken] become 401 invalid_token; errors matching
// [rpt.ErrUnavailable] (or any other error) become 503. [*rpt.Verifier],
// [*introspection.Client] and [*introspection.Hybrid] satisfy it.
//
// For the warm path to be cheap, an implementation should return the same
// *rpt.Claims pointer for the same token while it caches it (rpt.Verifier
// does): the enforcer keys its per-token policy value on that pointer.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*rpt.Claims, error)
}

// TokenVerifierFunc adapts a function to [TokenVerifier].
type TokenVerifierFunc func(ctx context.Context, raw string) (*rpt.Claims, error)

// Verify calls f.
func (f TokenVerifierFunc) Verify(ctx context.Context, raw string) (*rpt.Claims, error) {
	return f(ctx, raw)
}

// Evaluator decides a policy input. [*policies.Engine] satisfies it. Every
// error is treated as a deny (500 policy_error, or 503 when ctx ended).
type Evaluator interface {
	Evaluate(ctx context.Context, in policies.Input) (policies.Decision, error)
}

// EvaluatorFunc adapts a function to [Evaluator].
type EvaluatorFunc func(ctx context.Context, in policies.Input) (policies.Decision, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context, in policies.Input) (policies.Decision, error) {
	return f(ctx, in)
}

// Compile-time checks that the project's verifiers and engine fit.
var (
	_ TokenVerifier = (*rpt.Verifier)(nil)
	_ TokenVerifier = (*introspection.Client)(nil)
	_ TokenVerifier = (*introspection.Hybrid)(nil)
	_ Evaluator     = (*policies.Engine)(nil)
)

// DenyHandler writes the response for a denied request. d is the typed
// decision (Status, Reason, Challenge, Location, Allow, RetryAfter). The
// default handler writes d.Status with the headers the decision carries and a
// generic body; a custom one must not reveal more than d's exported fields
// (and never d.Err to clients).
type DenyHandler interface {
	ServeDenial(w http.ResponseWriter, r *http.Request, d Decision)
}

// DenyHandlerFunc adapts a function to [DenyHandler].
type DenyHandlerFunc func(w http.ResponseWriter, r *http.Request, d Decision)

// ServeDenial calls f.
func (f DenyHandlerFunc) ServeDenial(w http.ResponseWriter, r *http.Request, d Decision) {
	f(w, r, d)
}

// Observer receives metrics events. Labels are low-cardinality by
// construction: reasons, cache names and endpoint names chosen by this
// package — never tokens, subjects, resource ids or raw paths (security
// catalogue I6). Implementations must be safe for concurrent use and fast:
// they run on the request path.
type Observer interface {
	// Decision is called once per decided request.
	Decision(reason Reason, status int, elapsed time.Duration)
	// Cache reports a lookup in one of the enforcer's caches: "token_value",
	// "path"; under on-outage stale-ok, "stale_token" and "stale_uma" (hit:
	// a stale answer was used during an outage; miss: none was usable).
	Cache(name string, hit bool)
	// Call reports a call made for a request: "verify" (every token
	// verification, local or remote, so its latency is the verification
	// latency), "uma_exchange", "uma_ticket", "resource_lookup", and
	// "uma_shadow" for shadow checks (in the background; see
	// [ShadowConfig]). err is nil on success; it never contains a token.
	Call(endpoint string, elapsed time.Duration, err error)
}

type noopObserver struct{}

func (noopObserver) Decision(Reason, int, time.Duration) {}
func (noopObserver) Cache(string, bool)                  {}
func (noopObserver) Call(string, time.Duration, error)   {}

// Option configures wiring of an [Enforcer] (not data: that is [Config]).
type Option func(*options)

type options struct {
	httpClient    *http.Client
	logger        *slog.Logger
	now           func() time.Time
	verifier      TokenVerifier
	evaluator     Evaluator
	sources       []policies.Source
	denyHandler   DenyHandler
	umaClient     *uma.Client
	offline       bool
	observer      Observer
	startNotReady bool
	retryMin      time.Duration
	retryMax      time.Duration
	policyHeaders []string
	decisionLog   *decisionLogger         // decisionlog.go
	authz         *keycloak.Result        // offline.go
	shadowSampler func(rate float64) bool // shadow.go
}

// WithHTTPClient sets the HTTP client for every call to the authorization
// server (discovery, JWKS, introspection, UMA, Protection API). It is copied,
// never modified; redirects are never followed. If nil or not given, a client
// with rptguard's secure defaults (timeouts, no cookie jar) is used — never
// http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithLogger sets the logger. If nil or not given, nothing is logged. Tokens
// appear in log lines only as a short SHA-256 fingerprint.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the time source for the enforcer's caches and for the
// verifiers and clients it creates. If nil or not given, time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithVerifier replaces the token verifier built from the configuration
// (rptguard.token-verification) for every path. The enforcer does not close
// it. Required with [WithoutServer].
func WithVerifier(v TokenVerifier) Option { return func(o *options) { o.verifier = v } }

// WithEvaluator replaces the policy engine. If not given, New builds a
// [policies.Engine] with the built-in Keycloak-semantics library plus the
// sources of [WithPolicies] and rptguard.policies.
func WithEvaluator(ev Evaluator) Option { return func(o *options) { o.evaluator = ev } }

// WithPolicies adds user policy sources to the default engine. Ignored with
// [WithEvaluator].
func WithPolicies(src ...policies.Source) Option {
	return func(o *options) { o.sources = append(o.sources, src...) }
}

// WithDenyHandler replaces the writer of denial responses. If nil or not
// given, the default writes the status, WWW-Authenticate, Allow, Retry-After
// or Location headers of the decision and a generic body.
func WithDenyHandler(h DenyHandler) Option { return func(o *options) { o.denyHandler = h } }

// WithUMAClient makes the enforcer use c (which it does not close) for the
// UMA grant, permission tickets and the Protection API instead of building
// its own client from the configuration.
func WithUMAClient(c *uma.Client) Option { return func(o *options) { o.umaClient = c } }

// WithoutServer runs the enforcer offline: no call to any authorization
// server, ever (for tests, the CLI's check, and offline permissions). A
// verifier must be given with [WithVerifier]. Configured paths keep the
// resource ids written in the configuration ("id"); paths without one match
// no resource permission. Server-side RPT exchange, UMA tickets and lazy
// loading are off: such denials answer 403.
func WithoutServer() Option { return func(o *options) { o.offline = true } }

// WithObserver sets the metrics observer. If nil or not given, none.
func WithObserver(obs Observer) Option { return func(o *options) { o.observer = obs } }

// WithStartNotReady makes New succeed when the authorization server cannot
// be reached (discovery, JWKS or resource resolution fail). Until a
// background retry succeeds, every request that is not on a DISABLED path
// (or under global DISABLED) answers 503 with Retry-After; nothing is ever
// allowed by default. Close stops the retry. Without this option New fails
// fast (security catalogue H1).
func WithStartNotReady() Option { return func(o *options) { o.startNotReady = true } }

// WithRetryInterval sets the backoff bounds of the not-ready retry (default
// 1 s growing to 30 s).
func WithRetryInterval(minD, maxD time.Duration) Option {
	return func(o *options) { o.retryMin, o.retryMax = minD, maxD }
}

// WithPolicyHeaders selects request headers copied into the policy input
// (input.request.headers, names lower-cased). Authorization and Cookie are
// never copied. If not given, no headers are.
func WithPolicyHeaders(names ...string) Option {
	return func(o *options) {
		for _, n := range names {
			n = http.CanonicalHeaderKey(n)
			if n == "Authorization" || n == "Cookie" || n == "Proxy-Authorization" {
				continue
			}
			o.policyHeaders = append(o.policyHeaders, n)
		}
	}
}
