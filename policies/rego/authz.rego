# Package rptguard.authz is the decision rptguard evaluates for every
# request: Keycloak's isAuthorized (SPEC §3.3) followed by the user's rules.
#
#   allow     boolean, the hot-path query (data.rptguard.authz.allow)
#   decision  {allow, reasons, matched_permission}, evaluated on deny and by
#             Engine.EvaluateExplain
#
# User rules compose as follows:
#   - any `deny contains reason if ...` in package rptguard.user or in a package
#     directly under rptguard.rules (rptguard.rules.<name>) denies, and its
#     reasons are reported;
#   - input.rule ("rules.<name>" or "rules.<pkg>.<name>") names a rule under
#     data.rptguard.rules that must be exactly true.
#
# Permission order: as in Keycloak, the FIRST permission of the token (token
# order) that belongs to the path's resource (or is scope-only) and whose
# scopes satisfy the request decides. A scope-only permission grants without
# claims checks; a resource permission grants only if its claims match
# input.claims, and a claims mismatch is a deny even if a later permission
# would have matched (Keycloak's quirk, kept so that decisions agree with
# Keycloak's enforcers; the enforcer then asks the server for a fresh RPT).
package rptguard.authz

import data.rptguard.keycloak

default allow := false

allow if {
	keycloak_granted
	not user_denied
	rule_satisfied
}

# keycloak_granted is Keycloak's isAuthorized for the token, the path's
# resource and the required scopes.
keycloak_granted if {
	not _offline
	input.has_authorization
	matched_permission.rsid == ""
}

keycloak_granted if {
	not _offline
	input.has_authorization
	p := matched_permission
	p.rsid != ""
	keycloak.claims_valid(p)
}

keycloak_granted if {
	not _offline
	input.has_authorization
	input.enforcement_mode == "PERMISSIVE"
	not resource_has_permission
}

# Offline permissions (input.permissions_source == "offline"): the permission
# Keycloak's own policies grant, computed by the modules policies/keycloak
# generates (data.rptguard.offline.permission), replaces the token's.
_offline if input.permissions_source == "offline"

keycloak_granted if {
	_offline
	keycloak.scopes_satisfied(data.rptguard.offline.permission.scopes)
}

keycloak_granted if {
	_offline
	input.enforcement_mode == "PERMISSIVE"
	not data.rptguard.offline.permission
}

# Indexes (token order) of the permissions that may decide: those on the
# path's resource (for an instance path: on the instance itself, not its
# parent) and scope-only ones, whose scopes satisfy the request.
_candidates contains p.index if {
	some p in input.permissions_by_resource[input.resource.id]
	keycloak.scopes_satisfied(p.scopes)
}

_candidates contains p.index if {
	some p in input.scope_permissions
	keycloak.scopes_satisfied(p.scopes)
}

# matched_index is the index in input.permissions of the deciding permission.
matched_index := min(_candidates) if count(_candidates) > 0

# matched_permission is the deciding permission (undefined when none).
matched_permission := input.permissions[matched_index]

# resource_has_permission: the token holds a permission on the path's resource
# or, for an instance path, on its parent (Keycloak's hasPermission flag, which
# turns off the PERMISSIVE fallback).
resource_has_permission if input.permissions_by_resource[input.resource.id]

resource_has_permission if input.permissions_by_resource[input.resource.parent_id]

# user_denied: some user deny rule produced a reason.
user_denied if {
	some _ in data.rptguard.user.deny
}

user_denied if {
	some name
	some _ in data.rptguard.rules[name].deny
}

# rule_satisfied: the rule the path names (input.rule) is exactly true.
rule_satisfied if input.rule == ""

rule_satisfied if {
	parts := split(input.rule, ".")
	count(parts) == 2
	parts[0] == "rules"
	data.rptguard.rules[parts[1]] == true
}

rule_satisfied if {
	parts := split(input.rule, ".")
	count(parts) == 3
	parts[0] == "rules"
	data.rptguard.rules[parts[1]][parts[2]] == true
}

_resource_label := input.resource.name if input.resource.name != ""

else := input.resource.id

reasons contains "token has no authorization claim (not an RPT)" if {
	not _offline
	not input.has_authorization
}

reasons contains msg if {
	_offline
	not keycloak_granted
	msg := sprintf("Keycloak's policies (offline) grant no permission on resource %q for the required scopes", [_resource_label])
}

reasons contains msg if {
	not _offline
	input.has_authorization
	not matched_permission
	input.permissions_by_resource[input.resource.id]
	msg := sprintf("no permission on resource %q grants the required scopes", [_resource_label])
}

reasons contains msg if {
	not _offline
	input.has_authorization
	not matched_permission
	not input.permissions_by_resource[input.resource.id]
	input.permissions_by_resource[input.resource.parent_id]
	msg := sprintf("permissions on the parent resource do not grant instance %q", [_resource_label])
}

reasons contains msg if {
	not _offline
	input.has_authorization
	not matched_permission
	not resource_has_permission
	input.enforcement_mode != "PERMISSIVE"
	msg := sprintf("no permission for resource %q", [_resource_label])
}

reasons contains msg if {
	not _offline
	p := matched_permission
	p.rsid != ""
	not keycloak.claims_valid(p)
	msg := sprintf("permission on resource %q was granted for other claim values", [_resource_label])
}

reasons contains _reason_text(r) if {
	some r in data.rptguard.user.deny
}

reasons contains _reason_text(r) if {
	some name
	some r in data.rptguard.rules[name].deny
}

reasons contains msg if {
	input.rule != ""
	not rule_satisfied
	msg := sprintf("rule %q is not satisfied", [input.rule])
}

_reason_text(r) := r if is_string(r)

else := json.marshal(r)

default _matched_or_null := null

_matched_or_null := matched_permission if not _offline

# decision is the full answer: allow, the sorted reasons, and the permission
# Keycloak's algorithm selected (null when none; present even on deny when a
# claims mismatch or a user rule denied).
decision := {
	"allow": allow,
	"reasons": sort(reasons),
	"matched_permission": _matched_or_null,
}
