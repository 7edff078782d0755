# Package rptguard.offline evaluates a Keycloak resource server's
# permissions offline, without a UMA round trip (policies/keycloak). It
# reproduces Keycloak's DefaultPolicyEvaluator and DecisionPermissionCollector
# (SPEC §8.3) for one requested resource and its scopes:
#
#   permission  {rsid, rsname, scopes}: what Keycloak's UMA grant with
#               response_mode=permissions issues for input.resource and
#               input.required_scopes; undefined when it issues nothing.
#
# The generated package rptguard.offline.resources has one rule per
# resource: the permissions that apply to it are resolved at translation,
# with its scopes, name and id, so that a decision looks the resource's rule
# up once (data.rptguard.offline.model.rules, by name, else rule_ids, by id)
# and never iterates over the model. The policies are the generated rules of
# package rptguard.offline.policies. This package holds the dispatch and the
# combination the resource rules share.
package rptguard.offline

import data.rptguard.offline.model
import data.rptguard.offline.resources

# permission is the permission Keycloak would issue (undefined: none), from
# the rule of the resource input.resource names, by name, else by id.
permission := p if {
	p := resources[model.rules[input.resource.name]]
} else := p if {
	not model.rules[input.resource.name]
	p := resources[model.rule_ids[input.resource.id]]
}

# granted: a permission is issued.
granted if permission

# rsid(id) is the permission's resource id: the request's, else the export's.
rsid(id) := input.resource.id if input.resource.id != ""

else := id

# requested_any(requested, scopes): some of scopes is requested (a scope
# permission applies to the request).
requested_any(requested, scopes) if {
	some s in scopes
	s in requested
}

# The resource rules collect, for the applicable permissions that have
# associated policies (only those record a result in Keycloak's collector):
#
#   raw       scopes granted: every requested scope for a granting resource
#             permission, the requested scopes it lists for a granting
#             scope permission;
#   denied    scopes denied by denying permissions other than typed resource
#             permissions: every requested scope for a resource permission,
#             every scope it lists for a scope permission;
#   rg        a granting resource permission names the resource;
#   typed_ok  every typed resource permission grants;
#   res_ok    every resource permission grants (then only scope
#             permissions can have denied).
#
# A resource rule issues {rsid, rsname, scopes} for the requested scopes q.
# Under UNANIMOUS (the default) denials win: the scopes are raw - denied;
# under AFFIRMATIVE a scope some permission granted is kept even if another
# denied it: the scopes are raw. Typed resource permissions that deny deny
# every scope, unless the resource was granted by name or something else
# denied (lifted_unanimous, lifted_affirmative). When no scope survives, a
# permission without scopes is issued only if nothing denied and the resource
# was granted by name or has no scope to grant (resource_level).
lifted_unanimous(typed_ok, rg, denied) if _lifted(typed_ok, rg, count(denied))

lifted_affirmative(typed_ok, rg, denied, raw) if _lifted(typed_ok, rg, count(denied - raw))

_lifted(typed_ok, _, _) if typed_ok

_lifted(_, rg, _) if rg

_lifted(_, _, n) if n > 0

resource_level(q, denied, rg, res_ok) if {
	res_ok
	count(denied) == 0
	_rg_or_none(q, rg)
}

_rg_or_none(_, rg) if rg

_rg_or_none(q, _) if count(q) == 0
