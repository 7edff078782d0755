package rpt

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rptguard/rptguard/internal/httpx"
	"github.com/rptguard/rptguard/internal/strictjson"
)

// Defaults and bounds for [Config].
const (
	DefaultMaxTokenSize           = 16 << 10
	MaxMaxTokenSize               = 64 << 10
	DefaultCacheSize              = 1000
	DefaultCacheTTL               = 5 * time.Minute
	DefaultJWKSRefreshInterval    = 5 * time.Minute
	DefaultJWKSMaxAge             = 10 * time.Minute
	DefaultJWKSMinRefreshInterval = 10 * time.Second
)

// Config configures a [Verifier]. It is plain data; the zero value of each
// field is documented. ClaimRules is embedded: Issuer and Audience are
// required, the rest have defaults (see [ClaimRules]).
type Config struct {
	ClaimRules

	// JWKSURL is the realm's key set
	// ({auth-server-url}/realms/{realm}/protocol/openid-connect/certs). If
	// empty, it is discovered from Issuer + "/.well-known/openid-configuration"
	// (whose issuer must equal Issuer exactly). Keys are only ever taken from
	// here, never from a token header (jwk, jku, x5u, x5c are ignored).
	JWKSURL string `json:"jwks-url,omitempty"`
	// Algorithms is the signing-algorithm allow-list, compared exactly
	// (case-sensitive). Default ["RS256"]. Supported: RS256/384/512,
	// PS256/384/512, ES256/384/512, EdDSA. "none" and HS* are refused (keys
	// come from a JWKS, so they are asymmetric: RFC 8725 §3.1).
	Algorithms []string `json:"algorithms,omitempty"`
	// HeaderTypes are the accepted JOSE header typ values (compared
	// case-insensitively, an "application/" prefix ignored). Default
	// ["JWT"]; add "at+jwt" for RFC 9068 issuers. Include "" to accept tokens
	// without a typ header. A cty header is always rejected.
	HeaderTypes []string `json:"header-types,omitempty"`
	// MaxTokenSize caps the compact token length in bytes, checked before
	// anything else. Default 16 KiB; at most 64 KiB.
	MaxTokenSize int `json:"max-token-size,omitempty"`
	// CacheSize is the number of verified tokens kept (LRU, in up to 16
	// shards of at least 32 entries each). Default 1000 (about 8 KiB per
	// entry for a 5-permission RPT, 48 KiB with 50); negative disables the
	// cache.
	CacheSize int `json:"cache-size,omitempty"`
	// CacheTTL bounds how long a verified token is served from the cache;
	// entries also expire at the token's exp. Default 5 min.
	CacheTTL time.Duration `json:"cache-ttl,omitempty"`
	// JWKSRefreshInterval: the key set is re-fetched in the background at
	// this interval. Default 5 min.
	JWKSRefreshInterval time.Duration `json:"jwks-refresh-interval,omitempty"`
	// JWKSMaxAge: a key set not refreshed successfully for this long is not
	// used any more (verification returns ErrUnavailable). Default 10 min;
	// at least JWKSRefreshInterval.
	JWKSMaxAge time.Duration `json:"jwks-max-age,omitempty"`
	// JWKSMinRefreshInterval: at most one JWKS fetch starts per interval
	// (unknown kid, periodic and failure retries alike; A10, G1). Default
	// 10 s (Keycloak's min-time-between-jwks-requests).
	JWKSMinRefreshInterval time.Duration `json:"jwks-min-refresh-interval,omitempty"`
	// JWKSMaxBytes caps a JWKS response. Default 1 MiB.
	JWKSMaxBytes int `json:"jwks-max-bytes,omitempty"`
	// JWKSMaxKeys caps the keys in a JWKS; a larger set is refused as a
	// whole. Default 100.
	JWKSMaxKeys int `json:"jwks-max-keys,omitempty"`
	// InsecureAllowHTTP accepts http:// for JWKSURL and discovery. It MUST
	// NOT be set in production (tokens' keys would travel unauthenticated).
	InsecureAllowHTTP bool `json:"insecure-allow-http,omitempty"`
}

// Option configures wiring of a [Verifier].
type Option func(*options)

type options struct {
	hc     *http.Client
	logger *slog.Logger
	now    func() time.Time
}

// WithHTTPClient sets the client used for discovery and JWKS fetches. It is
// copied, never modified; redirects are never followed whatever its
// CheckRedirect says. Default: a client with 2 s dial/TLS and 5 s total
// timeouts.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithLogger sets the logger for background events (failed refreshes,
// skipped keys). Default: silent. Tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the time source for claim checks, cache expiry and key-set
// age. Default time.Now. Use a clock whose readings carry Go's monotonic
// component (as time.Now's do) so wall-clock steps cannot extend cache
// lifetimes (G12).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Verifier verifies Keycloak access tokens and RPTs locally: compact JWS
// checks, signature with a key from the configured JWKS, then the
// [ClaimRules]. Verified tokens are cached. A Verifier is safe for
// concurrent use; call Close to stop its background refresh.
type Verifier struct {
	rules       ClaimRules
	algs        map[string]jwt.SigningMethod
	headerTypes []string
	maxSize     int
	keys        *keySource
	cache       *tokenCache // nil when disabled
	cacheTTL    time.Duration
	now         func() time.Time
	closeOnce   sync.Once
}

var _ interface {
	Verify(context.Context, string) (*Claims, error)
} = (*Verifier)(nil)

var signingMethods = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256, "RS384": jwt.SigningMethodRS384, "RS512": jwt.SigningMethodRS512,
	"PS256": jwt.SigningMethodPS256, "PS384": jwt.SigningMethodPS384, "PS512": jwt.SigningMethodPS512,
	"ES256": jwt.SigningMethodES256, "ES384": jwt.SigningMethodES384, "ES512": jwt.SigningMethodES512,
	"EdDSA": jwt.SigningMethodEdDSA,
}

// New validates cfg, discovers the JWKS URL if needed, fetches the key set
// once (failing fast if that is impossible: catalogue H1, error matching
// [ErrUnavailable] or [ErrDiscovery]) and starts the background refresh.
// Configuration errors match [ErrConfig]. ctx bounds only the start-up
// requests.
func New(ctx context.Context, cfg Config, opts ...Option) (*Verifier, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.ClaimRules.Check(); err != nil {
		return nil, err
	}
	v := &Verifier{rules: cfg.ClaimRules, now: o.now, algs: map[string]jwt.SigningMethod{}}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	for _, a := range algs {
		m, ok := signingMethods[a]
		if !ok {
			return nil, fmt.Errorf("%w: algorithm %q not supported for JWKS keys", ErrConfig, a)
		}
		v.algs[a] = m
	}
	v.headerTypes = []string{"jwt"}
	if len(cfg.HeaderTypes) > 0 {
		v.headerTypes = make([]string, len(cfg.HeaderTypes))
		for i, t := range cfg.HeaderTypes {
			v.headerTypes[i] = normalizeTyp(t)
		}
	}
	v.maxSize = cmpDefault(cfg.MaxTokenSize, DefaultMaxTokenSize)
	if v.maxSize > MaxMaxTokenSize || v.maxSize < 0 {
		return nil, fmt.Errorf("%w: max token size above %d", ErrConfig, MaxMaxTokenSize)
	}
	v.cacheTTL = cmpDefault(cfg.CacheTTL, DefaultCacheTTL)
	if size := cmpDefault(cfg.CacheSize, DefaultCacheSize); size > 0 {
		c, err := newTokenCache(size)
		if err != nil {
			return nil, fmt.Errorf("%w: cache: %w", ErrConfig, err)
		}
		v.cache = c
	}
	ks := &keySource{
		now:             o.now,
		log:             o.logger,
		minInterval:     cmpDefault(cfg.JWKSMinRefreshInterval, DefaultJWKSMinRefreshInterval),
		refreshInterval: cmpDefault(cfg.JWKSRefreshInterval, DefaultJWKSRefreshInterval),
		maxAge:          cmpDefault(cfg.JWKSMaxAge, DefaultJWKSMaxAge),
		maxKeys:         cmpDefault(cfg.JWKSMaxKeys, DefaultJWKSMaxKeys),
		fetchTimeout:    httpx.TotalTimeout,
	}
	if ks.maxAge < ks.refreshInterval || ks.refreshInterval < 0 || ks.minInterval < 0 || ks.maxKeys < 0 {
		return nil, fmt.Errorf("%w: JWKS max age below refresh interval, or negative limits", ErrConfig)
	}
	maxBytes := cmpDefault(cfg.JWKSMaxBytes, DefaultJWKSMaxBytes)
	if maxBytes < 0 {
		// resty reads without a cap when the limit is not positive.
		return nil, fmt.Errorf("%w: negative JWKS max bytes", ErrConfig)
	}
	ks.client = httpx.NewResty(o.hc, httpx.WithLogger(o.logger), httpx.WithMaxBody(maxBytes))
	if cfg.JWKSURL == "" {
		md, err := discover(ctx, ks.client, strings.TrimSuffix(cfg.Issuer, "/")+"/.well-known/openid-configuration", cfg.Issuer, cfg.InsecureAllowHTTP)
		if err != nil {
			return nil, err
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("%w: no jwks_uri in provider metadata", ErrDiscovery)
		}
		cfg.JWKSURL = md.JWKSURI
	}
	if _, err := httpx.CheckURL(cfg.JWKSURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("%w: JWKS URL: %w", ErrConfig, err)
	}
	ks.url = cfg.JWKSURL
	fctx, cancel := context.WithTimeout(ctx, ks.fetchTimeout)
	err := ks.fetch(fctx)
	cancel()
	if err != nil {
		return nil, err
	}
	ks.ctx, ks.cancel = context.WithCancel(context.Background())
	ks.attempted, ks.lastAttempt = true, o.now()
	ks.wg.Add(1)
	go ks.loop()
	v.keys = ks
	return v, nil
}

func cmpDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func normalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// Close stops the background key refresh and waits for it. It is
// idempotent. Verify after Close still works from the cached key set until
// that set exceeds its maximum age.
func (v *Verifier) Close() {
	v.closeOnce.Do(v.keys.close)
}

// Verify checks raw (a compact JWS, without the "Bearer " prefix) and returns
// its claims. Errors match [ErrInvalidToken] plus one precise sentinel
// (malformed, algorithm, key, signature, or a claim rule), or
// [ErrUnavailable] when no usable key set exists, or ctx.Err(). A signature
// failure is returned alone, never joined with a claim error
// (CVE-2024-51744). Errors never contain token material.
//
// Order of checks: size cap; verified-token cache (an exact match of a
// token that passed every check); character set and exactly three non-empty
// segments; strict base64url and JSON header; alg
// allow-list, crit, b64, typ, cty, kid; key selection (at most one JWKS
// refresh for an unknown kid); payload decode; signature over the original
// signing input; claim rules.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(raw) > v.maxSize {
		return nil, errTooLarge
	}
	now := v.now()
	var hash uint64
	if v.cache != nil {
		// A token equal to a cached one passed every check below when it
		// was cached: the lookup comes first, so a hit does not scan the
		// token again.
		hash = v.cache.hash(raw)
		if e, ok := v.cache.get(hash, raw); ok {
			if now.Before(e.until) {
				ks, err := v.keys.current(ctx, now)
				if err != nil {
					return nil, err
				}
				if ks.holds(e.key) {
					return e.claims, nil
				}
			}
			v.cache.remove(hash, raw)
		}
	}
	dot1, dot2, ok := splitToken(raw)
	if !ok {
		return nil, errNotCompact
	}
	c, k, err := v.verify(ctx, raw, dot1, dot2, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		ttl := min(c.ExpiresAt.Sub(now), v.cacheTTL)
		if v.rules.MaxAge > 0 {
			// B5 on the cache path: not served past iat + MaxAge + leeway.
			ttl = min(ttl, c.IssuedAt.Add(v.rules.MaxAge+v.rules.leeway()).Sub(now))
		}
		if ttl > 0 {
			v.cache.add(hash, raw, &cacheEntry{claims: c, key: k, until: now.Add(ttl)})
		}
	}
	return c, nil
}

// splitToken checks the compact-serialization alphabet and returns the
// positions of the two dots (C1, C4, A17, A24).
func splitToken(raw string) (dot1, dot2 int, ok bool) {
	// One branch-free pass over the alphabet (dots included), then the
	// dots are found with the vectorised IndexByte.
	if !compactAlphabet(raw) {
		return 0, 0, false
	}
	dot1 = strings.IndexByte(raw, '.')
	if dot1 <= 0 {
		return 0, 0, false
	}
	dot2 = strings.IndexByte(raw[dot1+1:], '.')
	if dot2 <= 0 {
		return 0, 0, false
	}
	dot2 += dot1 + 1
	if dot2 == len(raw)-1 || strings.IndexByte(raw[dot2+1:], '.') >= 0 {
		return 0, 0, false
	}
	return dot1, dot2, true
}

// compactAlphabet reports whether raw holds only base64url characters and
// dots, eight bytes per step and without a branch per byte.
func compactAlphabet(raw string) bool {
	var bad byte
	i := 0
	for ; i+8 <= len(raw); i += 8 {
		w := raw[i : i+8]
		bad |= notCompact[w[0]] | notCompact[w[1]] | notCompact[w[2]] | notCompact[w[3]] |
			notCompact[w[4]] | notCompact[w[5]] | notCompact[w[6]] | notCompact[w[7]]
	}
	for ; i < len(raw); i++ {
		bad |= notCompact[raw[i]]
	}
	return bad == 0
}

// notCompact is 1 for the bytes that cannot appear in a compact JWS: all
// but the base64url alphabet and '.'.
var notCompact = func() (t [256]byte) {
	for c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t[c] = 1
		}
	}
	return t
}()

var b64 = base64.RawURLEncoding.Strict()

// Preallocated errors for the cheap checks, so floods of garbage cost no
// allocations (C1, C10).
var (
	errTooLarge   = fmt.Errorf("%w: token larger than the size cap", ErrMalformed)
	errNotCompact = fmt.Errorf("%w: not a compact JWS", ErrMalformed)
)

func (v *Verifier) verify(ctx context.Context, raw string, dot1, dot2 int, now time.Time) (*Claims, *jwk, error) {
	hdrJSON, err := b64.DecodeString(raw[:dot1])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	hdr, err := strictjson.Decode(hdrJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	alg, kid, hasKID, err := v.checkHeader(hdr)
	if err != nil {
		return nil, nil, err
	}
	key, err := v.selectKey(ctx, kid, hasKID, alg, now)
	if err != nil {
		return nil, nil, err
	}
	payload, err := b64.DecodeString(raw[dot1+1 : dot2])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(raw[dot2+1:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	claims, err := parseClaimsString(string(payload))
	if err != nil {
		return nil, nil, err
	}
	// Verify over the original signing input (A18). A failure ends here.
	if err := v.algs[alg].Verify(raw[:dot2], sig, key.pub); err != nil {
		return nil, nil, ErrSignatureInvalid
	}
	if err := v.rules.Validate(claims, now); err != nil {
		return nil, nil, err
	}
	return claims, key, nil
}

// checkHeader applies the JOSE header rules (A1-A3, A6, A11, A19-A23).
func (v *Verifier) checkHeader(h map[string]any) (alg, kid string, hasKID bool, err error) {
	a, ok := h["alg"].(string)
	if !ok || a == "" {
		return "", "", false, fmt.Errorf("%w: alg missing or not a string", ErrMalformed)
	}
	if _, ok := v.algs[a]; !ok {
		return "", "", false, ErrUnsupportedAlg
	}
	for _, name := range [...]string{"crit", "b64", "cty", "enc", "zip"} {
		if _, present := h[name]; present {
			return "", "", false, fmt.Errorf("%w: header %s not supported", ErrMalformed, name)
		}
	}
	typ := ""
	if t, present := h["typ"]; present {
		s, ok := t.(string)
		if !ok || s == "" {
			return "", "", false, fmt.Errorf("%w: typ header not a string", ErrMalformed)
		}
		typ = normalizeTyp(s)
	}
	if !slices.Contains(v.headerTypes, typ) {
		return "", "", false, fmt.Errorf("%w: typ header not accepted", ErrTokenType)
	}
	if k, present := h["kid"]; present {
		s, ok := k.(string)
		if !ok || len(s) > maxKIDLen {
			return "", "", false, fmt.Errorf("%w: kid not a string or too long", ErrMalformed)
		}
		kid, hasKID = s, true
	}
	return a, kid, hasKID, nil
}

// selectKey finds the key for (kid, alg) in the configured key set only
// (B13), refreshing it at most once, rate-limited, for an unknown kid (A10).
func (v *Verifier) selectKey(ctx context.Context, kid string, hasKID bool, alg string, now time.Time) (*jwk, error) {
	ks, err := v.keys.current(ctx, now)
	if err != nil {
		return nil, err
	}
	if !hasKID {
		return ks.single(alg)
	}
	k, known, err := ks.lookup(kid, alg)
	if known {
		return k, err
	}
	ks, err = v.keys.refreshForKID(ctx)
	if err != nil {
		return nil, err
	}
	if ks != nil {
		if k, known, err = ks.lookup(kid, alg); known {
			return k, err
		}
	}
	return nil, ErrKeyNotFound
}
