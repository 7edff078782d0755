// Package keycloak translates a Keycloak resource server's authorization
// settings (the ResourceServerRepresentation export, or
// clients[].authorizationSettings of a realm export) into Rego and data, so
// that the decisions Keycloak's UMA grant would make are made offline, from
// the access token, without a token-endpoint call per request.
//
// [Parse] reads and validates the export (SPEC §8.1–§8.2: JSON-in-string
// config values, names instead of ids, legacy forms); [Translate] produces a
// [Result]: three Rego v1 modules, a data document, enforcer paths derived
// from the resources' URIs, and warnings. [Result.Source] loads it into a
// [policies.Engine]; with [policies.Input].PermissionsSource set to
// [policies.PermissionsOffline], the engine's built-in decision checks the
// offline permission instead of the token's.
//
// # What is generated
//
//   - package rptguard.offline.policies: one rule per Keycloak policy or
//     permission, named after it (sanitized; the original name is in a
//     comment), true when the policy's effect is PERMIT. Role (realm and
//     client roles, required), user, client (azp), group (paths,
//     extendChildren, groupsClaim), client-scope, regex (Java patterns
//     checked and converted to RE2; constructs RE2 lacks are refused), time
//     (every field, in the time zone of [WithTimeZone], UTC by default),
//     aggregate; logic NEGATIVE; UNANIMOUS, AFFIRMATIVE and CONSENSUS.
//     Policies' constants are inlined (roles and users are membership
//     tests on the token).
//   - package rptguard.offline.resources: one rule per resource, named by
//     data.rptguard.offline.model.rules: Keycloak's DefaultPolicyEvaluator
//     and DecisionPermissionCollector for that resource and its scopes
//     (SPEC §8.3), including typed permissions, the resource server's
//     decisionStrategy and policyEnforcementMode. The permissions that
//     apply to the resource, its scopes, name and id are resolved at
//     translation: a decision evaluates only the permissions (and
//     policies) the request can reach, and never iterates over the model.
//   - package rptguard.offline (fixed): the entry point
//     data.rptguard.offline.permission: {rsid, rsname, scopes}, the
//     permission Keycloak's response_mode=permissions would return for
//     input.resource (its rule found by name, else by the export's _id) and
//     input.required_scopes (none: every scope of the resource), or
//     undefined; and the combination the resource rules share.
//   - package rptguard.offline.lib (fixed): helpers over input.token.
//
// # Example
//
//	s, err := keycloak.Parse(export, keycloak.WithClientID("orders-api"))
//	res, err := keycloak.Translate(s,
//		keycloak.WithPolicyMapping("Only Owner Policy", keycloak.MapRule("data.rptguard.rules.owner.is_owner")))
//	for _, w := range res.Warnings { log.Print(w) }
//	e, err := policies.New(ctx, policies.WithSources(res.Source(), policies.FromDir("policies/")))
//	d, err := e.Evaluate(ctx, policies.Input{
//		Resource: policies.Resource{ID: rsid, Name: "Orders"}, RequiredScopes: []string{"read"},
//		Token: tok, PermissionsSource: policies.PermissionsOffline})
//
// # Differences from Keycloak (all reported as warnings where they apply)
//
//   - Identity facts come from the token only: roles from realm_access and
//     resource_access (fetchRoles policies too), groups from the "groups"
//     claim (or groupsClaim; Keycloak also requires database membership),
//     users by preferred_username (and sub when a realm export gives ids).
//     Tokens must carry these claims (Keycloak's default mappers, plus a
//     group membership mapper with full paths for group policies).
//   - Regex policies on context attributes read input.claims (the claims
//     resolved for the request); Java's '.' also excludes \r and other line
//     terminators, RE2's only \n.
//   - "Now" is the engine's clock ([policies.WithClock]), never the
//     kc.time.date_time attribute a client could push (CVE-2026-18572).
//   - Resources are treated as owned by the resource server: typed-parent
//     permissions of user-owned resources and uma policies are not
//     reproduced; a resource the export does not have is never granted.
//   - Requesting only scopes the resource does not have grants nothing.
//   - JavaScript, script-* and uma policies cannot be evaluated offline:
//     [Translate] fails naming them unless each is mapped with
//     [WithPolicyMapping] to allow, deny or a Rego rule of the caller's.
//
// # Security
//
// Translation is deterministic and reads nothing but the export; generated
// Rego only reads input and the data it ships. String values from the export
// reach Rego only as JSON string literals and comments only as quoted
// strings. Errors name policies, never token contents.
//
// Specifications: the project's keycloak/SPEC.md §8 (authorization settings
// and evaluation), §1.3/§1.6 (paths); OPA Rego v1.
package keycloak
