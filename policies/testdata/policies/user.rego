package rptguard.user

import data.rptguard.keycloak

# Deletes need the realm role "editor", whatever the permissions say.
deny contains "deleting requires the editor role" if {
	input.request.method == "DELETE"
	not keycloak.has_realm_role("editor")
}
