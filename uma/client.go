package uma

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/rptguard/rptguard/internal/clientauth"
	"github.com/rptguard/rptguard/internal/httpx"
)

// Client is a UMA 2.0 client for one Keycloak realm and one resource server:
// it obtains and caches the resource server's PAT, creates permission tickets,
// runs the UMA grant, exchanges subject tokens for cached RPTs, and manages
// resources through the Protection API.
//
// A Client is safe for concurrent use. Create it with [New] and release it
// with [Client.Close].
type Client struct {
	cfg      Config
	ep       endpoints
	rc       *resty.Client
	log      *slog.Logger
	now      func() time.Time
	verifier Verifier
	auth     *clientauth.Authenticator
	closeFn  func()
	closed   sync.Once

	pat       patSource
	exchanges *exchangeCache
	resources *Resources
}

// endpoints are the resolved URLs of a realm.
type endpoints struct {
	Issuer         string
	Token          string
	Permission     string
	ResourceSet    string
	JWKS           string
	PolicyEndpoint string
}

// callTimeout bounds calls made on behalf of several waiters (PAT refresh,
// shared exchanges), which run detached from any single caller's context.
const callTimeout = 30 * time.Second

// New validates cfg, resolves the realm's endpoints (discovery, unless
// Config.TokenEndpoint is set) and builds the RPT verifier. It fails if the
// discovery document cannot be fetched or its issuer differs from
// {AuthServerURL}/realms/{Realm}. ctx bounds discovery only.
func New(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if cfg.ClientID == "" {
		return nil, errors.New("uma: config: resource (client id) is required")
	}
	if strings.ContainsAny(cfg.ClientID, "\x00\r\n") {
		return nil, errors.New("uma: config: invalid client id")
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = AuthClientSecretBasic
	case AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthClientSecretJWT:
	default:
		return nil, errors.New("uma: config: unsupported auth method")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.ClientID
	}
	cfg.Exchange = cfg.Exchange.withDefaults()

	hc := o.hc
	if hc == nil {
		hc = httpx.NewClient()
	}

	c := &Client{cfg: cfg, log: o.logger, now: o.now}
	// NewResty works on a copy of hc that never follows redirects.
	c.rc = httpx.NewResty(hc, httpx.WithLogger(o.logger), httpx.WithMaxBody(maxListBytes))
	c.pat.c = c
	c.resources = &Resources{c: c}

	var err error
	if cfg.TokenEndpoint != "" {
		c.ep = endpoints{
			Issuer: cfg.Issuer, Token: cfg.TokenEndpoint, Permission: cfg.PermissionEndpoint,
			ResourceSet: cfg.ResourceRegistrationEndpoint, JWKS: cfg.JWKSURL,
		}
		if c.ep.Issuer == "" {
			return nil, errors.New("uma: config: issuer is required with explicit endpoints")
		}
	} else {
		if cfg.AuthServerURL == "" || cfg.Realm == "" {
			return nil, errors.New("uma: config: auth-server-url and realm, or explicit endpoints, are required")
		}
		if c.ep, err = discoverEndpoints(ctx, hc, cfg); err != nil {
			return nil, err
		}
	}
	for _, u := range []string{c.ep.Token, c.ep.Permission, c.ep.ResourceSet, c.ep.JWKS} {
		if u == "" {
			continue
		}
		if _, err := httpx.CheckURL(u, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("uma: config: %w", err)
		}
	}
	if c.auth, err = newAuthenticator(&cfg, c.ep.Issuer); err != nil {
		return nil, err
	}

	c.verifier = o.verifier
	if c.verifier == nil {
		if c.ep.JWKS == "" {
			return nil, errors.New("uma: config: jwks_uri is required unless WithVerifier is given")
		}
		v, closeFn, err := newDefaultVerifier(ctx, hc, o, c.ep, cfg)
		if err != nil {
			return nil, err
		}
		c.verifier, c.closeFn = v, closeFn
	}
	if c.exchanges, err = newExchangeCache(c, cfg.Exchange); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close releases what New created (the default verifier's background key
// refresh). It is idempotent. Calls after Close may fail.
func (c *Client) Close() {
	c.closed.Do(func() {
		if c.closeFn != nil {
			c.closeFn()
		}
	})
}

// Issuer returns the realm issuer (the as_uri of UMA challenges).
func (c *Client) Issuer() string { return c.ep.Issuer }

// Realm returns the configured realm name.
func (c *Client) Realm() string { return c.cfg.Realm }

// TokenEndpoint returns the token endpoint URL.
func (c *Client) TokenEndpoint() string { return c.ep.Token }

// Resources returns the Protection API resource_set client.
func (c *Client) Resources() *Resources { return c.resources }

// request is one outbound call.
type request struct {
	endpoint   string // "token", "permission", "resource_set" (diagnostics)
	method     string
	url        string
	query      url.Values
	form       url.Values
	jsonBody   any
	bearer     string
	clientAuth bool
	limit      int
}

type response struct {
	status int
	body   []byte
}

// do sends r. Transport failures, ctx errors and oversized answers come back
// as errors matching ErrUnavailable (and ctx's error when it ended).
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	rq := c.rc.R().SetContext(ctx).SetHeader("Accept", "application/json")
	limit := r.limit
	if limit == 0 {
		limit = maxTokenResponseBytes
	}
	rq.SetResponseBodyLimit(limit)
	if len(r.query) > 0 {
		rq.SetQueryParamsFromValues(r.query)
	}
	form := r.form
	if r.clientAuth {
		form = cloneValues(form)
		authz, err := c.auth.Apply(form, c.now())
		if err != nil {
			return nil, unavailable(r.endpoint, fmt.Errorf("uma: %w", err))
		}
		if authz != "" {
			rq.SetHeader("Authorization", authz)
		}
	}
	switch {
	case form != nil:
		rq.SetHeader("Content-Type", "application/x-www-form-urlencoded")
		rq.SetBody(form.Encode())
	case r.jsonBody != nil:
		rq.SetHeader("Content-Type", "application/json")
		rq.SetBody(r.jsonBody)
	}
	if r.bearer != "" {
		rq.SetHeader("Authorization", "Bearer "+r.bearer)
	}
	resp, err := rq.Execute(r.method, r.url)
	if err != nil {
		if errors.Is(err, resty.ErrResponseBodyTooLarge) {
			return nil, malformed(r.endpoint, "answer too large")
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, unavailable(r.endpoint, ctxErr)
		}
		return nil, unavailable(r.endpoint, httpx.ScrubError(err))
	}
	return &response{status: resp.StatusCode(), body: resp.Body()}, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = vs
	}
	return out
}

// newAuthenticator maps cfg onto the shared client authentication (package
// internal/clientauth, also used by introspection). With a secret method and
// no secret the client is public (client_id only). issuer is the default
// assertion audience.
func newAuthenticator(cfg *Config, issuer string) (*clientauth.Authenticator, error) {
	method := clientauth.Method(cfg.AuthMethod)
	if cfg.Credentials.Secret == "" && (cfg.AuthMethod == AuthClientSecretBasic || cfg.AuthMethod == AuthClientSecretPost) {
		method = clientauth.None
	}
	aud := cfg.AssertionAudience
	if aud == "" {
		aud = issuer
	}
	a, err := clientauth.New(clientauth.Config{
		Method:     method,
		ClientID:   cfg.ClientID,
		Secret:     clientauth.Secret(cfg.Credentials.Secret),
		PrivateKey: cfg.PrivateKey,
		KeyID:      cfg.KeyID,
		Algorithm:  cfg.AssertionAlgorithm,
		Audience:   aud,
		TTL:        cfg.AssertionTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("uma: config: %w", err)
	}
	return a, nil
}

// String describes the client without credentials.
func (c *Client) String() string {
	return fmt.Sprintf("uma.Client{issuer:%q client_id:%q auth_method:%s}", c.ep.Issuer, c.cfg.ClientID, c.auth.Method())
}

// GoString is String, so %#v never prints credentials.
func (c *Client) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String, so neither the
// secret nor the private key is ever printed.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// statusError turns a non-success answer into an *Error (never including the
// body in its text).
func statusError(endpoint string, resp *response) error {
	return decodeError(endpoint, resp.status, resp.body)
}
