package rptguard.keycloak_test

import data.rptguard.keycloak

perms := [
	{"index": 0, "rsid": "r1", "rsname": "Orders", "scopes": ["read", "write"]},
	{"index": 1, "rsid": "r2", "rsname": "Invoices", "scopes": []},
	{"index": 2, "rsid": "", "rsname": "", "scopes": ["audit"]},
]

token := {
	"sub": "alice-id",
	"preferred_username": "alice",
	"realm_access": {"roles": ["user", "auditor"]},
	"resource_access": {"orders-api": {"roles": ["reader"]}},
	"groups": ["/staff/sales", "admins"],
	"tenant": "acme",
	"amr": ["pwd", "otp"],
}

test_scopes_all if {
	keycloak.scopes_satisfied(["read", "write"]) with input as {"scopes_mode": "ALL", "required_scopes": ["read"]}
	not keycloak.scopes_satisfied(["read"]) with input as {"scopes_mode": "ALL", "required_scopes": ["read", "write"]}
	keycloak.scopes_satisfied([]) with input as {"scopes_mode": "ALL", "required_scopes": ["read", "write"]}
}

test_scopes_any if {
	keycloak.scopes_satisfied(["write"]) with input as {"scopes_mode": "ANY", "required_scopes": ["read", "write"]}
	not keycloak.scopes_satisfied(["delete"]) with input as {"scopes_mode": "ANY", "required_scopes": ["read"]}
	keycloak.scopes_satisfied(["delete"]) with input as {"scopes_mode": "ANY", "required_scopes": []}
}

test_scopes_disabled if {
	keycloak.scopes_satisfied(["read"]) with input as {"scopes_mode": "DISABLED", "required_scopes": []}
	not keycloak.scopes_satisfied(["read"]) with input as {"scopes_mode": "DISABLED", "required_scopes": ["read"]}
}

test_claims_valid if {
	keycloak.claims_valid({"rsid": "r"}) with input as {"claims": {}}
	not keycloak.claims_valid({"rsid": "r", "claims": {"a": ["1"]}}) with input as {"claims": {}}
	keycloak.claims_valid({"rsid": "r", "claims": {"a": ["1", "2"]}}) with input as {"claims": {"a": ["2"]}}
	not keycloak.claims_valid({"rsid": "r", "claims": {"a": ["1"]}}) with input as {"claims": {"a": ["1", "3"]}}
	not keycloak.claims_valid({"rsid": "r", "claims": {"a": ["1"]}}) with input as {"claims": {"a": []}}
	not keycloak.claims_valid({"rsid": "r", "claims": {"a": ["1"]}}) with input as {"claims": {"b": ["1"]}}
}

test_has_permission if {
	keycloak.has_permission("orders", "read") with input as {"permissions": perms}
	keycloak.has_permission("R1", "write") with input as {"permissions": perms}
	not keycloak.has_permission("Orders", "READ") with input as {"permissions": perms}
	not keycloak.has_permission("Invoices", "read") with input as {"permissions": perms}
	keycloak.allows_scope("Invoices", "read") with input as {"permissions": perms}
	keycloak.has_resource_permission("invoices") with input as {"permissions": perms}
	not keycloak.has_resource_permission("payments") with input as {"permissions": perms}
	keycloak.has_scope_permission("audit") with input as {"permissions": perms}
}

test_permissions_for if {
	ps := keycloak.permissions_for("orders") with input as {"permissions": perms}
	count(ps) == 1
	some p in ps
	p.rsid == "r1"
}

test_scope_sets if {
	keycloak.has_all_scopes("Orders", ["read", "write"]) with input as {"permissions": perms}
	not keycloak.has_all_scopes("Orders", ["read", "delete"]) with input as {"permissions": perms}
	not keycloak.has_all_scopes("Payments", []) with input as {"permissions": perms}
	keycloak.has_any_scope("Orders", ["delete", "write"]) with input as {"permissions": perms}
	not keycloak.has_any_scope("Orders", ["delete"]) with input as {"permissions": perms}
}

test_roles if {
	keycloak.has_realm_role("user") with input as {"token": token}
	not keycloak.has_realm_role("admin") with input as {"token": token}
	keycloak.has_client_role("orders-api", "reader") with input as {"token": token}
	not keycloak.has_client_role("billing", "reader") with input as {"token": token}
	keycloak.has_any_realm_role(["admin", "auditor"]) with input as {"token": token}
	keycloak.has_all_realm_roles(["user", "auditor"]) with input as {"token": token}
	not keycloak.has_all_realm_roles(["user", "admin"]) with input as {"token": token}
	not keycloak.has_realm_role("user") with input as {"token": {}}
}

test_groups if {
	keycloak.in_group("/staff/sales") with input as {"token": token}
	keycloak.in_group("staff/sales") with input as {"token": token}
	keycloak.in_group("admins") with input as {"token": token}
	not keycloak.in_group("staff") with input as {"token": token}
}

test_claims if {
	keycloak.subject == "alice-id" with input as {"token": token}
	keycloak.username == "alice" with input as {"token": token}
	keycloak.claim("tenant") == "acme" with input as {"token": token}
	keycloak.claim_equals("tenant", "acme") with input as {"token": token}
	keycloak.claim_contains("amr", "otp") with input as {"token": token}
	keycloak.claim_contains("tenant", "acme") with input as {"token": token}
	not keycloak.claim_contains("tenant", "ac") with input as {"token": token}
	keycloak.request_claim("amount") == ["50"] with input as {"claims": {"amount": ["50"]}}
	keycloak.request_claim_has("amount", "50") with input as {"claims": {"amount": ["50"]}}
}
