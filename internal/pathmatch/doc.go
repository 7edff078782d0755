// Package pathmatch holds the two pure, hot-path pieces of the enforcer's
// path handling: canonicalization of the raw request target and a compiled
// matcher that picks the configured path template exactly as Keycloak's
// PathMatcher does.
//
// Specifications: Keycloak behaviour notes (SPEC.md §2.1–§2.5: normalization
// since CVE-2026-15573, pattern syntax, PathMatcher.matches), the security
// catalogue (security.md group (f) and §3 "Path normalization"), RFC 3986
// (§2.4, §5.2.4, §6.2.2), RFC 9110 §9.1 and RFC 9112 §3.2.
//
// # Canonicalization
//
// [Canonicalize] takes the raw request target (r.RequestURI, never
// r.URL.Path, which Go has already decoded and which keeps "#frag") and
// returns a [Canonical]: Path (the only string to match, cache and hand to
// policies), Decoded and RawPath (what r.URL.Path and r.URL.RawPath must
// become; [Canonical.Apply] writes them) and Raw (audit only). Errors match
// [ErrBadRequest] (→ 400) or [ErrTooLong] (→ 414) and never echo the path.
//
// [ModeStrict] (default) follows security.md §3 steps 2–10: origin-form only,
// any '#' refused, the query split off at the first '?', at most 8 KiB and
// 256 segments, only pchar/'/'/'%' raw (no ';', '\', controls, non-ASCII),
// exactly one percent-decoding pass (unreserved decoded; %2E, %2F, %5C, %25,
// %3B, %00–%1F, %7F refused; other encodings kept with upper-case hex;
// encoded high bytes must be shortest-form UTF-8 and not C1 controls or
// U+2028/U+2029), empty/"."/".." segments refused, one trailing slash
// stripped, no case folding. The output is the escaped form.
//
// [ModeKeycloak] reproduces Keycloak 26.x PathMatcher.normalizeUri (SPEC
// §2.2): cut at the first '?' or '#', strip matrix parameters per segment,
// merge slashes, resolve dot segments on the encoded path, decode once,
// strip matrix parameters and merge slashes again, resolve the dot segments
// decoding revealed, drop one trailing slash. The output is decoded (as are
// Keycloak's templates: "/api/search?foo"), so the enforcer must rewrite the
// request with Apply: the handler then sees the path that was authorized.
// Where Keycloak returns "no match" (unparsable), this returns ErrBadRequest.
// Divergences in Keycloak mode, all hardening (ErrBadRequest instead of a
// match): raw non-ASCII bytes (Java accepts them as "other" characters);
// decoded bytes that are not valid UTF-8 (Java substitutes U+FFFD); decoded
// control characters, C1 controls, U+2028/U+2029 and backslashes; a ".." left
// above the root ("/../x", which java.net.URI keeps and Keycloak would match
// against broad wildcards); absolute URIs ("https://host/x": enforcers only
// pass paths). A value that starts with "//" and contains "://" is checked as
// a path, not as an authority.
//
// [CheckMethod], [HasMethodOverride] and [EffectiveMethod] implement
// security.md §3 step 1: upper-case RFC 9110 tokens only; X-HTTP-Method-
// Override, X-HTTP-Method, X-Method-Override and a "_method" query parameter
// are refused unless overrides are enabled; HEAD is authorized as GET.
//
// # Templates and precedence
//
// Templates (SPEC §2.3) are validated by [ValidateTemplate] (also for the
// configuration loader) and compiled by [Compile]: literal paths, "/x/*"
// (matches "/x", "/x/" and everything below, at segment boundaries only),
// "/*.ext" suffix patterns, whole-segment placeholders "{name}" (one
// non-empty segment) and placeholders followed by "/*" ("/x/{id}/*" matches
// "/x/1" but not "/x"). Templates must already be canonical for the mode;
// partial placeholders ("{id}.json"), mid-path '*', empty extensions and
// bad braces are configuration errors (Keycloak only warns and matches them
// "for legacy compatibility").
//
// [Matcher.Match] picks, for a canonical path, in this order:
//
//  1. exact: the path equals a literal template, or the base of a trailing
//     wildcard ("/x/*" for "/x", "/*" for "/"); the first in configuration
//     order wins ("/api/*" before "/api" wins for "/api", as in Keycloak);
//  2. a template whose placeholders match every segment: fewest placeholders,
//     then configuration order (all candidates have the path's segment count);
//  3. a suffix pattern whose extension ends the path — the LAST one in
//     configuration order, as Keycloak keeps overwriting its candidate.
//     Quirk reproduced: the directory part is ignored ("/file/*.suffix"
//     matches "/other/x.suffix"), and a path equal to the directory part is an
//     exact match when it ends with the extension ("/a.json" for
//     "/a.json/*.json");
//  4. a trailing wildcard: most segments, then fewest placeholders (a literal
//     prefix beats a placeholder), then configuration order.
//
// A template listed twice counts at its first position (Keycloak's paths are
// a map keyed by path). Placeholders are returned as byte spans of the path
// in [Result]; values are not decoded separately (the path already is, in
// Keycloak mode, or is the canonical escaped form, in strict mode).
//
// Divergences from Keycloak's matcher. (1) Order dependence: Keycloak's loop
// accepts a template only if it has more segments OR fewer braces than the
// best so far, which is not a total order, so the answer can depend on the
// configuration order (SPEC §2.4: ["/a/{x}/*", "/{p}/{q}/c"] gives
// "/a/{x}/*" for "/a/b/c", reversed "/{p}/{q}/c"; an exact literal can also
// lose to a later template). We always answer what Keycloak answers when the
// paths are ordered: literals, wildcards and suffixes first, then full
// templates, then placeholder wildcards, fewer placeholders first, otherwise
// configuration order — so whenever Keycloak's answer does not depend on the
// order, ours is identical (checked by a property test and a fuzz target
// against a line-by-line port of PathMatcher, which is also the benchmark
// baseline). (2) Request paths that contain '*', '{' or '}' are matched as
// data; Keycloak builds strings from them and may read them as pattern
// syntax. (3) Templates Keycloak would only warn about are refused.
//
// # Performance contract
//
// Canonicalize allocates nothing when the raw path is already canonical (and
// nothing on rejection); otherwise one or two strings. Compile builds a hash
// map of exact paths, a segment trie (literal children in a map, one
// placeholder child per node) and a map of extensions. Match does one hash
// lookup for exact paths, then one walk of the trie, and never allocates
// (Result is a value with a fixed array of [MaxParams] spans). The time is
// linear in the path length and independent of the number of templates for
// any configuration in which, at each depth, the path can follow at most a
// bounded number of literal/placeholder alternatives; the worst case is
// bounded by the number of trie nodes whose literal segments occur in the
// path. The suffix check costs O(longest extension²) bytes at most.
//
// Everything in this package is safe for concurrent use; a [Matcher] is
// immutable after Compile.
package pathmatch
