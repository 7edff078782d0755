package uma

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/rptguard/rptguard/rpt"
)

// ExchangeRequest asks [Client.Exchange] for an RPT on behalf of the holder
// of SubjectToken.
type ExchangeRequest struct {
	// SubjectToken is the caller's access token (required). The client
	// authenticates itself and sends it as subject_token.
	SubjectToken string
	// SubjectExpiry is the subject token's verified exp. If zero, the exp
	// claim is read from the token's payload (unverified, used only to
	// shorten the cache lifetime).
	SubjectExpiry time.Time
	// Audience is the resource server; if empty, Config.Audience.
	Audience string
	// Permissions requested (order does not matter for caching).
	Permissions []Permission
	// Claims are pushed as claim_token (claim-information-point output).
	Claims map[string][]string
}

// ExchangedRPT is a verified RPT obtained by [Client.Exchange]. It is shared
// between callers and must be treated as read-only. String and LogValue
// redact the token.
type ExchangedRPT struct {
	// Raw is the RPT as issued.
	Raw string
	// Claims are its verified claims.
	Claims *rpt.Claims
	// Upgraded is the token response's upgraded flag.
	Upgraded bool
}

// String implements fmt.Stringer without revealing the token.
func (e *ExchangedRPT) String() string { return "uma.ExchangedRPT{Raw:REDACTED}" }

// GoString is String, so %#v never prints the token.
func (e *ExchangedRPT) GoString() string { return e.String() }

// LogValue implements slog.LogValuer without revealing the token.
func (e *ExchangedRPT) LogValue() slog.Value { return slog.StringValue("uma.ExchangedRPT{REDACTED}") }

// Exchange returns a verified RPT for req, as an enforcer needs it: the UMA
// grant with subject_token, audience, permission parameters and pushed claims
// (SPEC §3.5), with the client authenticating itself.
//
// Results are cached in a bounded LRU keyed by SHA-256(subject token),
// audience, the sorted permissions and a hash of the pushed claims. A granted
// RPT is reused until min(RPT exp, subject exp, now+MaxTTL) − Skew; a denial
// (ErrAccessDenied) is remembered for DenyTTL and any other failure for
// ErrorBackoff (see [ExchangeConfig]). Concurrent calls needing the same
// exchange share ONE token-endpoint call; each caller waits under its own ctx
// (a cancelled caller gets ctx's error, wrapped in ErrUnavailable, and the
// call continues for the others, bounded by an internal 30 s timeout).
//
// Errors are those of [Client.Grant].
func (c *Client) Exchange(ctx context.Context, req ExchangeRequest) (*ExchangedRPT, error) {
	if req.SubjectToken == "" {
		return nil, invalidRequest("exchange needs a subject token")
	}
	if req.Audience == "" {
		req.Audience = c.cfg.Audience
	}
	key, err := exchangeKey(req)
	if err != nil {
		return nil, err
	}
	x := c.exchanges
	if e, ok := x.lookup(key); ok {
		return e.rpt, e.err
	}
	fetchCtx := context.WithoutCancel(ctx)
	ch := x.sf.DoChan(string(key[:]), func() (any, error) {
		if e, ok := x.lookup(key); ok {
			return e, nil
		}
		ctx, cancel := context.WithTimeout(fetchCtx, callTimeout)
		defer cancel()
		return x.fetch(ctx, key, req), nil
	})
	select {
	case r := <-ch:
		e := r.Val.(*exEntry)
		return e.rpt, e.err
	case <-ctx.Done():
		return nil, unavailable("exchange", ctx.Err())
	}
}

// exchangeCache is the bounded RPT exchange cache.
type exchangeCache struct {
	c   *Client
	cfg ExchangeConfig
	lru *lru.Cache[[32]byte, *exEntry]
	sf  singleflight.Group
}

type exEntry struct {
	rpt   *ExchangedRPT
	err   error
	until time.Time
}

func (cfg ExchangeConfig) withDefaults() ExchangeConfig {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 5 * time.Minute
	}
	if cfg.DenyTTL == 0 {
		cfg.DenyTTL = 2 * time.Second
	}
	if cfg.ErrorBackoff == 0 {
		cfg.ErrorBackoff = time.Second
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 5 * time.Second
	}
	return cfg
}

func newExchangeCache(c *Client, cfg ExchangeConfig) (*exchangeCache, error) {
	l, err := lru.New[[32]byte, *exEntry](cfg.MaxEntries)
	if err != nil {
		return nil, errors.New("uma: config: invalid exchange cache size")
	}
	return &exchangeCache{c: c, cfg: cfg, lru: l}, nil
}

// lookup returns a live entry; expired entries are removed. Expiry is checked
// against the client's clock, never the LRU's.
func (x *exchangeCache) lookup(key [32]byte) (*exEntry, bool) {
	e, ok := x.lru.Get(key)
	if !ok {
		return nil, false
	}
	if !x.c.now().Before(e.until) {
		x.lru.Remove(key)
		return nil, false
	}
	return e, true
}

// fetch performs the grant and stores the outcome as the cache policy says.
func (x *exchangeCache) fetch(ctx context.Context, key [32]byte, req ExchangeRequest) *exEntry {
	c := x.c
	t, err := c.RequestRPT(ctx, GrantRequest{
		SubjectToken: req.SubjectToken, Audience: req.Audience,
		Permissions: req.Permissions, ClaimToken: req.Claims,
	})
	now := c.now()
	subjExp := req.SubjectExpiry
	if subjExp.IsZero() {
		subjExp = unverifiedExp(req.SubjectToken)
	}
	e := &exEntry{err: err}
	var ttl time.Duration
	switch {
	case err == nil:
		e.rpt = &ExchangedRPT{Raw: t.AccessToken, Claims: t.Claims, Upgraded: t.Upgraded}
		e.until = now.Add(x.cfg.MaxTTL)
		if t.Claims != nil && !t.Claims.ExpiresAt.IsZero() && t.Claims.ExpiresAt.Add(-x.cfg.Skew).Before(e.until) {
			e.until = t.Claims.ExpiresAt.Add(-x.cfg.Skew)
		}
		if !t.Expiry.IsZero() && t.Expiry.Add(-x.cfg.Skew).Before(e.until) {
			e.until = t.Expiry.Add(-x.cfg.Skew)
		}
		if !subjExp.IsZero() && subjExp.Add(-x.cfg.Skew).Before(e.until) {
			e.until = subjExp.Add(-x.cfg.Skew)
		}
		ttl = e.until.Sub(now)
	case errors.Is(err, ErrAccessDenied):
		ttl = x.cfg.DenyTTL
		e.until = now.Add(ttl)
		if !subjExp.IsZero() && subjExp.Before(e.until) {
			e.until = subjExp
			ttl = e.until.Sub(now)
		}
	default:
		ttl = x.cfg.ErrorBackoff
		e.until = now.Add(ttl)
	}
	if ttl > 0 && !x.cfg.Disabled {
		x.lru.Add(key, e)
	}
	c.log.DebugContext(ctx, "uma: RPT exchange",
		slog.String("token", tokenFingerprint(req.SubjectToken)),
		slog.Bool("granted", err == nil), slog.Duration("cached_for", max(ttl, 0)))
	return e
}

// exchangeKey hashes every input that changes the grant's outcome into a
// fixed-size key. Permissions and their scopes are sorted, so the order of
// a request does not matter; the subject token enters only as its SHA-256.
// Every field is length-prefixed, so no two inputs share an encoding.
func exchangeKey(req ExchangeRequest) ([32]byte, error) {
	var perms []string
	for _, p := range req.Permissions {
		if err := p.validate(); err != nil {
			return [32]byte{}, err
		}
		sc := p.Scopes
		if !strictlySorted(sc) {
			sc = slices.Compact(slices.Sorted(slices.Values(sc)))
		}
		perms = append(perms, p.Resource+"#"+strings.Join(sc, ","))
	}
	if len(perms) > 1 {
		slices.Sort(perms)
		perms = slices.Compact(perms)
	}
	h := sha256.New()
	sub := sha256.Sum256([]byte(req.SubjectToken))
	h.Write([]byte("uma-exchange-v1"))
	h.Write(sub[:])
	writeField(h, req.Audience)
	writeLen(h, len(perms))
	for _, p := range perms {
		writeField(h, p)
	}
	keys := make([]string, 0, len(req.Claims))
	for k := range req.Claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	writeLen(h, len(keys))
	for _, k := range keys {
		writeField(h, k)
		vs := req.Claims[k]
		writeLen(h, len(vs))
		for _, v := range vs {
			writeField(h, v)
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k, nil
}

func strictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

func writeField(h hash.Hash, s string) {
	writeLen(h, len(s))
	io.WriteString(h, s)
}

// tokenFingerprint is a short SHA-256 prefix for logs (never the token).
func tokenFingerprint(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(s[:6])
}

// unverifiedExp reads exp from a JWT payload without verifying it. It is
// used only to shorten a cache lifetime, never to accept anything.
func unverifiedExp(tok string) time.Time {
	parts := strings.SplitN(tok, ".", 4)
	if len(parts) != 3 || len(parts[1]) > maxTokenBytes {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var w struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &w) != nil {
		return time.Time{}
	}
	f, err := w.Exp.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}
