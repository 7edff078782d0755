// Package bench holds rptguard's end-to-end benchmarks. It has no API: every
// benchmark lives in a _test.go file and measures the full middleware path
// (Enforcer.Middleware(...).ServeHTTP with an httptest.ResponseRecorder, no
// network between client and middleware) against what a careful user
// writes by hand, in the same run.
//
// The baseline is golang-jwt's Parse with the same key and claim checks
// (RS256 only, iss, aud, exp required, iat, typ "Bearer") plus a prepared
// Rego query evaluated with rego.EvalInput(map) on every request, wrapped in
// an http.Handler that answers the same way.
//
// Every comparison is a pair of sub-benchmarks named rptguard and baseline,
// so the ratio reads from one run:
//
//	BenchmarkDecision/{warm|cold}/{p5|p50}/{rptguard|baseline}
//	BenchmarkDecisionParallel/{warm|cold}/{p5|p50}/{rptguard|baseline}
//	BenchmarkDecisionUserPolicy/{warm|cold}/{p5|p50}/{rptguard|baseline}
//	BenchmarkDecisionUserPolicy/warm/{p5|p50}/prebuilt
//	BenchmarkMatch/{t10|t10000}/{rptguard|baseline}
//	BenchmarkIntrospection/{warm|cold}/{rptguard|baseline}
//	BenchmarkUMA/{warm|cold}/{rptguard|baseline}
//
// warm: the token was seen before (verified-token and policy-value caches
// hit); cold: every request carries a token the enforcer has not cached
// (a pool of distinct tokens cycled through one-entry caches, so each
// request pays hashing, verification, conversion and cache insertion).
// p5 and p50 are RPTs with 5 and 50 permissions (≈ 2 KB and ≈ 8 KB). The
// clock is fixed, so tokens never expire during a run.
//
// BenchmarkDecisionUserPolicy loads user policies (deny rules in
// rptguard.user reading input.request and input.token; the path names
// rules.owner_only, which compares a path parameter with the token's
// preferred_username); its baseline evaluates the same Keycloak decision
// and rules. Its prebuilt sub-benchmark is the Rego floor: the query the
// engine evaluates for the user part, prepared with plain OPA over the same
// modules and evaluated on a prebuilt ast.Value input, with no HTTP, token
// or Go-side work (target: warm rptguard within 1.3× of it).
//
// run.sh runs them with -count and prints a table of medians and
// baseline/rptguard ratios (see the project README for the figures and the
// targets in DESIGN.md).
package bench
