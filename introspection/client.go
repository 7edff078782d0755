package introspection

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-resty/resty/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/rptguard/rptguard/internal/clientauth"
	"github.com/rptguard/rptguard/internal/httpx"
	"github.com/rptguard/rptguard/rpt"
)

// Client is an RFC 7662 introspection client for Keycloak RPTs and access
// tokens. It is safe for concurrent use by multiple goroutines.
//
// Answers are cached by SHA-256(token) together with the endpoint and the
// client id: active answers until min(Config.CacheTTL, exp − now) (and no
// later than iat + Rules.MaxAge when that is set), inactive
// ones for Config.NegativeCacheTTL, failures for Config.ErrorBackoff (never
// as inactive). Concurrent calls for one uncached token share a single
// outbound request. The cache holds token metadata only: callers must run
// authorization for every request.
//
// Client fails closed: any answer that is not a well-formed 200
// application/json RFC 7662 response is an error matching ErrUnavailable,
// never an "active" or "inactive" verdict.
type Client struct {
	endpoint  string
	clientID  string
	issuer    string
	hint      string
	auth      *clientauth.Authenticator
	rules     rpt.ClaimRules
	rc        *resty.Client
	maxBody   int64
	timeout   time.Duration
	posTTL    time.Duration
	negTTL    time.Duration
	errTTL    time.Duration
	keyPrefix [sha256.Size]byte
	cache     *lru.Cache[cacheKey, *entry]
	group     singleflight.Group
	now       func() time.Time
	log       *slog.Logger
}

// Compile-time check: Client is a token verifier (the enforcer's
// TokenVerifier interface has this method set).
var _ TokenVerifier = (*Client)(nil)

// TokenVerifier verifies a raw token and returns its claims. rpt.Verifier,
// *Client and *Hybrid satisfy it.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*rpt.Claims, error)
}

// Result is the outcome of a successful introspection of an active token.
// A *Result may be shared between callers (it is cached): treat it as
// read-only.
type Result struct {
	// Claims is the token metadata from the response, checked with
	// Config.Rules. Permissions come from the response's "permissions" array.
	Claims *rpt.Claims
	// FetchedAt is when the authorization server gave this answer (by the
	// client's clock).
	FetchedAt time.Time
	// Expires is when the cached answer stops being used.
	Expires time.Time
}

type cacheKey [sha256.Size]byte

// entry is one cached answer: exactly one of res and err is set.
type entry struct {
	res     *Result
	err     error
	expires time.Time
}

// New validates cfg and returns a Client. It makes no network call.
func New(cfg Config, opts ...Option) (*Client, error) {
	o := buildOptions(opts)
	if cfg.ClientID == "" {
		return nil, errors.New("introspection: client id is required")
	}
	if err := checkEndpoint(cfg.Endpoint, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	if err := cfg.Rules.Check(); err != nil {
		return nil, fmt.Errorf("introspection: claim rules: %w", err)
	}
	audience := cfg.AssertionAudience
	if audience == "" {
		audience = cfg.Rules.Issuer
	}
	auth, err := newAuthenticator(&cfg, audience)
	if err != nil {
		return nil, err
	}
	c := &Client{
		endpoint: cfg.Endpoint,
		clientID: cfg.ClientID,
		hint:     cfg.TokenTypeHint,
		auth:     auth,
		rules:    cfg.Rules,
		maxBody:  orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		posTTL:   orDefault(cfg.CacheTTL, DefaultCacheTTL),
		negTTL:   orDefault(cfg.NegativeCacheTTL, DefaultNegativeCacheTTL),
		errTTL:   orDefault(cfg.ErrorBackoff, DefaultErrorBackoff),
		now:      o.now,
		log:      o.logger,
	}
	if c.hint == "" {
		c.hint = DefaultTokenTypeHint
	}
	if cfg.OmitTokenTypeHint {
		c.hint = ""
	}
	if c.hint == DefaultTokenTypeHint {
		// Keycloak's RPT introspection answer carries neither iss nor sub: a
		// missing iss is taken as the configured issuer (a present one is
		// still compared) and sub is not required.
		c.issuer = c.rules.Issuer
		c.rules.SubjectOptional = true
	}
	c.cache, err = lru.New[cacheKey, *entry](orDefault(cfg.MaxEntries, DefaultMaxEntries))
	if err != nil {
		return nil, fmt.Errorf("introspection: cache: %w", err)
	}
	c.rc = httpx.NewResty(o.hc, httpx.WithLogger(o.logger), httpx.WithMaxBody(int(c.maxBody)))
	prefix := binary.BigEndian.AppendUint32(nil, uint32(len(c.endpoint)))
	prefix = append(prefix, c.endpoint...)
	prefix = binary.BigEndian.AppendUint32(prefix, uint32(len(c.clientID)))
	prefix = append(prefix, c.clientID...)
	c.keyPrefix = sha256.Sum256(prefix)
	return c, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkEndpoint refuses anything but an absolute https URL without user
// information, query or fragment (http only with the insecure flag).
func checkEndpoint(endpoint string, allowHTTP bool) error {
	if endpoint == "" {
		return errors.New("introspection: endpoint is required")
	}
	u, err := httpx.CheckURL(endpoint, allowHTTP)
	if err != nil {
		return fmt.Errorf("introspection: endpoint: %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return errors.New("introspection: endpoint must not have a query")
	}
	return nil
}

// String describes the client without credentials.
func (c *Client) String() string {
	return fmt.Sprintf("introspection.Client{endpoint:%q client_id:%q}", c.endpoint, c.clientID)
}

// GoString is String, so %#v never prints credentials.
func (c *Client) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// Verify introspects raw and returns its claims. An inactive token is
// ErrInactive (which matches rpt.ErrInvalidToken); a token the authorization
// server calls active but which fails the claim rules gets the rpt sentinel
// of the failed check; an unusable endpoint is ErrUnavailable. When ctx ends
// first, Verify returns an error matching ctx.Err().
func (c *Client) Verify(ctx context.Context, raw string) (*rpt.Claims, error) {
	res, err := c.introspect(ctx, raw, c.posTTL)
	if err != nil {
		return nil, err
	}
	return res.Claims, nil
}

// Introspect is Verify returning the whole Result (with fetch and cache
// times). Errors are those of Verify.
func (c *Client) Introspect(ctx context.Context, token string) (*Result, error) {
	return c.introspect(ctx, token, c.posTTL)
}

// key returns the cache key SHA-256(SHA-256(len|endpoint|len|client id) ||
// SHA-256(token)): the full token's hash bound to where and as whom it was
// introspected (D7).
func (c *Client) key(token string) cacheKey {
	// The token is fed through a stack buffer: a []byte(token) conversion
	// would copy it to the heap on every call.
	h := sha256.New()
	var chunk [512]byte
	for rest := token; rest != ""; {
		n := copy(chunk[:], rest)
		_, _ = h.Write(chunk[:n])
		rest = rest[n:]
	}
	var buf [2 * sha256.Size]byte
	copy(buf[:sha256.Size], c.keyPrefix[:])
	h.Sum(buf[sha256.Size:sha256.Size])
	return sha256.Sum256(buf[:])
}

// b64token reports whether s is an RFC 6750 §2.1 b64token (what a bearer
// token may look like): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s) && tokenChars[s[i]]; i++ {
	}
	if i == 0 {
		return false
	}
	for ; i < len(s) && s[i] == '='; i++ {
	}
	return i == len(s)
}

var tokenChars = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// introspect answers from the cache when an entry is usable, otherwise joins
// or starts the single flight for the token. maxAge bounds how old a cached
// active answer may be (0: fetch anew); inactive and failure entries are
// honoured whatever maxAge says.
func (c *Client) introspect(ctx context.Context, token string, maxAge time.Duration) (*Result, error) {
	if token == "" || len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token empty or too long", ErrInactive)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	k := c.key(token)
	if e, ok := c.cache.Get(k); ok {
		now := c.now()
		if now.Before(e.expires) {
			if e.err != nil {
				return nil, e.err
			}
			if maxAge > 0 && now.Sub(e.res.FetchedAt) < maxAge {
				return e.res, nil
			}
		}
	}
	// Only tokens that passed this check are ever cached, so hits skip it.
	if !b64token(token) {
		return nil, fmt.Errorf("%w: token is not an RFC 6750 b64token", ErrInactive)
	}
	return c.join(ctx, token, &k)
}

// join joins or starts the single flight for the token and waits for it or
// for ctx, whichever ends first.
func (c *Client) join(ctx context.Context, token string, kp *cacheKey) (*Result, error) {
	k := *kp
	ch := c.group.DoChan(string(k[:]), func() (any, error) {
		return c.fetch(ctx, token, k)
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("introspection: %w", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Result), nil
	}
}

// fetch makes one introspection call and caches its outcome. It runs once
// per flight on a context detached from the first caller's cancellation (so
// one waiter leaving does not fail the others) and bounded by the timeout.
func (c *Client) fetch(parent context.Context, token string, k cacheKey) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("introspection: internal error while handling a response", "token_fp", fingerprint(k))
			res, err = nil, malformed(0, c.errTTL, "internal error")
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), c.timeout)
	defer cancel()
	res, err = c.call(ctx, token)
	now := c.now()
	switch {
	case err == nil:
		ttl := c.posTTL
		if !res.Claims.ExpiresAt.IsZero() {
			ttl = min(ttl, res.Claims.ExpiresAt.Sub(now))
		}
		if c.rules.MaxAge > 0 && !res.Claims.IssuedAt.IsZero() {
			// Hits skip the claim rules: stop before the token is too old.
			ttl = min(ttl, res.Claims.IssuedAt.Add(c.rules.MaxAge).Sub(now))
		}
		res.FetchedAt, res.Expires = now, now.Add(max(ttl, 0))
		if ttl > 0 {
			c.cache.Add(k, &entry{res: res, expires: res.Expires})
		} else {
			c.cache.Remove(k)
		}
		c.log.DebugContext(ctx, "introspection: token active", "token_fp", fingerprint(k))
	case errors.Is(err, ErrUnavailable):
		c.store(k, err, now, c.errTTL)
		level := slog.LevelWarn
		if errors.Is(err, ErrClientAuth) {
			level = slog.LevelError
		}
		c.log.Log(ctx, level, "introspection: endpoint unavailable", "token_fp", fingerprint(k), "reason", err.Error())
	default:
		c.store(k, err, now, c.negTTL)
		c.log.DebugContext(ctx, "introspection: token rejected", "token_fp", fingerprint(k), "reason", err.Error())
	}
	return res, err
}

func (c *Client) store(k cacheKey, err error, now time.Time, ttl time.Duration) {
	if ttl > 0 {
		c.cache.Add(k, &entry{err: err, expires: now.Add(ttl)})
	} else {
		c.cache.Remove(k)
	}
}

// fingerprint is a short, non-reversible token identifier for logs.
func fingerprint(k cacheKey) string { return hex.EncodeToString(k[:6]) }

// call performs the HTTP exchange: POST, form body, client authentication.
func (c *Client) call(ctx context.Context, token string) (*Result, error) {
	form := url.Values{"token": {token}}
	if c.hint != "" {
		form.Set("token_type_hint", c.hint)
	}
	authz, err := c.auth.Apply(form, c.now())
	if err != nil {
		return nil, &UnavailableError{RetryAfter: c.errTTL, Err: err}
	}
	req := c.rc.R().
		SetContext(ctx).
		SetDoNotParseResponse(true).
		SetHeader("Accept", "application/json").
		SetFormDataFromValues(form)
	if authz != "" {
		req.SetHeader("Authorization", authz)
	}
	resp, err := req.Post(c.endpoint)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	body := resp.RawBody()
	defer func() { _ = body.Close() }()
	status := resp.StatusCode()
	if status != 200 {
		head, _ := io.ReadAll(io.LimitReader(body, 4<<10))
		err := statusError(status, resp.Header(), c.now(), c.errTTL)
		if status == http.StatusBadRequest && invalidClient(head) {
			// Some servers (Keycloak's token endpoint among them) answer a
			// rejected client assertion with 400 invalid_client.
			err.(*UnavailableError).Err = ErrClientAuth
		}
		return nil, err
	}
	data, err := httpx.ReadLimited(body, c.maxBody)
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.transportError(ctx, err)
		}
		return nil, malformed(status, c.errTTL, "body unreadable or over the size cap")
	}
	return c.verdict(status, resp.Header().Get("Content-Type"), data)
}

// verdict turns a 200 answer into a Result or an error.
func (c *Client) verdict(status int, contentType string, body []byte) (*Result, error) {
	r, err := parseBody(status, contentType, body, c.errTTL)
	if err != nil {
		return nil, err
	}
	if !r.active {
		return nil, ErrInactive
	}
	now := c.now()
	m, err := claimsMap(r, c.issuer, now)
	if err != nil {
		if errors.Is(err, rpt.ErrInvalidToken) {
			return nil, err
		}
		return nil, malformed(status, c.errTTL, err.Error())
	}
	claims, err := rpt.ClaimsFromMap(m)
	if err != nil {
		return nil, malformed(status, c.errTTL, "claims have invalid types")
	}
	if err := c.rules.Validate(claims, now); err != nil {
		return nil, err
	}
	return &Result{Claims: claims}, nil
}

// transportError maps a failed exchange (no HTTP answer) to an
// *UnavailableError. *url.Error texts name the endpoint, which New
// guarantees carries no credentials; the token travels in the body only.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &UnavailableError{RetryAfter: c.errTTL, Err: errTimeout}
	}
	return &UnavailableError{RetryAfter: c.errTTL, Err: fmt.Errorf("introspection: request failed: %w", httpx.ScrubError(err))}
}
