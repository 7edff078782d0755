// Package introspection is an OAuth 2.0 Token Introspection (RFC 7662)
// client for Keycloak requesting party tokens (RPTs, UMA 2.0) and access
// tokens, plus a Hybrid verifier that combines local JWT verification with
// introspection for revocation.
//
// # Protocol
//
// [Client] POSTs application/x-www-form-urlencoded
// token=<rpt>&token_type_hint=requesting_party_token to the realm's
// …/protocol/openid-connect/token/introspect endpoint, the token in the body
// and never in the URL (RFC 7662 §2.1). It authenticates as the resource
// server with client_secret_basic (id and secret form-urlencoded before the
// Basic encoding, RFC 6749 §2.3.1), client_secret_post, or an RFC 7523 client
// assertion (private_key_jwt, client_secret_jwt). Redirects are not
// followed, every call has a timeout, and the response is capped (64 KiB by
// default). Only https endpoints are accepted unless
// Config.InsecureAllowHTTP is set.
//
// Keycloak answers an active RPT with jti, typ, exp, iat, nbf, aud and a
// "permissions" array whose entries carry rsid, rsname, scopes and the UMA
// aliases resource_id and resource_scopes; the Client folds these into
// [rpt.Claims] with the permissions under Authorization, so callers see the
// same model as local verification. The same claim rules run on the answer
// as on a locally verified token (exp, nbf, iss, aud, azp; Keycloak "typ":
// refresh and ID tokens are rejected even when the server calls them active).
//
// # Failing closed
//
// A 200 application/json answer whose strictly decoded body has "active":
// false is [ErrInactive] (which matches rpt.ErrInvalidToken: answer 401).
// Everything else that is not a well-formed answer — "active" missing, null,
// a string or a number, duplicate keys, trailing data, HTML, a wrong content
// type, an oversized body, a 5xx, a timeout, a refused connection — is
// [ErrUnavailable] (answer 503), never "inactive" and never "active". The
// server rejecting our own client authentication (401/403, or 400
// invalid_client as Keycloak's token endpoint answers a bad assertion) is
// [ErrClientAuth], which also matches ErrUnavailable and is logged as an
// operator error. Errors and log lines never contain the token, the client
// secret or the authorization server's response body.
//
// # Caching and revocation
//
// Answers are cached in a bounded LRU keyed by SHA-256 of the token, the
// endpoint and the client id. An active answer is reused until
// min(Config.CacheTTL, exp − now) (60 s by default), an inactive one for
// Config.NegativeCacheTTL (5 s), a failure for Config.ErrorBackoff (1 s).
// Concurrent calls for one uncached token collapse into a single request;
// each caller still honours its own context. This is the trade-off RFC 7662
// §4 describes: a revoked token is accepted for at most the positive TTL.
// Choose a shorter Config.CacheTTL (or a negative one to disable it), or
// [Hybrid] with [OnDemand] freshness on sensitive paths, when revocation must
// take effect sooner. The cache holds token metadata only; authorization
// decisions are made again for every request.
//
// # Hybrid verification
//
// [Hybrid] runs a local verifier (normally rpt.Verifier) first, so forged or
// expired tokens are rejected without a network call, and then introspects
// for revocation under a [Policy]: [Always], [Interval] or [OnDemand]
// (requested per call with [Hybrid.VerifyFresh] or
// [WithFreshIntrospection]).
//
// # Example
//
//	c, err := introspection.New(introspection.Config{
//		Endpoint:     "https://kc.example.com/realms/acme/protocol/openid-connect/token/introspect",
//		ClientID:     "orders-api",
//		ClientSecret: os.Getenv("ORDERS_API_SECRET"),
//		Rules:        rpt.ClaimRules{Issuer: "https://kc.example.com/realms/acme", Audience: []string{"orders-api"}},
//	})
//	…
//	claims, err := c.Verify(ctx, rawRPT)
//	switch {
//	case errors.Is(err, rpt.ErrInvalidToken): // 401
//	case errors.Is(err, introspection.ErrUnavailable): // 503
//	}
package introspection
