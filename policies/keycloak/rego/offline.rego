# Package rptguard.offline evaluates a Keycloak resource server's
# permissions offline, without a UMA round trip (policies/keycloak). It
# reproduces Keycloak's DefaultPolicyEvaluator and DecisionPermissionCollector
# (SPEC §8.3) for one requested resource and its scopes:
#
#   permission  {rsid, rsname, scopes}: what Keycloak's UMA grant with
#               response_mode=permissions issues for input.resource and
#               input.required_scopes; undefined when it issues nothing.
#
# The model (resources, permissions) is data.rptguard.offline.model; the
# policies are the generated rules of package rptguard.offline.policies.
package rptguard.offline

import data.rptguard.offline.model
import data.rptguard.offline.policies

# resource is the export's resource for input.resource, by name, else by id.
resource := r if {
	r := model.resources[input.resource.name]
} else := r if {
	input.resource.id != ""
	some r in model.resources
	r.id == input.resource.id
}

# requested: the scopes the request asks for, limited to the resource's
# scopes; no scopes means every scope of the resource (as Keycloak expands
# a resource-only request).
requested := {s | some s in input.required_scopes; s in resource.scopes} if count(input.required_scopes) > 0

else := {s | some s in resource.scopes}

# Requiring only scopes the resource does not have grants nothing (fail
# closed rather than issue a resource-level permission).
_scopes_ok if count(input.required_scopes) == 0

_scopes_ok if count(requested) > 0

# applicable: the permissions Keycloak evaluates for the request: scope
# permissions on the resource or on no resource that name a requested
# scope, resource permissions naming the resource, and typed resource
# permissions for the resource's type. The model lists, per resource, the
# candidates (resource_permissions apply whatever the scopes).
applicable contains name if {
	some name in resource.scope_permissions
	some s in model.permissions[name].scopes
	s in requested
}

applicable contains name if {
	some name in resource.resource_permissions
}

# results: applicable permissions that have associated policies (only those
# record a result in Keycloak's collector).
results contains name if {
	some name in applicable
	model.permissions[name].policies > 0
}

granting contains name if {
	some name in results
	policies[model.permissions[name].rule] == true
}

denying := results - granting

_granted_raw contains s if {
	some name in granting
	p := model.permissions[name]
	p.kind == "scope"
	some s in p.scopes
	s in requested
}

_granted_raw contains s if {
	some name in granting
	model.permissions[name].kind == "resource"
	some s in requested
}

# resource_granted: a granting resource permission names the resource.
resource_granted if {
	some name in granting
	p := model.permissions[name]
	p.kind == "resource"
	resource.name in p.resources
}

_denied_typed contains s if {
	some name in denying
	p := model.permissions[name]
	p.kind == "resource"
	p.typed
	some s in requested
}

_denied_other contains s if {
	some name in denying
	p := model.permissions[name]
	p.kind == "resource"
	not p.typed
	some s in requested
}

_denied_other contains s if {
	some name in denying
	p := model.permissions[name]
	p.kind == "scope"
	some s in p.scopes
}

# AFFIRMATIVE at resource-server level: a scope some permission granted is
# not denied by resource or scope permissions.
_denied_1 := _denied_other - _granted_raw if model.decision_strategy == "AFFIRMATIVE"

else := _denied_other

# A resource granted by a resource permission overrides typed denials of
# the scopes it granted.
_typed_1 := _denied_typed - _granted_raw if resource_granted

else := _denied_typed

_denied_2 := _denied_1 | _typed_1 if resource_granted

else := _denied_1

denied := _typed_1 if count(_denied_2) == 0

else := _denied_2

granted_scopes := _granted_raw - denied

_rsid := input.resource.id if input.resource.id != ""

else := resource.id

_grant(scopes) := {"rsid": _rsid, "rsname": resource.name, "scopes": sort(scopes)}

_nothing_granted if {
	not resource_granted
	count(granted_scopes) == 0
	count(requested) > 0
}

_nothing_granted if {
	count(denying) > 0
	count(granted_scopes) == 0
}

# permission is the permission Keycloak would issue (undefined: none).
permission := _grant(requested) if {
	model.policy_enforcement_mode == "DISABLED"
	_scopes_ok
} else := _grant(requested) if {
	model.policy_enforcement_mode == "PERMISSIVE"
	_scopes_ok
	count(applicable) == 0
} else := _grant(granted_scopes) if {
	_scopes_ok
	count(results) > 0
	not _nothing_granted
}

# granted: a permission is issued.
granted if permission
