package uma

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rptguard/rptguard/rpt"
)

// *rpt.Verifier is the default Verifier.
var _ Verifier = (*rpt.Verifier)(nil)

// discoverEndpoints reads the realm's uma2-configuration through
// rpt.Discover (which checks the issuer and the URLs' transport policy).
func discoverEndpoints(ctx context.Context, hc *http.Client, cfg Config) (endpoints, error) {
	var opts []rpt.DiscoverOption
	if cfg.InsecureAllowHTTP {
		opts = append(opts, rpt.InsecureAllowHTTP())
	}
	md, err := rpt.Discover(ctx, hc, cfg.AuthServerURL, cfg.Realm, opts...)
	if err != nil {
		if errors.Is(err, rpt.ErrUnavailable) || ctx.Err() != nil {
			return endpoints{}, unavailable("discovery", err)
		}
		return endpoints{}, fmt.Errorf("uma: discovery: %w", err)
	}
	if md.TokenEndpoint == "" {
		return endpoints{}, errors.New("uma: discovery: no token_endpoint")
	}
	return endpoints{
		Issuer: md.Issuer, Token: md.TokenEndpoint, Permission: md.PermissionEndpoint,
		ResourceSet: md.ResourceRegistrationEndpoint, JWKS: md.JWKSURI, PolicyEndpoint: md.PolicyEndpoint,
	}, nil
}

// newDefaultVerifier builds an rpt.Verifier for RPTs of this realm and
// resource server: keys from the realm JWKS, iss = issuer, aud ∋ Audience.
func newDefaultVerifier(ctx context.Context, hc *http.Client, o options, ep endpoints, cfg Config) (Verifier, func(), error) {
	v, err := rpt.New(ctx, rpt.Config{
		ClaimRules:        rpt.ClaimRules{Issuer: ep.Issuer, Audience: []string{cfg.Audience}},
		JWKSURL:           ep.JWKS,
		InsecureAllowHTTP: cfg.InsecureAllowHTTP,
	}, rpt.WithHTTPClient(hc), rpt.WithLogger(o.logger), rpt.WithClock(o.now))
	if err != nil {
		return nil, nil, fmt.Errorf("uma: RPT verifier: %w", err)
	}
	return v, v.Close, nil
}
