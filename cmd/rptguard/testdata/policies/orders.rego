package rptguard.rules.orders

import data.rptguard.keycloak

owner_only if input.request.path_params.user == keycloak.username

owner_only if keycloak.has_realm_role("admin")

deny contains "writes need the x-tenant header" if {
	input.request.method == "POST"
	not input.request.headers["x-tenant"]
}
