package rptguard.authz_test

import data.rptguard.authz

p_read := {"index": 0, "rsid": "r1", "rsname": "Orders", "scopes": ["read"]}

base := {
	"request": {"method": "GET", "path": "/orders/1", "raw_path": "/orders/1", "path_params": {}, "query": {}, "headers": {}, "remote_addr": ""},
	"resource": {"id": "r1", "name": "Orders", "type": "", "uris": [], "owner": "", "template": "", "parent_id": ""},
	"required_scopes": ["read"],
	"scopes_mode": "ALL",
	"enforcement_mode": "ENFORCING",
	"token": {"sub": "alice-id"},
	"has_authorization": true,
	"permissions": [p_read],
	"permissions_by_resource": {"r1": [p_read]},
	"scope_permissions": [],
	"claims": {},
	"rule": "",
}

# patched replaces (not merges) the top-level keys of base that patch names.
patched(patch) := object.union(object.remove(base, object.keys(patch)), patch)

test_allow_resource_permission if {
	authz.allow with input as base
	authz.decision == {"allow": true, "reasons": [], "matched_permission": p_read} with input as base
}

test_deny_missing_scope if {
	inp := patched({"required_scopes": ["write"]})
	not authz.allow with input as inp
	d := authz.decision with input as inp
	d.reasons == ["no permission on resource \"Orders\" grants the required scopes"]
	d.matched_permission == null
}

test_deny_not_rpt if {
	inp := patched({"has_authorization": false, "permissions": [], "permissions_by_resource": {}})
	not authz.allow with input as inp
	authz.reasons == {"token has no authorization claim (not an RPT)"} with input as inp
}

test_permissive_without_resource_permission if {
	inp := patched({"enforcement_mode": "PERMISSIVE", "permissions": [], "permissions_by_resource": {}})
	authz.allow with input as inp
}

test_first_match_decides if {
	p0 := {"index": 0, "rsid": "r1", "rsname": "Orders", "scopes": ["read"], "claims": {"amount": ["50"]}}
	p1 := {"index": 1, "rsid": "r1", "rsname": "Orders", "scopes": ["read"]}
	inp := patched({
		"permissions": [p0, p1],
		"permissions_by_resource": {"r1": [p0, p1]},
		"claims": {"amount": ["200"]},
	})
	not authz.allow with input as inp
	authz.matched_index == 0 with input as inp
}

test_scope_only_first if {
	p0 := {"index": 0, "rsid": "", "rsname": "", "scopes": ["read"]}
	p1 := {"index": 1, "rsid": "r1", "rsname": "Orders", "scopes": ["read"], "claims": {"amount": ["50"]}}
	inp := patched({
		"permissions": [p0, p1],
		"permissions_by_resource": {"r1": [p1]},
		"scope_permissions": [p0],
	})
	authz.allow with input as inp
	authz.matched_permission == p0 with input as inp
}

test_named_rule if {
	inp := patched({"rule": "rules.always"})
	authz.allow with input as inp with data.rptguard.rules.always as true
	not authz.allow with input as inp with data.rptguard.rules.always as false
	not authz.allow with input as inp with data.rptguard.rules.always as "yes"
	not authz.allow with input as inp
	authz.reasons == {"rule \"rules.always\" is not satisfied"} with input as inp
}

test_user_deny if {
	not authz.allow with input as base with data.rptguard.user.deny as {"nope"}
	authz.reasons == {"nope"} with input as base with data.rptguard.user.deny as {"nope"}
	not authz.allow with input as base with data.rptguard.rules.x.deny as {{"code": 1}}
	authz.reasons == {"{\"code\":1}"} with input as base with data.rptguard.rules.x.deny as {{"code": 1}}
	authz.allow with input as base with data.rptguard.user.deny as set()
}
