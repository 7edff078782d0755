// Package clientauth authenticates an OAuth client to Keycloak's token and
// introspection endpoints. It is shared by the introspection and uma
// packages so both speak the same four methods:
//
//   - client_secret_basic: Authorization: Basic with the client id and secret
//     each application/x-www-form-urlencoded first (RFC 6749 §2.3.1), what
//     Keycloak adapters send for credentials {"secret": …};
//   - client_secret_post: client_id and client_secret form parameters;
//   - private_key_jwt: an RFC 7523 §2.2 client assertion signed with the
//     client's private key (Keycloak credentials {"jwt": …});
//   - client_secret_jwt: the same assertion MACed with the client secret
//     (Keycloak credentials {"secret-jwt": …}).
//
// plus none (a public client: client_id only). Every assertion is fresh:
// iss = sub = client id, aud, a random 128-bit jti, iat and exp (RFC 7523 §3,
// OpenID Connect Core §9).
//
// Secrets are held as [Secret], which redacts itself under fmt and slog;
// errors from this package never contain a secret or key material.
//
// This is an internal package: its API may change without notice.
//
// # Example
//
//	a, err := clientauth.New(clientauth.Config{
//		Method: clientauth.PrivateKeyJWT, ClientID: "orders-api",
//		PrivateKey: key, Audience: issuer,
//	})
//	…
//	form := url.Values{"grant_type": {"client_credentials"}}
//	authz, err := a.Apply(form, time.Now())
//	// POST form; set Authorization: authz when it is not empty.
package clientauth
