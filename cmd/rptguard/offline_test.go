package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCheckOffline decides plain access tokens with Keycloak's policies from
// an export (--authz-export): no RPT, no server.
func TestCheckOffline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.token(t, "alice", []string{"user"})
	bob := f.token(t, "bob", []string{"user", "admin"})
	nobody := f.token(t, "nobody", nil)
	export := []string{"--authz-export", "testdata/offline-realm.json", "--client", "orders-api"}
	photoz := "testdata/quickstarts-photoz-restful-api-authz-service.json"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // substring; "" means empty stderr
	}{
		{name: "offline read", args: append([]string{"--token", alice, "--path", "/orders/7"}, export...), wantCode: 0},
		{name: "offline delete denied", args: append([]string{"--token", alice, "--method", "DELETE", "--path", "/orders/7"}, export...), wantCode: 2},
		{name: "offline delete admin", args: append([]string{"--token", bob, "--method", "DELETE", "--path", "/orders/7"}, export...), wantCode: 0},
		{name: "offline no role", args: append([]string{"--token", nobody, "--path", "/orders/7"}, export...), wantCode: 2},
		{name: "offline by name", args: append([]string{"--token", alice, "--path", "/archive"}, export...), wantCode: 0},
		{name: "offline anonymous", args: append([]string{"--path", "/orders/7"}, export...), wantCode: 2},
		{name: "without export", args: []string{"--token", alice, "--path", "/orders/7"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check", "--config", "testdata/offline.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z"}, tt.args...)
			stdout, stderr, code := runCLI(t, args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Empty(t, stderr)
			golden(t, goldenName("check", tt.name, ".json"), stdout)
		})
	}
	errs := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "javascript unmapped", args: []string{"--authz-export", photoz}, wantStderr: "Only Owner Policy"},
		{name: "client without export", args: []string{"--client", "orders-api"}, wantStderr: "--client and --map need --authz-export"},
		{name: "bad map", args: append([]string{"--map", "x"}, export...), wantStderr: "--map: want NAME=allow"},
		{name: "missing export", args: []string{"--authz-export", "testdata/nope.json"}, wantStderr: "nope.json"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check", "--config", "testdata/offline.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z",
				"--token", alice, "--path", "/orders/7"}, tt.args...)
			stdout, stderr, code := runCLI(t, args...)
			assert.Equal(t, 1, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.wantStderr)
		})
	}
	t.Run("javascript mapped", func(t *testing.T) {
		t.Parallel()
		_, stderr, code := runCLI(t, "check", "--config", "testdata/offline.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z",
			"--token", alice, "--path", "/orders/7", "--authz-export", photoz,
			"--map", "Only From @keycloak.org or Admin=deny", "--map", "Only Owner Policy=deny", "--map", "Only From a Specific Client Address=allow")
		assert.Equal(t, 2, code, "photoz has no /orders resource: denied, not an error; stderr %s", stderr)
	})
}

func TestExplainOffline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.token(t, "alice", []string{"user"})
	export := []string{"--authz-export", "testdata/offline-realm.json", "--client", "orders-api"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "offline allowed", args: append([]string{"--token", alice, "--path", "/orders/7"}, export...), wantCode: 0},
		{name: "offline denied", args: append([]string{"--token", alice, "--method", "DELETE", "--path", "/orders/7"}, export...), wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"explain", "--trace=false", "--config", "testdata/offline.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z"}, tt.args...)
			stdout, stderr, code := runCLI(t, args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Empty(t, stderr)
			assert.NotContains(t, stdout, alice, "the token itself is never printed")
			golden(t, goldenName("explain", tt.name, ".txt"), stdout)
		})
	}
}
