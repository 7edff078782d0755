// Package enforcer is rptguard's policy enforcement point: a Keycloak
// policy-enforcer compatible configuration, path matching, claim information
// points and the decision pipeline behind net/http middleware.
//
// # Configuration
//
// [Config] is Keycloak's policy-enforcer JSON (keycloak-client
// PolicyEnforcerConfig, as described in the Keycloak securing-apps guide
// "Policy enforcers"), so an existing policy-enforcer.json, or a legacy
// keycloak.json with a "policy-enforcer" object, loads unchanged with
// [LoadConfig] or [ParseConfig]. rptguard's own settings live under the
// extension key "rptguard", globally ([Settings]) and per path
// ([PathSettings]); Keycloak ignores them.
//
// Differences from Keycloak's Jackson parser, all deliberate:
//   - Unknown Keycloak keys are tolerated (Jackson fails); [ParseConfigStrict]
//     reports them. Keys inside "rptguard" objects are always strict.
//   - Duplicate keys, and keys that differ only in case from a known key, are
//     errors (Go's decoder would silently apply "Enforcement-Mode").
//   - Validation is stricter: path templates, upper-case method tokens, enum
//     spellings (a misspelled enforcement-mode is an error, never a fallback),
//     cache ranges, a relative on-deny-redirect-to without backslashes or
//     control characters, https (or loopback http) server and CIP URLs, and
//     compiled claim templates. Errors are [*ConfigError] values naming the
//     field, for example paths[3].methods[0].scopes-enforcement-mode, and
//     match [ErrInvalidConfig].
//   - Paths listed twice are merged as Keycloak does (methods and scopes
//     appended), but entries disagreeing on enforcement-mode, claim
//     information point or rptguard settings are rejected.
//
// # Claim information points
//
// Claim information points (the "claim-information-point" objects,
// global and per path) push request data to the authorization server and to
// policies. The built-in "claims" provider resolves templates such as
// "{request.parameter['a']}", "{request.header['b']}",
// "{request.body['/a/b']}" (RFC 6901 JSON Pointer) and
// "{keycloak.access_token['/sub']}" (a pointer into the verified token
// claims); the "http" provider calls a service and maps its JSON answer.
// Global claims are resolved first, then the path's, which replace claims of
// the same name.
//
// Claims are attacker-controlled input (security catalogue E10): they are
// capped in number, values and size, must be UTF-8, and never become
// identity. A template that needs the request body reads it up to
// [Settings.MaxBodyBytes] (default 1 MiB) and restores it for the handler;
// a larger or unreadable body is refused ([ErrBodyTooLarge] → 413,
// [ErrBodyUnreadable] → 400), never evaluated truncated (C13). Substitution
// is literal, unlike Keycloak's regular-expression replacement.
//
// # Enforcement
//
// [New] builds an [Enforcer] from a Config; [Enforcer.Middleware] protects
// net/http handlers and [Enforcer.Decide] runs the same pipeline without
// HTTP. The pipeline, the HTTP statuses and the deliberate differences from
// Keycloak's enforcer are documented on [Enforcer].
//
// # Tenants
//
// [Tenants] serves several realms or resource servers in one process, one
// [Enforcer] each (own keys, verifiers and caches), chosen by the token's
// issuer ([ByIssuer]; the unverified iss only selects the tenant, which then
// verifies fully) or by request ([ByRequest]).
//
// # Outages
//
// rptguard.on-outage "deny" (default) answers 503 when the authorization
// server is unreachable. "stale-ok" with max-staleness reuses, for the same
// token, the last good answer observed at most max-staleness ago: an
// introspection or hybrid verification (only if the token is before its exp
// and passes local signature and claim verification now; local mode has
// nothing to reuse), or the RPT of the UMA exchange for the same token,
// resource, scopes and pushed claims (while the RPT and the token are before
// their exp; the policy runs again). A negative verdict drops the stale
// answer at once. Such decisions have [Decision.Stale].
//
// # Decision log
//
// [WithDecisionLog] emits every decision in OPA's decision-log event format
// ([DecisionLogEvent]) with a masked input: never the token or the
// Authorization header, and only allow-listed claims of a verified token.
//
// # Example
//
//	cfg, err := enforcer.LoadConfig("policy-enforcer.json")
//	if errors.Is(err, enforcer.ErrInvalidConfig) {
//		log.Fatal(err) // names the field, e.g. paths[0].methods[0].method
//	}
package enforcer
