package keycloak

import _ "embed"

// The evaluator and helpers: fixed Rego, shipped with every translation.
var (
	//go:embed rego/offline.rego
	offlineRego string
	//go:embed rego/lib.rego
	libRego string
)
