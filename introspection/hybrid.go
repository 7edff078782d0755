package introspection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// Policy says when a Hybrid verifier asks the introspection endpoint about a
// token that passed local verification. The zero Policy is Always.
type Policy struct {
	mode     policyMode
	interval time.Duration
}

type policyMode uint8

const (
	modeAlways policyMode = iota
	modeInterval
	modeOnDemand
)

var (
	// Always consults introspection on every call. The Client answers from its
	// cache for up to Config.CacheTTL, so a revoked token is accepted for at
	// most that long (set a negative CacheTTL for no window at all, at the
	// price of one call per request).
	Always = Policy{mode: modeAlways}

	// OnDemand introspects only when the caller asks: through VerifyFresh, or
	// with a context made by WithFreshIntrospection. Such checks never use a
	// cached active answer (concurrent ones still share one call). Other calls
	// rely on local verification alone.
	OnDemand = Policy{mode: modeOnDemand}
)

// Interval introspects a token when its last active answer is older than d,
// so at most once every d per token while the answer stays cached (an
// answer is never kept longer than Config.CacheTTL or the token's exp; set
// CacheTTL ≥ d). d must be positive.
func Interval(d time.Duration) Policy { return Policy{mode: modeInterval, interval: d} }

// String names the policy.
func (p Policy) String() string {
	switch p.mode {
	case modeInterval:
		return "interval(" + p.interval.String() + ")"
	case modeOnDemand:
		return "on-demand"
	default:
		return "always"
	}
}

type freshKey struct{}

// WithFreshIntrospection returns a context that makes Hybrid.Verify
// introspect the token without using a cached active answer, whatever the
// policy (the enforcer sets it on paths that must see revocation at once).
func WithFreshIntrospection(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

func freshRequested(ctx context.Context) bool {
	v, _ := ctx.Value(freshKey{}).(bool)
	return v
}

// Hybrid verifies tokens locally first (signature and claims, cheap
// rejection) and then asks the introspection endpoint whether they were
// revoked, as its Policy says. The claims returned are the locally verified
// ones; an inactive answer rejects the token (ErrInactive), an unusable
// endpoint is ErrUnavailable — never a silent pass. Safe for concurrent use.
type Hybrid struct {
	local  TokenVerifier
	client *Client
	policy Policy
}

var _ TokenVerifier = (*Hybrid)(nil)

// NewHybrid combines a local verifier (normally an *rpt.Verifier) with an
// introspection Client under policy.
func NewHybrid(local TokenVerifier, client *Client, policy Policy) (*Hybrid, error) {
	if local == nil || client == nil {
		return nil, errors.New("introspection: hybrid needs a local verifier and a client")
	}
	switch policy.mode {
	case modeAlways, modeOnDemand:
	case modeInterval:
		if policy.interval <= 0 {
			return nil, errors.New("introspection: hybrid interval must be positive")
		}
	default:
		return nil, errors.New("introspection: unknown hybrid policy")
	}
	return &Hybrid{local: local, client: client, policy: policy}, nil
}

// Verify verifies raw locally and then, as the policy says, through
// introspection.
func (h *Hybrid) Verify(ctx context.Context, raw string) (*rpt.Claims, error) {
	return h.verify(ctx, raw, freshRequested(ctx))
}

// VerifyFresh is Verify with an introspection that does not use a cached
// active answer, whatever the policy.
func (h *Hybrid) VerifyFresh(ctx context.Context, raw string) (*rpt.Claims, error) {
	return h.verify(ctx, raw, true)
}

func (h *Hybrid) verify(ctx context.Context, raw string, fresh bool) (*rpt.Claims, error) {
	claims, err := h.local.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, fmt.Errorf("%w: local verifier returned no claims", rpt.ErrClaims)
	}
	var maxAge time.Duration
	switch {
	case fresh:
		maxAge = 0
	case h.policy.mode == modeOnDemand:
		return claims, nil
	case h.policy.mode == modeInterval:
		maxAge = h.policy.interval
	default:
		maxAge = h.client.posTTL
	}
	if _, err := h.client.introspect(ctx, raw, maxAge); err != nil {
		return nil, err
	}
	return claims, nil
}
