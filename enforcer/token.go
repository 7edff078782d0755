package enforcer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"mime"
	"net/http"
	"net/url"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// Bearer extraction errors (RFC 6750 §2, §3.1).
var (
	// errAmbiguousCredentials: two Authorization headers, a malformed Bearer
	// credential, or a Bearer header together with an access_token query or
	// form parameter → 400 invalid_request.
	errAmbiguousCredentials = errors.New("enforcer: ambiguous or malformed credentials")
	// errTokenTooLarge: the bearer token exceeds the size cap → 401
	// invalid_token like every other token failure (I1).
	errTokenTooLarge = errors.New("enforcer: bearer token too large")
)

// accessTokenParam is RFC 6750's query and form parameter. rptguard never
// reads a token from it (RFC 6750 §2.3 and §5.3: tokens in URLs leak); its
// presence next to an Authorization header is refused as ambiguous.
const accessTokenParam = "access_token"

// extractBearer returns the bearer token of the request's Authorization
// header, or "" when there is none (anonymous). Rules, stricter than
// Keycloak's filter (first header splitting into two words):
//   - more than one Authorization header → errAmbiguousCredentials;
//   - a scheme other than Bearer (compared case-insensitively) → anonymous;
//   - "Bearer" followed by one or more spaces and a non-empty RFC 6750
//     b64token, nothing else → the token; anything else → errAmbiguousCredentials;
//   - a token longer than maxSize → errTokenTooLarge, checked before the
//     token's characters are looked at;
//   - a Bearer header and an access_token query parameter → errAmbiguousCredentials.
//
// A token only in the query is never read.
func extractBearer(h http.Header, rawQuery string, maxSize int) (string, error) {
	vals := h["Authorization"]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errAmbiguousCredentials
	}
	v := vals[0]
	const scheme = "Bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", nil
	}
	rest := v[len(scheme):]
	if rest != "" && rest[0] != ' ' {
		if isTokenChar(rest[0]) {
			return "", nil // another scheme starting with "Bearer", e.g. "BearerX"
		}
		return "", errAmbiguousCredentials
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return "", errAmbiguousCredentials
	}
	if hasQueryKey(rawQuery, accessTokenParam) {
		return "", errAmbiguousCredentials
	}
	if len(rest) > maxSize {
		return "", errTokenTooLarge
	}
	// One branch-free pass over the characters (tokens are kilobytes long and
	// this runs on every request), then '=' only as trailing padding.
	if !allIn(&notB64Token, rest) {
		return "", errAmbiguousCredentials
	}
	if i := strings.IndexByte(rest, '='); i >= 0 && (i == 0 || strings.TrimLeft(rest[i:], "=") != "") {
		return "", errAmbiguousCredentials
	}
	return rest, nil
}

// allIn reports whether no byte of s is flagged in notIn, eight bytes per
// step and without a branch per byte.
func allIn(notIn *[256]byte, s string) bool {
	var bad byte
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		bad |= notIn[w[0]] | notIn[w[1]] | notIn[w[2]] | notIn[w[3]] | notIn[w[4]] | notIn[w[5]] | notIn[w[6]] | notIn[w[7]]
	}
	for ; i < len(s); i++ {
		bad |= notIn[s[i]]
	}
	return bad == 0
}

// notB64Token is 1 for the bytes that cannot appear in an RFC 6750 b64token
// ('=' included: its position is checked separately).
var notB64Token = func() (t [256]byte) {
	for c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/=", byte(c)) >= 0) {
			t[c] = 1
		}
	}
	return t
}()

// isTokenChar reports an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// hasQueryKey reports whether the raw query has the parameter key, comparing
// keys after percent-decoding. It allocates only for encoded keys.
func hasQueryKey(rawQuery, key string) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, _, _ := strings.Cut(kv, "=")
		if k == key {
			return true
		}
		if strings.ContainsAny(k, "%+") {
			if dk, err := url.QueryUnescape(k); err != nil || dk == key {
				return true // an undecodable key is treated as present: fail closed
			}
		}
	}
	return false
}

// isFormBody reports whether the request carries an
// application/x-www-form-urlencoded body.
func isFormBody(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" || r.Body == nil || r.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// fingerprint is how a token appears in logs: the first 8 bytes of its
// SHA-256, hex (never the token, I3).
func fingerprint(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:8])
}

// ---------------------------------------------------------------------------
// Token value cache

// tokenValues caches the policy form of verified claims
// ([policies.TokenValue]) keyed by the *rpt.Claims pointer the verifier
// returns from its own cache, so the token is hashed once, by the verifier.
// Entries expire with the token (checked against the enforcer's clock) and
// the cache is bounded and sharded: no global lock on the hot path.
//
// Memory: one entry holds the claims (kept alive by the key; the verifier's
// cache already holds them) and their policy form, roughly as large again as
// the decoded claims (a few KiB for 5 permissions, tens of KiB for 50).
type tokenValues struct {
	shards []*lru.Cache[*rpt.Claims, *policies.TokenValue]
	seed   maphash.Seed
}

// defaultTokenValues is the default bound of the token value cache, matching
// rpt.Verifier's default cache size.
const defaultTokenValues = 1000

func newTokenValues(maxEntries int) *tokenValues {
	if maxEntries < 0 {
		return nil
	}
	if maxEntries == 0 {
		maxEntries = defaultTokenValues
	}
	n := 1
	for n < 16 && maxEntries/(n*2) >= 32 {
		n *= 2
	}
	tv := &tokenValues{seed: maphash.MakeSeed()}
	per := (maxEntries + n - 1) / n
	for range n {
		c, _ := lru.New[*rpt.Claims, *policies.TokenValue](max(per, 1))
		tv.shards = append(tv.shards, c)
	}
	return tv
}

func (t *tokenValues) shard(c *rpt.Claims) *lru.Cache[*rpt.Claims, *policies.TokenValue] {
	if len(t.shards) == 1 {
		return t.shards[0]
	}
	return t.shards[maphash.Comparable(t.seed, c)%uint64(len(t.shards))]
}

// tokenValue returns the cached value for c, building and caching it on a
// miss. The value is a pure function of the immutable claims, and the key
// holds them alive, so an entry is valid for as long as it is cached; whether
// the token is still valid is the verifier's decision, made before. The
// bound (LRU) limits memory; entries of expired tokens age out as unused.
func (e *Enforcer) tokenValue(c *rpt.Claims) (*policies.TokenValue, error) {
	t := e.tvs
	if t == nil {
		return policies.NewTokenValue(c)
	}
	sh := t.shard(c)
	if v, ok := sh.Get(c); ok {
		e.obs.Cache("token_value", true)
		return v, nil
	}
	e.obs.Cache("token_value", false)
	v, err := policies.NewTokenValue(c)
	if err != nil {
		return nil, err
	}
	sh.Add(c, v)
	return v, nil
}
