package rpt

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-resty/resty/v2"

	"github.com/rptguard/rptguard/internal/httpx"
	"github.com/rptguard/rptguard/internal/strictjson"
)

// ProviderMetadata is the part of a Keycloak realm's discovery document
// (OpenID Connect Discovery 1.0, or UMA 2.0's uma2-configuration) that
// rptguard uses. Every endpoint URL in it passed the same transport policy
// as the discovery URL (https unless insecure HTTP was allowed). Fields
// absent from the document are empty.
type ProviderMetadata struct {
	Issuer                       string
	AuthorizationEndpoint        string
	TokenEndpoint                string
	IntrospectionEndpoint        string
	EndSessionEndpoint           string
	JWKSURI                      string
	ResourceRegistrationEndpoint string // UMA: …/authz/protection/resource_set
	PermissionEndpoint           string // UMA: …/authz/protection/permission
	PolicyEndpoint               string // UMA: …/authz/protection/uma-policy
	GrantTypesSupported          []string
	// Raw is the whole strictly decoded document. Treat as read-only.
	Raw map[string]any
}

// DiscoverOption configures [Discover].
type DiscoverOption func(*discoverOptions)

type discoverOptions struct {
	insecure bool
	openID   bool
}

// InsecureAllowHTTP lets [Discover] use and accept http:// URLs. It MUST NOT
// be used in production.
func InsecureAllowHTTP() DiscoverOption { return func(o *discoverOptions) { o.insecure = true } }

// UseOpenIDConfiguration makes [Discover] read
// /.well-known/openid-configuration instead of uma2-configuration (which
// lacks nothing rptguard needs, but is absent when Authorization Services are
// not enabled).
func UseOpenIDConfiguration() DiscoverOption { return func(o *discoverOptions) { o.openID = true } }

// Discover fetches {authServerURL}/realms/{realm}/.well-known/uma2-configuration
// and returns its metadata. The document's issuer must equal
// {authServerURL}/realms/{realm} exactly (OIDC Discovery §4.3, catalogue H6;
// one trailing slash on authServerURL is ignored); every URL in it must be
// https unless [InsecureAllowHTTP] is given. hc may be nil (secure default
// client); it is copied, never modified, and redirects are not followed.
// Errors match [ErrDiscovery] (and [ErrUnavailable] for transport failures,
// [ErrConfig] for a bad authServerURL) and never contain query strings or
// credentials.
func Discover(ctx context.Context, hc *http.Client, authServerURL, realm string, opts ...DiscoverOption) (*ProviderMetadata, error) {
	var o discoverOptions
	for _, opt := range opts {
		opt(&o)
	}
	if realm == "" || strings.ContainsAny(realm, "/?#") {
		return nil, fmt.Errorf("%w: invalid realm name", ErrConfig)
	}
	base := strings.TrimSuffix(authServerURL, "/")
	issuer := base + "/realms/" + url.PathEscape(realm)
	doc := "/.well-known/uma2-configuration"
	if o.openID {
		doc = "/.well-known/openid-configuration"
	}
	return discover(ctx, httpx.NewResty(hc, httpx.WithMaxBody(256<<10)), issuer+doc, issuer, o.insecure)
}

func discover(ctx context.Context, client *resty.Client, docURL, issuer string, insecure bool) (*ProviderMetadata, error) {
	if _, err := httpx.CheckURL(docURL, insecure); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrDiscovery, ErrConfig, err)
	}
	resp, err := client.R().SetContext(ctx).SetHeader("Accept", "application/json").Get(docURL)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrDiscovery, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w: %w", ErrDiscovery, ErrUnavailable, httpx.ScrubError(err))
	}
	if resp.StatusCode() != http.StatusOK {
		return nil, fmt.Errorf("%w: %w: HTTP status %d", ErrDiscovery, ErrUnavailable, resp.StatusCode())
	}
	m, err := strictjson.Decode(resp.Body())
	if err != nil {
		return nil, fmt.Errorf("%w: malformed document: %w", ErrDiscovery, err)
	}
	md := &ProviderMetadata{Raw: m}
	fields := [...]struct {
		name string
		dst  *string
	}{
		{"issuer", &md.Issuer}, {"authorization_endpoint", &md.AuthorizationEndpoint},
		{"token_endpoint", &md.TokenEndpoint}, {"introspection_endpoint", &md.IntrospectionEndpoint},
		{"end_session_endpoint", &md.EndSessionEndpoint}, {"jwks_uri", &md.JWKSURI},
		{"resource_registration_endpoint", &md.ResourceRegistrationEndpoint},
		{"permission_endpoint", &md.PermissionEndpoint}, {"policy_endpoint", &md.PolicyEndpoint},
	}
	for _, f := range fields {
		v, present := m[f.name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a string", ErrDiscovery, f.name)
		}
		*f.dst = s
		if f.name != "issuer" && s != "" {
			if _, err := httpx.CheckURL(s, insecure); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrDiscovery, f.name, err)
			}
		}
	}
	if md.Issuer != issuer {
		return nil, fmt.Errorf("%w: issuer in the document differs from the expected issuer", ErrDiscovery)
	}
	if gts, ok := m["grant_types_supported"].([]any); ok {
		md.GrantTypesSupported = stringList(gts)
	}
	return md, nil
}
