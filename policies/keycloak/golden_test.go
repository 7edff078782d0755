package keycloak_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies/keycloak"
)

var update = flag.Bool("update", false, "regenerate testdata/golden")

// TestGolden translates every export and compares the generated Rego (the
// policies and the resources modules), the data document, the paths and the warnings with testdata/golden.
func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		export   string
		clientID string
		mappings map[string]string
	}{
		{name: "all-policies", export: "rptguard-all-policies-realm.json"},
		{name: "http-verbs", export: "http-verbs-settings.json"},
		{name: "photoz-realm", export: "quickstarts-uma-photoz-realm.json", mappings: map[string]string{
			"Only From @keycloak.org or Admin": "deny", "Only Owner Policy": "deny", "Only From a Specific Client Address": "allow"}},
		{name: "jakarta-realm", export: "quickstarts-jakarta-servlet-authz-client-realm-import.json"},
		{name: "spring-realm", export: "quickstarts-spring-rest-authz-resource-server-realm-import.json", clientID: "authz-servlet"},
		{name: "photoz-authz-service", export: "quickstarts-photoz-restful-api-authz-service.json", mappings: map[string]string{
			"Only From @keycloak.org or Admin": "deny", "Only Owner Policy": "deny", "Only From a Specific Client Address": "allow"}},
		{name: "kcclient-unordered", export: "kcclient-import-authorization-unordered-settings.json", mappings: map[string]string{
			"Only From @keycloak.org or Admin": "deny", "Only Owner Policy": "deny", "Only From a Specific Client Address": "deny"}},
		{name: "nodejs-template", export: "nodejs-connect-resource-server-template.json", mappings: map[string]string{
			"Default Policy": "allow", "Delete Policy": "deny", "Supported Browser Policy": "deny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var popts []keycloak.ParseOption
			if tt.clientID != "" {
				popts = append(popts, keycloak.WithClientID(tt.clientID))
			}
			res := translate(t, readTestdata(t, tt.export), popts, mappingOptions(t, tt.mappings)...)
			engine(t, res) // compiles
			summary, err := json.MarshalIndent(map[string]any{
				"data": res.Data, "paths": res.Paths, "warnings": res.Warnings,
			}, "", "  ")
			require.NoError(t, err)
			files := map[string][]byte{
				tt.name + ".rego":           []byte(res.Modules["rptguard/offline/policies.rego"]),
				tt.name + ".resources.rego": []byte(res.Modules["rptguard/offline/resources.rego"]),
				tt.name + ".json":           append(summary, '\n'),
			}
			for name, got := range files {
				path := filepath.Join("testdata", "golden", name)
				if *update {
					require.NoError(t, os.WriteFile(path, got, 0o644))
					continue
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test -run TestGolden -update")
				assert.Equal(t, string(want), string(got), "%s differs; run go test -run TestGolden -update and review", path)
			}
		})
	}
}
