// Package rpt verifies Keycloak access tokens and Requesting Party Tokens
// (RPTs) locally and owns the token model ([Claims], [Permission],
// [Authorization]) shared by the introspection, uma, policies and enforcer
// packages.
//
// Specifications: RFC 7519 (JWT), RFC 7515 (JWS, compact serialization
// only), RFC 7517 (JWK/JWKS), RFC 7518 (algorithms), RFC 8725 (JWT best
// current practices), RFC 9068 (typ "at+jwt"), OpenID Connect Discovery 1.0
// and Keycloak's RPT format (an access token with an
// "authorization":{"permissions":[{"rsid","rsname","scopes","claims"}]}
// claim, UMA 2.0 / Keycloak Authorization Services).
//
// # What Verify checks
//
// In this order, failing closed at the first problem: the token size cap
// (default 16 KiB) before any parsing; the base64url alphabet and exactly
// three non-empty segments in one linear scan; the verified-token cache;
// strict unpadded base64url; a strict JSON header (no duplicate or
// case-variant names); alg on the configured allow-list (exact match;
// default RS256; "none" and HS* never); no crit, b64, cty, enc or zip
// header; typ header in the accepted set; kid a string of at most 256
// bytes used only as an exact map key. The key comes only from the
// configured JWKS (jwk, jku, x5u, x5c and x5t headers are ignored and cause
// no request); the alg must fit the key (kty, crv and the JWK's alg).
// The signature is verified over the original signing input with
// golang-jwt's SigningMethod, and a failure ends checking at once, never
// joined with a claim error (CVE-2024-51744). Then [ClaimRules]: iss exact,
// aud, optional azp allow-list, Keycloak typ claim "Bearer", exp required
// (exp == now is expired), nbf, iat required and not in the future, maximum
// lifetime exp − iat, sub required; leeway 60 s by default. golang-jwt's own
// claim validation is not used.
//
// # Keys
//
// The key set is fetched at [New] (which fails if it cannot be loaded),
// refreshed every 5 minutes, and re-fetched on an unknown kid at most once
// per 10 s with a single fetch in flight that concurrent requests join
// (bounded to 2 s). A failed, empty, truncated or non-JSON response never
// replaces the last good set; a set not refreshed for 10 minutes is no
// longer used and Verify returns [ErrUnavailable]. Keys are checked when
// loaded: RSA 2048-8192 bits with an odd exponent ≥ 3 that fits 31 bits, EC
// points on their curve with a matching crv, Ed25519; use "enc", key_ops
// without "verify", unsupported or broken keys are skipped, and keys sharing
// a kid that could verify the same algorithm are dropped. See keyset.go for
// why this wraps jwkset instead of using keyfunc.
//
// # Cache
//
// Verified tokens are cached in a bounded, sharded LRU. An entry is looked
// up by a 64-bit hash of the whole token keyed with a per-process random
// seed (hash/maphash: about 1 µs for an 8 KB token, where SHA-256 costs
// about 7 µs) and returned only if the token stored in it equals the
// presented one in full (a comparison that reads every byte whatever the
// contents): a hash collision, accidental or crafted, can only cost a miss,
// never serve one token's claims for another. An entry expires at min(exp,
// verification time + CacheTTL),
// checked against the injected clock on every read; an entry whose key left
// the key set is dropped. Failures are never cached. Measured heap per
// entry (TestCacheEntrySize, go1.26 amd64): about 8 KiB for a 1.7 KB RPT
// with 5 permissions and about 48 KiB for an 8 KB RPT with 50; the decoded
// claim set (Claims.Raw and the permission slices) dominates; each entry
// also keeps a copy of its token (the 1.7 or 8 KB above, included in those
// figures). The default of 1000 entries therefore bounds the cache at
// roughly 8-48 MiB.
//
// # Example
//
//	v, err := rpt.New(ctx, rpt.Config{ClaimRules: rpt.ClaimRules{
//		Issuer:   "https://kc.example.com/realms/shop",
//		Audience: []string{"orders-api"},
//	}})
//	if err != nil { … }
//	defer v.Close()
//	claims, err := v.Verify(ctx, bearer)
//	switch {
//	case errors.Is(err, rpt.ErrUnavailable): // 503
//	case errors.Is(err, rpt.ErrInvalidToken): // 401
//	}
//	for _, p := range claims.Permissions() { … }
package rpt
