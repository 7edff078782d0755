package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.token(t, "alice", []string{"user"}, []string{"orders-id", "Orders", "orders:read"}, []string{"order-id", "Order", "orders:read"}, []string{"user-orders-id", "User orders", "orders:read"})
	bob := f.token(t, "bob", []string{"user", "admin"}, []string{"orders-id", "Orders", "orders:read", "orders:write"}, []string{"admin-id", "Admin", "admin:manage"}, []string{"user-orders-id", "User orders", "orders:read"})
	plain := f.token(t, "alice", []string{"user"})
	foreign := f.kc.SignToken(map[string]any{"iss": fixtureIssuer, "sub": "x"}, keycloaktestForeignKey())
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "allowed read", args: []string{"--token", alice, "--path", "/api/orders/7"}, wantCode: 0},
		{name: "denied write", args: []string{"--token", alice, "--method", "POST", "--path", "/api/orders"}, wantCode: 2},
		{name: "allowed write", args: []string{"--token", bob, "--method", "POST", "--path", "/api/orders", "--header", "X-Tenant: acme"}, wantCode: 0},
		{name: "deny rule", args: []string{"--token", bob, "--method", "POST", "--path", "/api/orders"}, wantCode: 2},
		{name: "delete not granted", args: []string{"--token", alice, "--method", "DELETE", "--path", "/api/orders/7"}, wantCode: 2},
		{name: "admin denied", args: []string{"--token", alice, "--path", "/api/admin/users"}, wantCode: 2},
		{name: "no permissions", args: []string{"--token", plain, "--path", "/api/orders/7"}, wantCode: 2},
		{name: "anonymous", args: []string{"--path", "/api/orders/7"}, wantCode: 2},
		{name: "public path", args: []string{"--path", "/health"}, wantCode: 0},
		{name: "unmapped", args: []string{"--token", alice, "--path", "/nowhere"}, wantCode: 2},
		{name: "ambiguous path", args: []string{"--token", alice, "--path", "/api/orders/%2e%2e/admin"}, wantCode: 2},
		{name: "forged token", args: []string{"--token", foreign, "--path", "/api/orders/7"}, wantCode: 2},
		{name: "owner rule own", args: []string{"--token", alice, "--path", "/users/alice/orders"}, wantCode: 0},
		{name: "owner rule other", args: []string{"--token", alice, "--path", "/users/bob/orders"}, wantCode: 2},
		{name: "owner rule admin", args: []string{"--token", bob, "--path", "/users/alice/orders"}, wantCode: 0},
		{name: "expired at now", args: []string{"--token", alice, "--path", "/api/orders/7", "--now", "2026-03-02T11:00:00Z"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check", "--config", "testdata/orders.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z"}, tt.args...)
			stdout, stderr, code := runCLI(t, args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Empty(t, stderr)
			golden(t, goldenName("check", tt.name, ".json"), stdout)
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.token(t, "alice", []string{"user"}, []string{"orders-id", "Orders", "orders:read"}, []string{"order-id", "Order", "orders:read"}, []string{"user-orders-id", "User orders", "orders:read"})
	plain := f.token(t, "alice", []string{"user"})
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "allowed", args: []string{"--token", alice, "--path", "/api/orders/7"}, wantCode: 0},
		{name: "missing scope", args: []string{"--token", alice, "--method", "POST", "--path", "/api/orders"}, wantCode: 2},
		{name: "not an rpt", args: []string{"--token", plain, "--path", "/api/orders/7"}, wantCode: 2},
		{name: "owner rule", args: []string{"--token", alice, "--path", "/users/bob/orders"}, wantCode: 2},
		{name: "expired", args: []string{"--token", alice, "--path", "/api/orders/7", "--now", "2026-03-02T11:00:00Z"}, wantCode: 2},
		{name: "bad path", args: []string{"--token", alice, "--path", "/api/orders/..;/admin"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"explain", "--trace=false", "--config", "testdata/orders.json", "--jwks", f.jwks, "--now", "2026-03-02T10:00:00Z"}, tt.args...)
			stdout, stderr, code := runCLI(t, args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Empty(t, stderr)
			assert.NotContains(t, stdout, alice, "the token itself is never printed")
			golden(t, goldenName("explain", tt.name, ".txt"), stdout)
		})
	}
}

func TestExplainTrace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.token(t, "alice", []string{"user"}, []string{"user-orders-id", "User orders", "orders:read"})
	stdout, stderr, code := runCLI(t, "explain", "--config", "testdata/orders.json", "--jwks", f.jwks,
		"--now", "2026-03-02T10:00:00Z", "--token", alice, "--path", "/users/bob/orders")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stdout, "\ntrace\n")
	assert.Contains(t, stdout, "owner_only")
}
