package enforcer

import (
	"context"

	"github.com/rptguard/rptguard/introspection"
)

// pathVerification is the token verification mode a path uses: its own,
// else the global one, else local.
func pathVerification(path, global TokenVerification) TokenVerification {
	if path != "" {
		return path
	}
	return verification(global)
}

// freshContext asks a hybrid verifier for a fresh introspection on paths
// with rptguard.fresh-introspection (OnDemand freshness per path).
func freshContext(ctx context.Context, p *pathEntry) context.Context {
	if p != nil && p.fresh {
		return introspection.WithFreshIntrospection(ctx)
	}
	return ctx
}
