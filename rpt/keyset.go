package rpt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/go-resty/resty/v2"

	"github.com/rptguard/rptguard/internal/httpx"
	"github.com/rptguard/rptguard/internal/strictjson"
)

// Why not keyfunc: keyfunc v3 (over jwkset's HTTP storage) refreshes in the
// background and rate-limits unknown-kid refreshes, but it replaces the
// stored set with whatever a successful HTTP fetch returns (an empty
// {"keys":[]} included, catalogue H5), has no key-set maximum age, no
// response-size or key-count cap, no key-strength checks (RSA size and
// exponent, C11/A15), blocks callers on the rate limiter rather than joining
// one in-flight fetch, and logs through slog.Default. So the key set here is
// a small refresher of our own: jwkset converts each JWK to a Go public key
// (NewJWKFromMarshal), and everything around it — the strict JWKS decode,
// key checks, ambiguity handling, single in-flight fetch, rate limit, last
// good set with a maximum age — is in this file.

// jwk is one usable verification key.
type jwk struct {
	kid string
	kty string // "RSA", "EC", "OKP"
	alg string // the JWK's alg, "" if absent
	crv string // EC/OKP curve
	pub crypto.PublicKey
}

// fits reports whether the key may verify a token signed with alg (A5).
func (k *jwk) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return k.kty == "RSA"
	case "ES256":
		return k.kty == "EC" && k.crv == "P-256"
	case "ES384":
		return k.kty == "EC" && k.crv == "P-384"
	case "ES512":
		return k.kty == "EC" && k.crv == "P-521"
	case "EdDSA":
		return k.kty == "OKP" && k.crv == "Ed25519"
	}
	return false
}

// keySet is an immutable snapshot; a refresh swaps the whole pointer
// (copy-on-write, G9).
type keySet struct {
	byKID   map[string][]*jwk
	all     []*jwk
	fetched time.Time // clock reading at the successful fetch
}

func (ks *keySet) lookup(kid, alg string) (k *jwk, kidKnown bool, err error) {
	cands, known := ks.byKID[kid]
	if !known {
		return nil, false, nil
	}
	for _, c := range cands {
		if c.fits(alg) {
			if k != nil {
				return nil, true, fmt.Errorf("%w: ambiguous key id", ErrKeyNotFound)
			}
			k = c
		}
	}
	if k == nil {
		return nil, true, fmt.Errorf("%w: algorithm does not fit the key", ErrUnsupportedAlg)
	}
	return k, true, nil
}

// single returns the only key fitting alg, for tokens without kid (A12).
func (ks *keySet) single(alg string) (*jwk, error) {
	var k *jwk
	for _, c := range ks.all {
		if c.fits(alg) {
			if k != nil {
				return nil, fmt.Errorf("%w: no kid and several candidate keys", ErrKeyNotFound)
			}
			k = c
		}
	}
	if k == nil {
		return nil, fmt.Errorf("%w: no kid and no candidate key", ErrKeyNotFound)
	}
	return k, nil
}

func (ks *keySet) holds(k *jwk) bool {
	return slices.Contains(ks.byKID[k.kid], k)
}

// JWKS limits.
const (
	DefaultJWKSMaxBytes = 1 << 20
	DefaultJWKSMaxKeys  = 100
	minRSABits          = 2048
	maxRSABits          = 8192
	maxKIDLen           = 256
)

var errJWKS = errors.New("rpt: unusable JWKS")

// parseJWKS strictly decodes a JWK Set and returns its usable signing keys.
// Broken, unsupported, encryption-only, weak and ambiguous keys are skipped
// (C8, A13-A16, C11); the document itself must be well formed, hold at most
// maxKeys keys and at least one usable key (H5). prev lets unchanged keys
// keep their identity across refreshes.
func parseJWKS(body []byte, maxKeys int, prev *keySet, log *slog.Logger) (*keySet, error) {
	doc, err := strictjson.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errJWKS, err)
	}
	raw, ok := doc["keys"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: no keys array", errJWKS)
	}
	if len(raw) > maxKeys {
		return nil, fmt.Errorf("%w: more than %d keys", errJWKS, maxKeys)
	}
	ks := &keySet{byKID: make(map[string][]*jwk, len(raw))}
	for i, e := range raw {
		k, why := parseJWK(e)
		if k == nil {
			log.Warn("rpt: JWKS key skipped", "index", i, "reason", why)
			continue
		}
		if prev != nil {
			for _, old := range prev.byKID[k.kid] {
				if old.kty == k.kty && old.alg == k.alg && old.crv == k.crv && publicEqual(old.pub, k.pub) {
					k = old
					break
				}
			}
		}
		ks.byKID[k.kid] = append(ks.byKID[k.kid], k)
	}
	// A13: keys sharing a kid must be told apart by kty/crv/alg; keys that
	// could both verify the same alg are dropped.
	for kid, group := range ks.byKID {
		if len(group) < 2 {
			continue
		}
		keep := group[:0:0]
		for i, a := range group {
			ambiguous := false
			for j, b := range group {
				if i != j && overlap(a, b) {
					ambiguous = true
					break
				}
			}
			if !ambiguous {
				keep = append(keep, a)
			}
		}
		if len(keep) != len(group) {
			log.Warn("rpt: JWKS keys with an ambiguous kid dropped", "kid_len", len(kid), "dropped", len(group)-len(keep))
		}
		if len(keep) == 0 {
			delete(ks.byKID, kid)
		} else {
			ks.byKID[kid] = keep
		}
	}
	for _, group := range ks.byKID {
		ks.all = append(ks.all, group...)
	}
	if len(ks.all) == 0 {
		return nil, fmt.Errorf("%w: no usable signing key", errJWKS)
	}
	return ks, nil
}

func overlap(a, b *jwk) bool {
	for _, alg := range supportedAlgs {
		if a.fits(alg) && b.fits(alg) {
			return true
		}
	}
	return false
}

func publicEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// parseJWK converts one JWK; a nil key comes with a short reason (no key
// material in it).
func parseJWK(e any) (*jwk, string) {
	o, ok := e.(map[string]any)
	if !ok {
		return nil, "not an object"
	}
	str := func(name string) (string, bool) {
		v, present := o[name]
		if !present {
			return "", true
		}
		s, ok := v.(string)
		return s, ok
	}
	kty, ok1 := str("kty")
	kid, ok2 := str("kid")
	alg, ok3 := str("alg")
	use, ok4 := str("use")
	crv, ok5 := str("crv")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return nil, "wrong-typed member"
	}
	if len(kid) > maxKIDLen {
		return nil, "kid too long"
	}
	if use != "" && use != "sig" {
		return nil, "not a signing key (use)"
	}
	if v, present := o["key_ops"]; present {
		ops, ok := v.([]any)
		if !ok || !slices.Contains(ops, any("verify")) {
			return nil, "not a signing key (key_ops)"
		}
	}
	if alg != "" && !slices.Contains(supportedAlgs, alg) {
		return nil, "unsupported alg"
	}
	m := jwkset.JWKMarshal{KTY: jwkset.KTY(kty), CRV: jwkset.CRV(crv)}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"n", &m.N}, {"e", &m.E}, {"x", &m.X}, {"y", &m.Y}} {
		s, ok := str(f.name)
		if !ok {
			return nil, "wrong-typed member"
		}
		if s != "" {
			if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
				return nil, "bad base64url in key material"
			}
		}
		*f.dst = s
	}
	if d, _ := str("d"); d != "" {
		return nil, "private key material published"
	}
	switch kty {
	case "RSA", "EC", "OKP":
	default:
		return nil, "unsupported kty"
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
	if err != nil {
		return nil, "unparsable key"
	}
	k := &jwk{kid: kid, kty: kty, alg: alg, crv: crv, pub: j.Key()}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, "RSA modulus size out of range"
		}
		eb, _ := base64.RawURLEncoding.Strict().DecodeString(m.E)
		if len(eb) == 0 || len(eb) > 4 || (len(eb) == 4 && eb[0] >= 0x80) {
			return nil, "RSA exponent out of range"
		}
		ev := 0
		for _, b := range eb {
			ev = ev<<8 | int(b)
		}
		if ev < 3 || ev%2 == 0 || ev != pub.E {
			return nil, "RSA exponent invalid"
		}
		if pub.N.Bit(0) == 0 {
			return nil, "RSA modulus even"
		}
	case *ecdsa.PublicKey:
		if _, err := pub.ECDH(); err != nil {
			return nil, "EC point not on curve"
		}
		want := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[crv]
		if want == nil || pub.Curve != want {
			return nil, "EC curve mismatch"
		}
	case ed25519.PublicKey:
		if crv != "Ed25519" {
			return nil, "OKP curve not supported"
		}
	default:
		return nil, "unsupported key type"
	}
	if alg != "" && !k.fits(alg) {
		return nil, "alg does not fit the key"
	}
	return k, ""
}

// keySource holds the current key set and refreshes it: periodically, when
// it is older than the refresh interval, and on an unknown kid, with at most
// one fetch in flight and at most one fetch start per minimum interval
// (A10, G1, G2, G11). A failed fetch never replaces the last good set (H5);
// a set older than the maximum age is not used at all (G3, H2).
type keySource struct {
	url             string
	client          *resty.Client
	now             func() time.Time
	log             *slog.Logger
	minInterval     time.Duration
	refreshInterval time.Duration
	maxAge          time.Duration
	maxKeys         int
	fetchTimeout    time.Duration

	cur atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time
	attempted   bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// refreshWaitCap bounds how long a request waits for an in-flight fetch.
const refreshWaitCap = 2 * time.Second

func (s *keySource) fetch(ctx context.Context) error {
	resp, err := s.client.R().SetContext(ctx).SetHeader("Accept", "application/jwk-set+json, application/json").Get(s.url)
	if err != nil {
		return fmt.Errorf("%w: JWKS fetch: %w", ErrUnavailable, httpx.ScrubError(err))
	}
	if resp.StatusCode() != http.StatusOK {
		return fmt.Errorf("%w: JWKS fetch: HTTP status %d", ErrUnavailable, resp.StatusCode())
	}
	mt, _, err := mime.ParseMediaType(resp.Header().Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/jwk-set+json") {
		return fmt.Errorf("%w: JWKS fetch: unexpected content type", ErrUnavailable)
	}
	ks, err := parseJWKS(resp.Body(), s.maxKeys, s.cur.Load(), s.log)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ks.fetched = s.now()
	s.cur.Store(ks)
	return nil
}

// trigger starts a fetch unless one is in flight (then it is returned) or
// the minimum interval since the last attempt has not passed (then nil).
func (s *keySource) trigger() *fetchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	if s.ctx.Err() != nil {
		return nil
	}
	now := s.now()
	if s.attempted && now.Sub(s.lastAttempt) < s.minInterval {
		return nil
	}
	s.attempted, s.lastAttempt = true, now
	call := &fetchCall{done: make(chan struct{})}
	s.inflight = call
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.fetchTimeout)
		err := s.fetch(ctx)
		cancel()
		if err != nil {
			s.log.Warn("rpt: JWKS refresh failed; keeping the last good key set", "error", err)
		}
		s.mu.Lock()
		call.err = err
		s.inflight = nil
		s.mu.Unlock()
		close(call.done)
	}()
	return call
}

// wait waits for call (bounded by ctx and refreshWaitCap). It returns
// ctx.Err() if ctx ended first, ErrUnavailable on timeout, else the fetch
// result.
func wait(ctx context.Context, call *fetchCall) error {
	t := time.NewTimer(refreshWaitCap)
	defer t.Stop()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: key refresh still in progress", ErrUnavailable)
	}
}

// current returns a key set that is not older than the maximum age, kicking
// a refresh when it is due. If the set is too old it waits (bounded) for a
// refresh and returns ErrUnavailable if none succeeds.
func (s *keySource) current(ctx context.Context, now time.Time) (*keySet, error) {
	ks := s.cur.Load()
	if ks != nil {
		age := now.Sub(ks.fetched)
		if age <= s.maxAge {
			if age > s.refreshInterval {
				s.trigger()
			}
			return ks, nil
		}
	}
	if call := s.trigger(); call != nil {
		if err := wait(ctx, call); err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if ks = s.cur.Load(); ks != nil && s.now().Sub(ks.fetched) <= s.maxAge {
			return ks, nil
		}
	}
	return nil, fmt.Errorf("%w: key set older than its maximum age and no refresh succeeded", ErrUnavailable)
}

// refreshForKID is called for an unknown kid: it joins or starts a fetch
// (subject to the minimum interval) and returns the newest key set.
func (s *keySource) refreshForKID(ctx context.Context) (*keySet, error) {
	call := s.trigger()
	if call == nil {
		return nil, nil
	}
	if err := wait(ctx, call); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return s.cur.Load(), nil
}

func (s *keySource) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.refreshInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.trigger()
		}
	}
}

func (s *keySource) close() {
	// Cancel under mu: trigger checks ctx and calls wg.Add under mu, so a
	// refresh either registers before Wait or never starts.
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}
