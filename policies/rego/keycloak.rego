# Package rptguard.keycloak holds helpers for user policies. They read the
# documented input (see policies/schema/input.json) and never call out.
#
# Keycloak semantics (SPEC §3.3, §3.7): a permission names its resource by id
# (rsid) and name (rsname); empty scopes on a resource permission grant every
# scope; a permission without rsid is a scope-only grant.
package rptguard.keycloak

# scopes_satisfied(granted) reproduces Keycloak's hasResourceScopePermission:
# does a permission granting the scopes `granted` satisfy input.required_scopes
# under input.scopes_mode? Empty `granted` (resource-level permission) always
# does. ALL: granted contains every required scope. ANY: granted contains one
# of them, or none are required. DISABLED: only when none are required.
scopes_satisfied(granted) if count(granted) == 0

scopes_satisfied(granted) if {
	input.scopes_mode == "ALL"
	every s in input.required_scopes {
		s in granted
	}
}

scopes_satisfied(granted) if {
	input.scopes_mode == "ANY"
	some s in input.required_scopes
	s in granted
}

scopes_satisfied(_) if {
	input.scopes_mode in {"ANY", "DISABLED"}
	count(input.required_scopes) == 0
}

# claims_valid(p) reproduces Keycloak's hasValidClaims: a permission without
# claims is valid; otherwise the request must carry claims, and for every
# claim the permission was granted for, the request's values (non-empty) must
# all be among the granted values.
claims_valid(p) if not p.claims

claims_valid(p) if {
	p.claims
	count(input.claims) > 0
	every name, granted in p.claims {
		values := object.get(input.claims, name, [])
		count(values) > 0
		every v in values {
			v in granted
		}
	}
}

# names_resource(p, resource) is true when permission p names `resource` by
# id or by name, case-insensitively (Keycloak AuthorizationContext).
names_resource(p, resource) if lower(p.rsid) == lower(resource)

names_resource(p, resource) if lower(p.rsname) == lower(resource)

# permissions_for(resource) is the set of the token's permissions on
# `resource` (id or name, case-insensitive).
permissions_for(resource) := {p |
	some p in input.permissions
	names_resource(p, resource)
}

# has_resource_permission(resource): the token holds some permission on the
# resource, whatever its scopes.
has_resource_permission(resource) if {
	some p in input.permissions
	names_resource(p, resource)
}

# has_scope_permission(scope): some permission of the token (any resource)
# grants `scope` (exact case).
has_scope_permission(scope) if {
	some p in input.permissions
	scope in p.scopes
}

# has_permission(resource, scope) is Keycloak's
# AuthorizationContext.hasPermission: a permission names the resource (id or
# name, case-insensitive) and lists the scope (exact case). As in Keycloak, a
# resource-level permission (empty scopes) does not list any scope; use
# allows_scope to treat it as granting every scope.
has_permission(resource, scope) if {
	some p in input.permissions
	names_resource(p, resource)
	scope in p.scopes
}

# allows_scope(resource, scope) is like has_permission but also accepts a
# resource-level permission (empty scopes), which grants every scope.
allows_scope(resource, scope) if has_permission(resource, scope)

allows_scope(resource, _) if {
	some p in input.permissions
	names_resource(p, resource)
	count(p.scopes) == 0
}

# granted_scopes(resource) is the union of the scopes the token's
# permissions on `resource` list.
granted_scopes(resource) := {s |
	some p in input.permissions
	names_resource(p, resource)
	some s in p.scopes
}

# has_all_scopes(resource, scopes): the token holds a permission on the
# resource and, across its permissions on it, every scope in `scopes` (ALL).
has_all_scopes(resource, scopes) if {
	has_resource_permission(resource)
	granted := granted_scopes(resource)
	every s in scopes {
		s in granted
	}
}

# has_any_scope(resource, scopes): the token's permissions on the resource
# list at least one scope in `scopes` (ANY).
has_any_scope(resource, scopes) if {
	granted := granted_scopes(resource)
	some s in scopes
	s in granted
}

# subject is the token's sub claim; username its preferred_username.
subject := input.token.sub

username := input.token.preferred_username

# realm_roles is the set of realm roles (realm_access.roles).
realm_roles := {r | some r in input.token.realm_access.roles}

# has_realm_role(role): the token carries the realm role.
has_realm_role(role) if role in realm_roles

# client_roles(client) is the set of the client's roles
# (resource_access.<client>.roles).
client_roles(client) := {r | some r in input.token.resource_access[client].roles}

# has_client_role(client, role): the token carries the client role.
has_client_role(client, role) if role in client_roles(client)

# has_any_realm_role(roles) / has_all_realm_roles(roles): role sets.
has_any_realm_role(roles) if {
	some r in roles
	r in realm_roles
}

has_all_realm_roles(roles) if {
	every r in roles {
		r in realm_roles
	}
}

# groups is the set of the token's groups claim (added by Keycloak's group
# membership mapper, full paths like "/staff/admins" or plain names).
groups := {g | some g in input.token.groups}

# in_group(g): the token is in group g, given as it appears in the claim or as
# a full path without its leading slash ("staff/admins" matches
# "/staff/admins").
in_group(g) if g in groups

in_group(g) if concat("", ["/", g]) in groups

# claim(name) is the token claim `name` (undefined when absent).
claim(name) := input.token[name]

# claim_equals(name, value): the token claim equals value.
claim_equals(name, value) if input.token[name] == value

# claim_contains(name, value): the token claim is value, or a list or set
# holding value.
claim_contains(name, value) if input.token[name] == value

claim_contains(name, value) if {
	not is_string(input.token[name])
	value in input.token[name]
}

# request_claim(name) is the list of values the claim information points
# resolved for `name` (undefined when absent).
request_claim(name) := input.claims[name]

# request_claim_has(name, value): the request resolved `value` for claim `name`.
request_claim_has(name, value) if value in input.claims[name]
