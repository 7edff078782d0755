# Package rptguard.offline.lib holds the helpers generated Keycloak policies
# use (policies/keycloak). Every identity fact comes from input.token (the
# verified token) and, for regex policies on context attributes, from
# input.claims; the current time comes from the engine's clock
# (time.now_ns()), never from the request or pushed claims.
package rptguard.offline.lib

# has_role(r): r is {"client": "", "role": name} for a realm role (token
# realm_access.roles) or {"client": clientId, "role": name} for a client
# role (token resource_access[clientId].roles).
has_role(r) if {
	r.client == ""
	r.role in input.token.realm_access.roles
}

has_role(r) if {
	r.client != ""
	r.role in input.token.resource_access[r.client].roles
}

# has_any_role(roles): the identity has at least one of roles.
has_any_role(roles) if {
	some r in roles
	has_role(r)
}

# is_user(names, ids): the token's subject is one of the listed users, by
# preferred_username or by user id (sub).
is_user(names, _) if input.token.preferred_username in names

is_user(_, ids) if input.token.sub in ids

# token_groups(claim): the group entries of the token claim (strings only).
token_groups(claim) := [g | some g in input.token[claim]; is_string(g)]

# in_groups(claim, defs): Keycloak's group policy over the token's groups:
# an entry that is a path matches the group's path (or a descendant's when
# extend_children), and any entry equal to the group's name matches.
in_groups(claim, defs) if {
	some d in defs
	some g in token_groups(claim)
	_group_match(d, g)
}

_group_match(d, g) if {
	contains(g, "/")
	g == d.path
}

_group_match(d, g) if {
	d.extend_children
	contains(g, "/")
	startswith(g, concat("", [d.path, "/"]))
}

_group_match(d, g) if g == d.name

# token_scopes: the token's space-separated scope claim.
token_scopes := {s | some s in split(input.token.scope, " "); s != ""} if is_string(input.token.scope)

else := set()

# claim_values(path): the string values of the token claim at path (an
# array of segments): a string, or each element of an array; other values
# in their JSON form.
claim_values(path) := _strings(v) if {
	v := object.get(input.token, path, null)
	v != null
}

# context_values(name): values of a context attribute; offline these are
# the claims resolved for the request (input.claims).
context_values(name) := input.claims[name]

_strings(v) := [v] if is_string(v)

_strings(v) := [_str(e) | some e in v] if is_array(v)

_strings(v) := [json.marshal(v)] if {
	not is_string(v)
	not is_array(v)
}

_str(e) := e if is_string(e)

_str(e) := json.marshal(e) if not is_string(e)
