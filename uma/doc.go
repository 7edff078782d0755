// Package uma is a UMA 2.0 client for Keycloak Authorization Services.
//
// A [Client] serves one realm and one resource server (client). It covers:
//
//   - discovery of the realm's endpoints from
//     {auth-server-url}/realms/{realm}/.well-known/uma2-configuration (issuer
//     checked), or explicit endpoints;
//   - the Protection API token (PAT): client_credentials, reused until
//     shortly before expiry, fetched once for any number of concurrent
//     callers, re-fetched once when a Protection API call answers 401;
//   - permission tickets ([Client.CreateTicket]) and the
//     "WWW-Authenticate: UMA" challenge ([BuildChallenge], [ParseChallenge],
//     [Client.Challenge]);
//   - the UMA grant at the token endpoint with every Keycloak parameter
//     ([GrantRequest], [Client.Grant], [Client.RequestRPT],
//     [Client.RequestDecision], [Client.RequestPermissions]); RPTs received
//     are verified (signature and claims) by a [Verifier], never trusted
//     blindly;
//   - a cached, single-flight RPT exchange for enforcers ([Client.Exchange]);
//   - the resource_set Protection API ([Resources]).
//
// Specifications: UMA 2.0 Grant for OAuth 2.0 Authorization (Kantara),
// Federated Authorization for UMA 2.0 (permission endpoint, resource
// registration), RFC 6749 (client authentication §2.3.1, error responses
// §5.2), RFC 7523 §2.2 (client assertions: private_key_jwt and
// client_secret_jwt, see [AuthMethod]), RFC 9110 §11 (WWW-Authenticate syntax), and Keycloak's behaviour as
// described in the project's SPEC §3.5–§3.6, §5 and §6.
//
// # Errors
//
// Error answers of the authorization server come back as [*Error] (status,
// RFC 6749 code, description, URI) and match sentinels with errors.Is
// ([ErrAccessDenied], [ErrRequestSubmitted], [ErrInvalidTicket],
// [ErrInvalidGrant], [ErrNeedInfo], [ErrInvalidClient], …). Transport
// failures, timeouts, 5xx and malformed answers match [ErrUnavailable]: map
// them to 503, never to "allow". Error texts never contain tokens, secrets
// or the server's error_description; the description is kept in the
// [Error.Description] field for logs and must not be shown to end users.
//
// # Example
//
//	c, err := uma.New(ctx, uma.Config{
//		AuthServerURL: "https://kc.example.com", Realm: "shop",
//		ClientID: "orders-api", Credentials: uma.Credentials{Secret: secret},
//	})
//	if err != nil { … }
//	defer c.Close()
//	rpt, err := c.Exchange(ctx, uma.ExchangeRequest{
//		SubjectToken: userToken,
//		Permissions:  []uma.Permission{{Resource: "Orders", Scopes: []string{"view"}}},
//	})
//	switch {
//	case errors.Is(err, uma.ErrAccessDenied): // 403
//	case errors.Is(err, uma.ErrUnavailable): // 503
//	case err != nil: // 403 as well: no RPT
//	}
//	_ = rpt.Claims.Permissions()
package uma
