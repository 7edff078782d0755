package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		wantCode int
	}{
		{name: "lint findings", file: "testdata/lint.json", wantCode: 1},
		{name: "invalid", file: "testdata/bad.json", wantCode: 1},
		{name: "clean", file: "testdata/clean.json", wantCode: 0},
		{name: "keycloak fixture", file: "testdata/kcclient-enforcer-paths.json", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, "validate", "--config", tt.file)
			assert.Equal(t, tt.wantCode, code, stderr)
			golden(t, goldenName("validate", tt.name, ".txt"), stdout)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "Commands:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStderr: "Commands:"},
		{name: "command help", args: []string{"check", "--help"}, wantCode: 0, wantStderr: "-token-file"},
		{name: "unknown flag", args: []string{"validate", "--nope"}, wantCode: 2, wantStderr: "flag provided but not defined: -nope"},
		{name: "validate without config", args: []string{"validate"}, wantCode: 2, wantStderr: "--config is required"},
		{name: "validate missing file", args: []string{"validate", "--config", "testdata/missing.json"}, wantCode: 1, wantStderr: "testdata/missing.json: no such file or directory"},
		{name: "extra argument", args: []string{"validate", "--config", "x", "y"}, wantCode: 2, wantStderr: `unexpected argument "y"`},
		{name: "check usage exits 1", args: []string{"check", "--config", "testdata/orders.json"}, wantCode: 1, wantStderr: "--path is required"},
		{name: "check bad now", args: []string{"check", "--config", "testdata/orders.json", "--path", "/x", "--now", "tomorrow"}, wantCode: 1, wantStderr: "--now: want an RFC 3339 time"},
		{name: "check bad header", args: []string{"check", "--config", "testdata/orders.json", "--path", "/x", "--header", "nocolon"}, wantCode: 1, wantStderr: "want 'Name: value'"},
		{name: "check two tokens", args: []string{"check", "--config", "testdata/orders.json", "--path", "/x", "--token", "a", "--token-file", "b"}, wantCode: 1, wantStderr: "mutually exclusive"},
		{name: "check malformed config", args: []string{"check", "--config", "testdata/bad.json", "--path", "/x"}, wantCode: 1, wantStderr: "testdata/bad.json: enforcer: invalid config: rptguard.leeway"},
		{name: "check missing jwks", args: []string{"check", "--config", "testdata/orders.json", "--path", "/x", "--jwks", "testdata/none.json"}, wantCode: 1, wantStderr: "testdata/none.json: no such file"},
		{name: "proxy without upstream", args: []string{"proxy", "--config", "testdata/orders.json"}, wantCode: 2, wantStderr: "--upstream is required"},
		{name: "proxy bad upstream", args: []string{"proxy", "--config", "x", "--upstream", "ftp://x"}, wantCode: 2, wantStderr: "want an absolute http(s) URL"},
		{name: "import without out", args: []string{"import", "--authz-export", "x"}, wantCode: 2, wantStderr: "--out is required"},
		{name: "import bad map", args: []string{"import", "--authz-export", "x", "--out", "y", "--map", "x"}, wantCode: 1, wantStderr: "x: no such file"},
		{name: "demo public addr", args: []string{"demo", "--addr", "0.0.0.0:0"}, wantCode: 2, wantStderr: "loopback"},
		{name: "dev-keycloak public addr", args: []string{"dev-keycloak", "--addr", "0.0.0.0:0"}, wantCode: 1, wantStderr: "not a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, code := runCLI(t, tt.args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			assert.Contains(t, stderr, tt.wantStderr)
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, _, code := runCLI(t, "version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "rptguard dev\n", stdout)
}

func TestDemo(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runCLI(t, "demo")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.NotContains(t, stdout, "UNEXPECTED")
	for _, want := range []string{"no_token", "forbidden", "uma_challenge", "invalid_token", "Rego rule owner_only", "bad_request"} {
		assert.Contains(t, stdout, want)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCLI runs a long-running command until the test ends, and waits for
// stdout to match re.
func startCLI(t *testing.T, re *regexp.Regexp, args ...string) (match []string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			match = m
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("%v exited with %d:\n%s\n%s", args, code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%v: no match for %s in:\n%s", args, re, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return match, stop
}

func TestProxy(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t,
		keycloaktest.WithResource(keycloaktest.Resource{ID: "orders-id", Name: "Orders", URIs: []string{"/api/orders/*"}, Scopes: []string{"orders:read"}}),
	)
	type seen struct {
		path, rawPath, identity, auth string
	}
	var mu sync.Mutex
	var got []seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.Path, r.URL.RawPath, r.Header.Get("X-User"), r.Header.Get("Authorization")})
		mu.Unlock()
		_, _ = io.WriteString(w, "upstream:"+r.URL.EscapedPath())
	}))
	defer upstream.Close()
	cfg := map[string]any{
		"realm": kc.Realm(), "auth-server-url": kc.URL(), "resource": kc.ClientID(),
		"credentials": map[string]any{"secret": kc.ClientSecret()},
		"paths": []any{
			map[string]any{"name": "Orders", "path": "/api/orders/*", "methods": []any{map[string]any{"method": "GET", "scopes": []string{"orders:read"}}}},
			map[string]any{"path": "/public/*", "enforcement-mode": "DISABLED"},
		},
		"rptguard": map[string]any{"permissions-source": "token"},
	}
	file := filepath.Join(t.TempDir(), "policy-enforcer.json")
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b, 0o600))

	m, stop := startCLI(t, regexp.MustCompile(`listening on (http://\S+),`),
		"proxy", "--config", file, "--listen", "127.0.0.1:0", "--upstream", upstream.URL, "--identity-header", "X-User")
	base := m[1]
	good := kc.IssueRPT("alice", rpt.Permission{ResourceID: "orders-id", ResourceName: "Orders", Scopes: []string{"orders:read"}})
	tests := []struct {
		name, path, token, spoof string
		wantStatus               int
		wantBody                 string
	}{
		{name: "allowed", path: "/api/orders/7", token: good, wantStatus: 200, wantBody: "upstream:/api/orders/7"},
		{name: "canonical path forwarded", path: "/api/orders/%7E7/", token: good, wantStatus: 200, wantBody: "upstream:/api/orders/~7"},
		{name: "no token", path: "/api/orders/7", wantStatus: 401},
		{name: "not an rpt", path: "/api/orders/7", token: kc.AccessToken("alice"), wantStatus: 403},
		{name: "ambiguous", path: "/api/orders/..%2f..%2fadmin", token: good, wantStatus: 400},
		{name: "public, spoofed identity dropped", path: "/public/x", spoof: "admin", wantStatus: 200, wantBody: "upstream:/public/x"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
		require.NoError(t, err)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		if tt.spoof != "" {
			req.Header.Set("X-User", tt.spoof)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, tt.name)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tt.wantStatus, resp.StatusCode, tt.name)
		if tt.wantBody != "" {
			assert.Equal(t, tt.wantBody, string(body), tt.name)
		}
	}
	mu.Lock()
	require.Len(t, got, 3)
	assert.Equal(t, "/api/orders/7", got[0].path)
	assert.NotEmpty(t, got[0].identity, "subject forwarded in the configured header")
	assert.Equal(t, "Bearer "+good, got[0].auth, "client headers forwarded as received")
	assert.Empty(t, got[2].identity, "a client-sent identity header never reaches the upstream")
	mu.Unlock()
	assert.Equal(t, 0, stop(), "graceful shutdown")
}

func TestDevKeycloak(t *testing.T) {
	t.Parallel()
	m, stop := startCLI(t, regexp.MustCompile(`(?s)token:\s+(\S+)\n.*Serving until interrupted`), "dev-keycloak", "--addr", "127.0.0.1:0")
	resp, err := http.PostForm(m[1], map[string][]string{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"},
		"client_id": {keycloaktest.DefaultClientID}, "client_secret": {keycloaktest.DefaultClientSecret},
	})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.True(t, strings.Contains(string(body), "access_token"))
	assert.Equal(t, 0, stop())
}

func TestImport(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "imported")
	stdout, stderr, code := runCLI(t, "import", "--authz-export", "testdata/quickstarts-photoz-restful-api-authz-service.json", "--out", out,
		"--map", "Only From @keycloak.org or Admin=deny",
		"--map", "Only Owner Policy=data.rptguard.rules.photoz.owner",
		"--map", "Only From a Specific Client Address=allow")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "3 resources, 3 paths")
	_, stderr, code = runCLI(t, "validate", "--config", filepath.Join(out, "policy-enforcer.json"))
	assert.Equal(t, 0, code, stderr)
	_, err := os.Stat(filepath.Join(out, "policies", "data.json"))
	require.NoError(t, err)

	_, stderr, code = runCLI(t, "import", "--authz-export", "testdata/quickstarts-photoz-restful-api-authz-service.json", "--out", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unsupported policies")
}

func TestDemoServe(t *testing.T) {
	t.Parallel()
	m, stop := startCLI(t, regexp.MustCompile(`ALICE_RPT=(\S+)\n.*explain --config (\S+) `), "demo", "--serve")
	stdout, stderr, code := runCLI(t, "check", "--config", m[2], "--token", m[1], "--path", "/api/users/alice/orders")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `"reason": "allowed"`)
	_, _, code = runCLI(t, "check", "--config", m[2], "--token", m[1], "--path", "/api/users/bob/orders")
	assert.Equal(t, 2, code, "the owner-only rule denies")
	assert.Equal(t, 0, stop())
	_, err := os.Stat(m[2])
	assert.True(t, os.IsNotExist(err), "the demo's temporary config is removed on exit")
}

func TestDevKeycloakRealmFile(t *testing.T) {
	t.Parallel()
	m, stop := startCLI(t, regexp.MustCompile(`client:\s+(\S+) / `), "dev-keycloak",
		"--realm-file", "testdata/quickstarts-photoz-restful-api-authz-service.json")
	assert.Equal(t, "rptguard-api", m[1], "a standalone export does not name its client")
	assert.Equal(t, 0, stop())

	_, stderr, code := runCLI(t, "dev-keycloak", "--realm-file", "testdata/orders.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "testdata/orders.json: ")
	_, stderr, code = runCLI(t, "dev-keycloak", "--client", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--client needs --realm-file")
}
