// Package e2e holds rptguard's end-to-end proof: the whole enforcer as a
// user runs it (keycloaktest as the authorization server, enforcer.New,
// Enforcer.Middleware in front of a handler over real HTTP) attacked with
// every group of the project's security catalogue (security.md (a)–(i):
// RFC 6750, RFC 7515–7519, RFC 7662, RFC 8725, RFC 9110/9112, UMA 2.0 Grant,
// Keycloak's policy enforcer), driven through the fault knobs of keycloaktest
// (JWKS, introspection, UMA token endpoint, Protection API, start-up), soaked
// with 100,000 requests to prove that caches stay bounded and goroutines end,
// and run concurrently with policy reloads and key rotation under the race
// detector.
//
// The package has no API: everything lives in its _test.go files, one file
// per catalogue group (attack_a_token_test.go … attack_i_leaks_test.go),
// faults_test.go, soak_test.go and concurrency_test.go. Each attack row
// asserts the response contract of security.md (status, the exact
// WWW-Authenticate challenge, Allow, Retry-After), that the protected
// handler was not reached on a denial, and that no token or secret appears
// in the response (I1–I4). Where rptguard deliberately differs from the
// catalogue, the row says so and asserts what rptguard does.
//
// Run it with
//
//	go test -race ./e2e/
//
// The whole package is budgeted at 90 s under -race on two cores; the soak
// scales its counts down under the race detector (see soak_test.go).
package e2e
