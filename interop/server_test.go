package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// requireEnv makes a server that cannot start a failure instead of a skip
// (CI sets it after `npm ci --prefix interop/server`).
const requireEnv = "RPTGUARD_INTEROP_NODE"

const (
	startTimeout   = 10 * time.Second
	commandTimeout = 5 * time.Second
	stopTimeout    = 5 * time.Second
)

// Fixture names from server/server.mjs.
const (
	clientFrontend = "shop-frontend"
	clientReadonly = "shop-readonly"
	clientOrders   = "orders-api"
	clientReports  = "reports-api"

	resourceOrdersJWT    = "urn:rptguard:orders"
	resourceOrdersOpaque = "urn:rptguard:orders-opaque"
	resourceOrdersShort  = "urn:rptguard:orders-short"
	resourceReports      = "urn:rptguard:reports"

	ordersID  = "7b6e9a52-3f1d-4c8e-9a0b-1d2c3e4f5a61"
	reportsID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
)

// serverInfo is the first JSON line the Node server prints.
type serverInfo struct {
	Issuer                string            `json:"issuer"`
	Port                  int               `json:"port"`
	JWKSURI               string            `json:"jwks_uri"`
	TokenEndpoint         string            `json:"token_endpoint"`
	IntrospectionEndpoint string            `json:"introspection_endpoint"`
	RevocationEndpoint    string            `json:"revocation_endpoint"`
	KID                   string            `json:"kid"`
	Clients               map[string]string `json:"clients"`
}

// nodeServer is one running oidc-provider process.
type nodeServer struct {
	serverInfo
	cmd    *exec.Cmd
	cancel context.CancelFunc // SIGTERM, then SIGKILL after stopTimeout
	stdin  io.WriteCloser
	lines  chan string // stdout lines after the first
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, valid after done
	hc     *http.Client
	mu     sync.Mutex // serializes commands
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil // keep the head; oidc-provider is chatty
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverUnavailable explains why the Node server cannot run here, or "".
func serverUnavailable() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	if _, err := os.Stat(filepath.Join("server", "node_modules", "oidc-provider", "package.json")); err != nil {
		return "interop/server/node_modules is missing (run: npm ci --prefix interop/server)"
	}
	return ""
}

// skipOrFail skips the test when the interop server cannot run, unless
// RPTGUARD_INTEROP_NODE=1 demands it.
func skipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("interop server required (%s=1) but unavailable: %s", requireEnv, reason)
	}
	tb.Skipf("interop tests skipped: %s; set %s=1 to make this a failure", reason, requireEnv)
}

// startServer starts a fresh Node server and stops it when tb ends. Tests
// that change server state (key rotation) use their own server.
func startServer(tb testing.TB) *nodeServer {
	tb.Helper()
	if reason := serverUnavailable(); reason != "" {
		skipOrFail(tb, reason)
	}
	s, err := launch()
	if err != nil {
		skipOrFail(tb, err.Error())
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("stopping the interop server: %v", err)
		}
	})
	return s
}

var shared struct {
	once sync.Once
	srv  *nodeServer
	err  error
}

// sharedServer returns the package's shared server (started on first use,
// stopped by TestMain). Tests using it must not change its state.
func sharedServer(tb testing.TB) *nodeServer {
	tb.Helper()
	if reason := serverUnavailable(); reason != "" {
		skipOrFail(tb, reason)
	}
	shared.once.Do(func() { shared.srv, shared.err = launch() })
	if shared.err != nil {
		skipOrFail(tb, shared.err.Error())
	}
	return shared.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: stopping the shared server:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// launch runs `node server.mjs 0` and waits for its first stdout line.
//
// The process cannot outlive the test binary for long: it exits when its
// stdin closes, which happens when this process ends, whatever the cause.
func launch() (*nodeServer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "server.mjs", "0")
	cmd.Dir = "server"
	cmd.Env = append(os.Environ(), "NODE_ENV=test")
	// Cancelling ctx sends SIGTERM; a process still running WaitDelay later
	// is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	s := &nodeServer{
		cmd:    cmd,
		cancel: cancel,
		stdin:  stdin,
		lines:  make(chan string, 16),
		stderr: &lockedBuffer{},
		done:   make(chan struct{}),
		hc:     &http.Client{Timeout: 5 * time.Second},
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting node: %w", err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				first <- sc.Text()
				continue
			}
			s.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr) // never block the process on a full pipe
		close(first)
		close(s.lines)
	}()
	go func() {
		s.err = cmd.Wait()
		_ = pw.Close()
		cancel()
		close(s.done)
	}()
	select {
	case line, ok := <-first:
		if ok {
			err = json.Unmarshal([]byte(line), &s.serverInfo)
			if err == nil && (s.Issuer == "" || s.Port == 0 || s.JWKSURI == "") {
				err = errors.New("incomplete server info")
			}
		} else {
			err = errors.New("exited before printing its address")
		}
	case <-time.After(startTimeout):
		err = fmt.Errorf("no address within %v", startTimeout)
	}
	if err != nil {
		_ = s.kill()
		return nil, fmt.Errorf("interop server: %w; stderr:\n%s", err, s.stderr.String())
	}
	return s, nil
}

// command sends one stdin command and returns the JSON answer line.
func (s *nodeServer) command(tb testing.TB, cmd string, answer any) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.stdin, cmd+"\n"); err != nil {
		tb.Fatalf("interop server: sending %q: %v", cmd, err)
	}
	select {
	case line, ok := <-s.lines:
		if !ok {
			tb.Fatalf("interop server exited; stderr:\n%s", s.stderr.String())
		}
		if err := json.Unmarshal([]byte(line), answer); err != nil {
			tb.Fatalf("interop server: answer to %q: %v", cmd, err)
		}
	case <-time.After(commandTimeout):
		tb.Fatalf("interop server: no answer to %q", cmd)
	}
}

// rotate switches the server to its next signing key and returns its kid.
func (s *nodeServer) rotate(tb testing.TB) string {
	tb.Helper()
	var ans struct {
		Rotated bool   `json:"rotated"`
		KID     string `json:"kid"`
		Error   string `json:"error"`
	}
	s.command(tb, "rotate", &ans)
	if !ans.Rotated {
		tb.Fatalf("interop server: rotate failed: %s", ans.Error)
	}
	return ans.KID
}

// stop closes stdin (the server's signal to exit) and waits; a server that
// does not exit gets SIGTERM (context cancellation), then SIGKILL. A clean
// exit on stdin EOF returns nil.
func (s *nodeServer) stop() error {
	s.hc.CloseIdleConnections()
	_ = s.stdin.Close()
	select {
	case <-s.done:
		return s.err
	case <-time.After(stopTimeout):
	}
	s.cancel()
	<-s.done // cmd.WaitDelay bounds this
	return fmt.Errorf("did not exit on stdin EOF: %v", s.err)
}

func (s *nodeServer) kill() error {
	_ = s.cmd.Process.Kill()
	<-s.done
	return errors.New("killed")
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// token gets an access token with the client-credentials grant
// (client_secret_basic) for one resource indicator (RFC 8707).
func (s *nodeServer) token(tb testing.TB, client, resource, scope string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	var tr tokenResponse
	status := s.post(tb, s.TokenEndpoint, client, s.Clients[client], form, &tr)
	if status != http.StatusOK || tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") {
		tb.Fatalf("token endpoint: status %d, token type %q; stderr:\n%s", status, tr.TokenType, s.stderr.String())
	}
	return tr.AccessToken
}

// revoke revokes a token at the RFC 7009 endpoint as client.
func (s *nodeServer) revoke(tb testing.TB, client, token string) {
	tb.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if status := s.post(tb, s.RevocationEndpoint, client, s.Clients[client], form, nil); status != http.StatusOK {
		tb.Fatalf("revocation endpoint: status %d", status)
	}
}

func (s *nodeServer) post(tb testing.TB, endpoint, id, secret string, form url.Values, out any) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.hc.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("POST %s: %v", endpoint, err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			tb.Fatalf("POST %s: decoding: %v", endpoint, err)
		}
	}
	return resp.StatusCode
}

// countingTransport counts requests per URL path.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	hits map[string]int
}

func newCountingClient() (*http.Client, *countingTransport) {
	ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone(), hits: map[string]int{}}
	return &http.Client{Transport: ct, Timeout: 5 * time.Second}, ct
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.hits[r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

func (c *countingTransport) close() {
	c.base.(*http.Transport).CloseIdleConnections()
}

// stepClock is a test clock: time.Now (monotonic) plus an adjustable offset.
type stepClock struct{ offset atomic.Int64 }

func (c *stepClock) now() time.Time                { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *stepClock) advance(d time.Duration) int64 { return c.offset.Add(int64(d)) }

// TestServerLifecycle checks the harness itself: the server starts fast,
// answers on loopback and exits cleanly on SIGTERM.
func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	if reason := serverUnavailable(); reason != "" {
		skipOrFail(t, reason)
	}
	start := time.Now()
	s, err := launch()
	if err != nil {
		skipOrFail(t, err.Error())
	}
	t.Logf("oidc-provider started in %v at %s", time.Since(start).Round(time.Millisecond), s.Issuer)
	if !strings.HasPrefix(s.Issuer, "http://127.0.0.1:") {
		t.Errorf("issuer %q is not on loopback", s.Issuer)
	}
	var pong struct {
		Pong bool `json:"pong"`
	}
	s.command(t, "ping", &pong)
	if !pong.Pong {
		t.Error("no pong")
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("exit after SIGTERM: %v", s.err)
		}
	case <-time.After(stopTimeout):
		_ = s.kill()
		t.Fatal("server ignored SIGTERM")
	}
}
