package rpt

import (
	"hash/maphash"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenCache is the verified-token cache: a bounded LRU, sharded so that
// concurrent requests for different tokens do not contend on one lock.
//
// Keying. An entry is found by a 64-bit hash of the whole token keyed with a
// per-process random seed (hash/maphash, about 1 µs for an 8 KB token where
// SHA-256 costs about 7 µs), and it is only ever returned after the token it
// was verified for, stored in the entry, compares equal to the presented one
// in full. So a hash collision, accidental or crafted, can only cost a cache
// miss, never hand one token's claims to another token: correctness does not
// rest on the hash. The comparison reads every byte whatever the contents
// (constantTimeEqual), so even a presented token that shares the hash of a
// cached one learns nothing about it from timing.
//
// Memory: each entry holds a private copy of its token (up to the token size
// cap; 2-8 KB for Keycloak RPTs) next to the decoded claims, which dominate
// (see the package doc).
type tokenCache struct {
	seed   maphash.Seed
	shards []*lru.Cache[uint64, *cacheEntry]
}

// cacheEntry is a verified token. until carries the clock's monotonic
// reading when it has one.
type cacheEntry struct {
	raw    string // the token, compared in full on every hit
	claims *Claims
	key    *jwk
	until  time.Time
}

// newTokenCache returns a cache bounded at size entries (size > 0). Shards
// hold at least 32 entries each, up to 16 shards.
func newTokenCache(size int) (*tokenCache, error) {
	n := 1
	for n < 16 && size/(n*2) >= 32 {
		n *= 2
	}
	c := &tokenCache{seed: maphash.MakeSeed(), shards: make([]*lru.Cache[uint64, *cacheEntry], n)}
	per := (size + n - 1) / n
	for i := range c.shards {
		s, err := lru.New[uint64, *cacheEntry](per)
		if err != nil {
			return nil, err
		}
		c.shards[i] = s
	}
	return c, nil
}

func (c *tokenCache) hash(raw string) uint64 { return maphash.String(c.seed, raw) }

func (c *tokenCache) shard(h uint64) *lru.Cache[uint64, *cacheEntry] {
	return c.shards[(h>>32)%uint64(len(c.shards))]
}

// get returns the entry for raw, if one is cached for exactly this token.
func (c *tokenCache) get(h uint64, raw string) (*cacheEntry, bool) {
	e, ok := c.shard(h).Get(h)
	if !ok || !constantTimeEqual(e.raw, raw) {
		return nil, false
	}
	return e, true
}

// remove drops the entry for raw (only if it is raw's).
func (c *tokenCache) remove(h uint64, raw string) {
	s := c.shard(h)
	if e, ok := s.Peek(h); ok && constantTimeEqual(e.raw, raw) {
		s.Remove(h)
	}
}

// add caches e for raw, keeping a private copy of the token (so the entry
// does not pin the request's memory).
func (c *tokenCache) add(h uint64, raw string, e *cacheEntry) {
	e.raw = strings.Clone(raw)
	c.shard(h).Add(h, e)
}

// constantTimeEqual reports whether a == b, reading every byte whatever
// the contents (only the lengths are compared first, as
// crypto/subtle.ConstantTimeCompare does), eight bytes at a time.
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var acc uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		acc |= le64(a[i:i+8]) ^ le64(b[i:i+8])
	}
	for ; i < len(a); i++ {
		acc |= uint64(a[i] ^ b[i])
	}
	return acc == 0
}

// le64 reads 8 bytes of s as a little-endian word (the compiler merges the
// byte loads into one).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
