# Rules for the orders API, loaded next to rptguard's built-in
# Keycloak-compatible decision.
package rptguard.rules.orders

import data.rptguard.keycloak

# owner_only: named by the /users/{user}/orders path in the enforcer
# configuration ("rptguard": {"decision-rule": "rules.orders.owner_only"}).
# Admins may read anyone's orders; everyone else only their own.
owner_only if input.request.path_params.user == keycloak.username

owner_only if keycloak.has_realm_role("admin")

# deny rules run on every request and add a reason to the decision.
deny contains "only admins may delete orders" if {
	input.request.method == "DELETE"
	not keycloak.has_realm_role("admin")
}
