// Package keycloaktest runs a Keycloak-compatible authorization server on
// net/http/httptest, for tests (rptguard's own and its users') and local
// development. It speaks Keycloak 26's wire formats for one realm:
//
//   - GET  /realms/{realm}/.well-known/openid-configuration and
//     /.well-known/uma2-configuration (UMA 2.0 Grant §3; Keycloak's
//     UmaConfiguration fields);
//   - GET  …/protocol/openid-connect/certs: the realm's JWKS (RFC 7517),
//     RS256 by default, PS256, ES256 or EdDSA selectable, with rotation;
//   - POST …/protocol/openid-connect/token: client_credentials, password,
//     refresh_token and the UMA grant urn:ietf:params:oauth:grant-type:uma-ticket
//     (ticket, permission, audience, rpt upgrade, claim_token, subject_token,
//     response_mode, …) with Keycloak's error bodies (RFC 6749 §5.2);
//   - POST …/protocol/openid-connect/token/introspect (RFC 7662), with
//     Keycloak's RPT shape for token_type_hint=requesting_party_token;
//   - client authentication at both: client_secret_basic (RFC 6749 §2.3.1),
//     client_secret_post, and RFC 7523 client assertions — private_key_jwt
//     against [Client.PublicKey] (or [WithResourceServerKey]) and
//     client_secret_jwt against the secret — checking signature,
//     iss = sub = client id, aud (realm issuer or token endpoint), exp and a
//     single use of jti. A rejected assertion gets Keycloak's 400
//     invalid_client at the token endpoint and 401 invalid_request
//     "Authentication failed." at the introspection endpoint;
//   - POST …/authz/protection/permission (permission tickets, UMA
//     Federated Authorization §4) and …/authz/protection/resource_set[/{id}]
//     (resource registration, including Keycloak's matchingUri search).
//
// The Keycloak behaviours copied here are described in the project's
// keycloak/SPEC.md (§2.2–§2.4 path matching, §4 tokens and introspection,
// §5 UMA grant, §6 discovery and Protection API). Grant decisions come from
// an [Evaluator]; the default is an in-memory grant table ([Grant]).
//
// # Fixture
//
// Without options the realm is "rptguard" with the confidential
// resource-server client "rptguard-api" (secret "secret", Authorization
// enabled, service account with uma_protection), users alice/alice (realm
// role "user") and bob/bob (roles "user", "admin"), and no resources or
// grants.
//
// # Example
//
//	func TestOrders(t *testing.T) {
//		kc := keycloaktest.New(t,
//			keycloaktest.WithResource(keycloaktest.Resource{
//				Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"orders:read"}}),
//			keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders"}),
//		)
//		// Tokens exactly as the server issues them:
//		rpt := kc.IssueRPT("alice", rpt.Permission{
//			ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"orders:read"}})
//		expired := kc.AccessToken("alice", keycloaktest.WithLifetime(-time.Minute))
//		forged := kc.SignToken(map[string]any{"sub": "x"}, keycloaktest.WithForeignKey())
//
//		// Point the code under test at kc.URL() / kc.Realm() (or kc.Issuer())
//		// and use kc.HTTPClient(); then inspect what it did:
//		_ = kc.Requests(keycloaktest.EndpointToken)          // outbound UMA grants
//		_ = kc.LastRequest(keycloaktest.EndpointToken).Form   // the exact form sent
//
//		// Failure injection:
//		kc.Fail(keycloaktest.EndpointIntrospection, http.StatusBadGateway)
//		kc.RespondWithHeaders(keycloaktest.EndpointToken, http.StatusServiceUnavailable,
//			http.Header{"Retry-After": {"30"}}, "application/json", `{"error":"temporarily_unavailable"}`)
//		kc.Hang(keycloaktest.EndpointJWKS) // until the request ctx ends
//		kc.SetReady(false)                 // 503 everywhere
//		kc.Heal("")
//		kc.SetReady(true)
//		kc.Revoke(rpt) // introspection now says {"active":false}
//	}
//
// # Concurrency and security
//
// A [Server] is safe for concurrent use; counters are atomic. Knobs apply to
// requests that arrive after the call. Every secret and key is a test value
// (the first RSA keys of each process come from a pool embedded in the
// package, never shared between two servers of one process): never use this
// package to protect anything real.
package keycloaktest
