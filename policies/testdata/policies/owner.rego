# Owner-only access: the {user} path parameter must name the caller.
package rptguard.rules

owner_only if input.request.path_params.user == input.token.preferred_username
