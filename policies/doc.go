// Package policies evaluates authorization decisions in Rego (Open Policy
// Agent, OPA v1). It is the only package of rptguard that imports OPA, and
// no OPA type appears in its API.
//
// An [Engine] compiles, once, a built-in library that reproduces Keycloak's
// policy enforcer decision (isAuthorized, Keycloak SPEC §3.3; the
// AuthorizationContext helpers of §3.7) together with the user's policies,
// from files, directories, an [io/fs.FS] (embed) or OPA bundles (directory
// or .tar.gz, read by OPA's bundle loader). [Engine.Evaluate] then decides an
// [Input] into a [Decision].
//
// # Example
//
//	e, err := policies.New(ctx, policies.WithSources(policies.FromDir("policies/")))
//	tok, err := policies.NewTokenValue(claims) // once per verified token; cache it
//	d, err := e.Evaluate(ctx, policies.Input{
//		Request:        policies.Request{Method: "GET", Path: "/orders/7", PathParams: map[string]string{"id": "7"}},
//		Resource:       policies.Resource{ID: rsid, Name: "Orders"},
//		RequiredScopes: []string{"orders:read"},
//		Token:          tok,
//		Rule:           "rules.owner_only", // optional
//	})
//
// # The decision
//
// data.rptguard.authz.allow (package rptguard.authz, built in) is true when
//
//  1. Keycloak's isAuthorized grants: the token is an RPT (has an
//     authorization claim), and the FIRST permission in token order that
//     is either on the path's resource (for an instance path, the instance
//     itself: a permission on input.resource.parent_id does not grant it)
//     or scope-only (no rsid), and whose scopes satisfy required_scopes under
//     scopes_mode (empty scopes = every scope; ALL, ANY, DISABLED), is
//     scope-only or has claims matching input.claims; or, when no such
//     permission exists, the path is PERMISSIVE and the token holds no
//     permission at all on the resource or its parent. The first-match rule,
//     including "a claims mismatch denies even if a later permission would
//     match", is Keycloak's and is kept on purpose so that decisions agree
//     with Keycloak's enforcers;
//  2. no user deny rule produced a reason; and
//  3. the rule the path names (input.rule), if any, is exactly true.
//
// With [PermissionsOffline] (input.permissions_source "offline"), step 1
// uses the permission data.rptguard.offline.permission instead of the
// token's: the one Keycloak's own policies grant for the request, generated
// from an authorization settings export by package policies/keycloak and
// loaded as a source. Its scopes must satisfy required_scopes under
// scopes_mode; a PERMISSIVE path is granted when it yields none; no RPT is
// needed. Its time policies read the engine's clock ([WithClock]).
//
// The default is false, and an undefined result, an evaluation error, a
// cancelled ctx or a recovered panic all deny. On deny, the engine evaluates
// data.rptguard.authz.decision ({allow, reasons, matched_permission}) for
// the reasons.
//
// # User policies
//
// Policies are Rego v1, compiled in strict mode and type-checked against the
// input schema ([InputSchema], schema/input.json): a typo such as
// input.toekn fails at load time with [ErrCompile]. Test files (*_test.rego)
// in directories and bundles are skipped.
//
//   - Deny rules: `deny contains reason if { … }` in package rptguard.user or
//     in any package directly under rptguard.rules (rptguard.rules.tenant).
//     Every reason denies and is reported in [Decision.Reasons]; non-string
//     reasons are reported as JSON. deny must be a partial set rule, and a
//     deny rule in another rptguard.* package is rejected (it would never be
//     consulted).
//   - Named rules: a path may name a rule (the enforcer's configuration
//     extension; [Input.Rule]) as "rules.<name>" for data.rptguard.rules.<name>
//     or "rules.<pkg>.<name>" for data.rptguard.rules.<pkg>.<name>; it must
//     evaluate to true. [Engine.HasRule] validates names at start-up.
//     Tip: deny rules are evaluated on every request; keep named rules that
//     apply to few paths in their own packages under rptguard.rules.
//   - Helpers: import data.rptguard.keycloak for has_permission(resource,
//     scope) (Keycloak's AuthorizationContext.hasPermission: id or name,
//     case-insensitive), allows_scope, has_resource_permission,
//     has_scope_permission, permissions_for, granted_scopes, has_all_scopes,
//     has_any_scope, has_realm_role, has_any_realm_role, has_all_realm_roles,
//     realm_roles, has_client_role, client_roles, groups, in_group, subject,
//     username, claim, claim_equals, claim_contains, request_claim,
//     request_claim_has, and the decision's own scopes_satisfied and
//     claims_valid.
//   - Packages rptguard, rptguard.authz and rptguard.keycloak (and data
//     under data.rptguard.authz or data.rptguard.keycloak) are reserved.
//
// # The input document
//
//	{
//	  "request": {
//	    "method": "GET",
//	    "path": "/orders/7",              // canonical path (matched and authorized)
//	    "raw_path": "/orders/%37",        // as received
//	    "path_params": {"id": "7"},
//	    "query": {"q": ["x"]},
//	    "headers": {"x-tenant": ["acme"]}, // selected headers, lower-case names
//	    "remote_addr": "10.0.0.7:51234"
//	  },
//	  "resource": {"id": "…", "name": "Orders", "type": "urn:app:order", "uris": ["/orders/*"],
//	               "owner": "…", "template": "/orders/{id}", "parent_id": ""},
//	  "required_scopes": ["orders:read"],
//	  "scopes_mode": "ALL",                // ALL | ANY | DISABLED
//	  "enforcement_mode": "ENFORCING",     // ENFORCING | PERMISSIVE | DISABLED
//	  "token": {"sub": "…", "preferred_username": "alice", "realm_access": {"roles": […]}, …},
//	  "has_authorization": true,           // the token is an RPT
//	  "permissions": [{"index": 0, "rsid": "…", "rsname": "Orders", "scopes": ["orders:read"],
//	                   "claims": {"amount": ["50"]}}],  // claims only when granted for claims
//	  "permissions_by_resource": {"<rsid>": [<the permissions on rsid, token order>]},
//	  "scope_permissions": [<the permissions without rsid, token order>],
//	  "claims": {"amount": ["50"]},        // claim information points
//	  "rule": "rules.owner_only",          // "" when the path names none
//	  "permissions_source": "token"        // token | offline (policies/keycloak)
//	}
//
// Every key is always present (empty strings, arrays and objects when
// unset). Permissions whose own exp has passed are left out.
//
// # Performance
//
// [NewTokenValue] indexes a verified token's permissions by resource once;
// the built-in Keycloak part of allow (keycloak_granted, which depends on
// the input alone) is computed from that index in Go, rule for rule as in
// rptguard.authz (a randomized test checks that both agree). Without user
// modules or data an allow then costs no OPA evaluation and no allocation;
// with them, the user part (deny rules, the named rule) is one prepared
// query. The input is built directly as an OPA value (no JSON, no
// reflection), the token's part once per token and only when Rego needs it;
// a deny evaluates the decision object for its reasons
// ([Engine.EvaluateAllow] skips them). Offline permissions come from one
// prepared query for data.rptguard.offline.permission, whose scopes are
// then checked in Go as scopes_satisfied does (with user rules loaded, the
// whole allow rule runs in Rego). [Engine.EvaluateUserRules] evaluates the
// user part alone. Evaluation takes no goroutine and no metrics.
// [Engine.EvaluateExplain] evaluates everything in Rego with a trace and
// costs several times more.
//
// # Security
//
// Builtins that reach the network or the host (http.send,
// net.lookup_ip_addr, opa.runtime; [RestrictedBuiltins]) are not available
// to policies unless [WithInsecureBuiltins] names them; the compiler may not
// fetch remote schemas. Builtin errors are errors (strict builtin errors), so
// a failing deny rule denies instead of silently not firing. Request data
// reaches policies only through input, never through query text. Errors keep
// OPA's error code and the policy location, never messages that may quote
// input values; [Decision.Trace] does contain input values and is for
// operators only. Bundle signatures are not verified by this package.
//
// Specifications: Keycloak policy enforcer and Authorization Services (the
// project's keycloak/SPEC.md §3.3, §3.7), OPA Rego v1, OPA bundle format.
package policies
