package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

// demoPolicy is the custom Rego rule the demo's /api/users/{user}/orders path
// names: owners only (admins may read everyone's).
const demoPolicy = `package rptguard.rules.demo

import data.rptguard.keycloak

owner_only if input.request.path_params.user == keycloak.username

owner_only if keycloak.has_realm_role("admin")
`

// demoConfig is the demo API's policy-enforcer configuration: Keycloak's
// format, plus rptguard's extension keys (per-path introspection, a named
// Rego rule). The UMA variant answers 401 with a permission ticket instead
// of exchanging tokens itself.
func demoConfig(srv *keycloaktest.Server, umaFlow bool) enforcer.Config {
	cfg := enforcer.Config{
		Realm:         srv.Realm(),
		AuthServerURL: srv.URL(),
		Resource:      srv.ClientID(),
		Credentials:   enforcer.Credentials{Secret: enforcer.Secret(srv.ClientSecret())},
	}
	if umaFlow {
		cfg.UserManagedAccess = &enforcer.UserManagedAccessConfig{}
		cfg.Paths = []enforcer.PathConfig{
			{Name: "Orders", Path: "/shop/orders/*", Methods: []enforcer.MethodConfig{{Method: "GET", Scopes: []string{"orders:read"}}}},
		}
		return cfg
	}
	cfg.Paths = []enforcer.PathConfig{
		{Name: "Orders", Path: "/api/orders/*", Methods: []enforcer.MethodConfig{
			{Method: "GET", Scopes: []string{"orders:read"}},
			{Method: "POST", Scopes: []string{"orders:write"}},
		}},
		{Name: "Orders", Path: "/api/users/{user}/orders",
			Methods:  []enforcer.MethodConfig{{Method: "GET", Scopes: []string{"orders:read"}}},
			RPTGuard: enforcer.PathSettings{DecisionRule: "rules.demo.owner_only"}},
		{Name: "Admin", Path: "/api/admin/*", Scopes: []string{"admin:manage"},
			RPTGuard: enforcer.PathSettings{TokenVerification: enforcer.VerifyIntrospection}},
		{Path: "/api/health", EnforcementMode: enforcer.EnforcementDisabled},
	}
	return cfg
}

// demoEnv is the running demo: the realm, the protected API and its enforcers.
type demoEnv struct {
	kc       *keycloaktest.Server
	api      *http.Server
	apiURL   string
	enforcer *enforcer.Enforcer
	umaEnf   *enforcer.Enforcer
	obs      *lastDecision
	done     chan struct{}
}

// lastDecision is an enforcer.Observer remembering the last decision's
// reason, so the walk-through can show it (requests run one at a time).
type lastDecision struct {
	mu     sync.Mutex
	reason enforcer.Reason
}

func (l *lastDecision) Decision(reason enforcer.Reason, _ int, _ time.Duration) {
	l.mu.Lock()
	l.reason = reason
	l.mu.Unlock()
}
func (l *lastDecision) Cache(string, bool)                {}
func (l *lastDecision) Call(string, time.Duration, error) {}
func (l *lastDecision) take() enforcer.Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reason
	l.reason = ""
	return r
}

func startDemo(ctx context.Context, addr string) (*demoEnv, error) {
	kc, err := keycloaktest.Start(demoRealm()...)
	if err != nil {
		return nil, err
	}
	env := &demoEnv{kc: kc}
	env.obs = &lastDecision{}
	opts := []enforcer.Option{
		enforcer.WithHTTPClient(kc.HTTPClient()),
		enforcer.WithObserver(env.obs),
		enforcer.WithPolicies(policies.FromModule("demo.rego", demoPolicy)),
	}
	if env.enforcer, err = enforcer.New(ctx, demoConfig(kc, false), opts...); err != nil {
		env.Close()
		return nil, fmt.Errorf("demo enforcer: %w", err)
	}
	if env.umaEnf, err = enforcer.New(ctx, demoConfig(kc, true), opts...); err != nil {
		env.Close()
		return nil, fmt.Errorf("demo UMA enforcer: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", env.enforcer.Middleware(http.HandlerFunc(demoHandler)))
	mux.Handle("/shop/", env.umaEnf.Middleware(http.HandlerFunc(demoHandler)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		env.Close()
		return nil, err
	}
	env.apiURL = "http://" + ln.Addr().String()
	env.api = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	env.done = make(chan struct{})
	go func() {
		defer close(env.done)
		_ = env.api.Serve(ln)
	}()
	return env, nil
}

// Close stops everything startDemo started.
func (env *demoEnv) Close() {
	if env.api != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = env.api.Shutdown(sctx)
		cancel()
		<-env.done
	}
	if env.enforcer != nil {
		env.enforcer.Close()
	}
	if env.umaEnf != nil {
		env.umaEnf.Close()
	}
	env.kc.Close()
}

// demoHandler is the protected API: it answers with what the enforcer let
// through, read from the AuthorizationContext.
func demoHandler(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"path": r.URL.Path}
	if ac, ok := enforcer.FromContext(r.Context()); ok && ac.Claims() != nil {
		out["user"] = ac.Claims().PreferredUsername
		out["resource"] = ac.Resource().Name
		out["scopes"] = ac.RequiredScopes()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type demoStep struct {
	method, path, who, note string
	token                   string
	want                    int
	// before runs just before the request (revoke a token, fetch an RPT…)
	before func(ctx context.Context) error
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [--serve] [--addr 127.0.0.1:PORT]", stderr)
	serve := fs.Bool("serve", false, "keep the realm and the API running after the walk-through and print curl commands")
	addr := fs.String("addr", "127.0.0.1:0", "loopback address of the demo API")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !isLoopbackAddr(*addr) {
		return usageError(fs, "--addr must be a loopback address (the demo realm uses test keys)")
	}
	start := time.Now()
	env, err := startDemo(ctx, *addr)
	if err != nil {
		return err
	}
	defer env.Close()
	kc := env.kc

	fmt.Fprintln(stdout, "rptguard demo: an order API behind the enforcer, on an embedded Keycloak-compatible realm")
	fmt.Fprintf(stdout, "  realm %s   API %s\n", kc.Issuer(), env.apiURL)
	fmt.Fprintln(stdout, "  alice: orders:read on Orders   bob: every scope on Orders and Admin")
	fmt.Fprintln(stdout)

	alice := kc.AccessToken("alice")
	bob := kc.AccessToken("bob")
	revoked := kc.AccessToken("bob")
	var ticketRPT string
	umaClient := func(ctx context.Context) (*uma.Client, error) {
		return uma.New(ctx, uma.Config{
			AuthServerURL: kc.URL(), Realm: kc.Realm(), ClientID: kc.ClientID(),
			Credentials:       uma.Credentials{Secret: uma.Secret(kc.ClientSecret())},
			InsecureAllowHTTP: true, // loopback test realm
		}, uma.WithHTTPClient(kc.HTTPClient()))
	}
	var challenge string
	steps := []demoStep{
		{method: "GET", path: "/api/health", who: "-", want: 200, note: "DISABLED path: public"},
		{method: "GET", path: "/api/orders/7", who: "-", want: 401, note: "no token"},
		{method: "GET", path: "/api/orders/7", who: "alice", token: alice, want: 200, note: "token exchanged for an RPT (UMA grant), then cached"},
		{method: "POST", path: "/api/orders", who: "alice", token: alice, want: 403, note: "alice lacks orders:write"},
		{method: "POST", path: "/api/orders", who: "bob", token: bob, want: 200, note: "bob holds orders:write"},
		{method: "GET", path: "/api/admin/users", who: "alice", token: alice, want: 403, note: "no permission on Admin"},
		{method: "GET", path: "/api/admin/users", who: "bob", token: bob, want: 200, note: "Admin is verified by introspection"},
		{method: "GET", path: "/api/admin/users", who: "bob*", token: revoked, want: 401, note: "*another token of bob's, revoked at the realm",
			before: func(context.Context) error { kc.Revoke(revoked); return nil }},
		{method: "GET", path: "/api/users/alice/orders", who: "alice", token: alice, want: 200, note: "Rego rule owner_only holds"},
		{method: "GET", path: "/api/users/bob/orders", who: "alice", token: alice, want: 403, note: "Rego rule owner_only: not the owner"},
		{method: "GET", path: "/api/orders/%2e%2e/admin/users", who: "bob", token: bob, want: 400, note: "ambiguous path refused (strict canonicalization)"},
		{method: "GET", path: "/shop/orders/7", who: "alice", token: alice, want: 401, note: "UMA: 401 + WWW-Authenticate: UMA … ticket=…"},
		{method: "GET", path: "/shop/orders/7", who: "alice+RPT", want: 200, note: "client traded the ticket for an RPT and retried",
			before: func(ctx context.Context) error {
				ch, err := uma.ParseChallenge(challenge)
				if err != nil {
					return fmt.Errorf("UMA challenge: %w", err)
				}
				c, err := umaClient(ctx)
				if err != nil {
					return err
				}
				defer c.Close()
				tr, err := c.RequestRPTForChallenge(ctx, ch, uma.GrantRequest{SubjectToken: alice})
				if err != nil {
					return fmt.Errorf("UMA grant: %w", err)
				}
				ticketRPT = tr.AccessToken
				return nil
			}},
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\trequest\tuser\tstatus\treason\twhy")
	hc := &http.Client{Timeout: 10 * time.Second}
	failed := 0
	for i, st := range steps {
		if st.before != nil {
			if err := st.before(ctx); err != nil {
				return err
			}
		}
		tok := st.token
		if st.who == "alice+RPT" {
			tok = ticketRPT
		}
		env.obs.take()
		resp, err := demoRequest(ctx, hc, st.method, env.apiURL+st.path, tok)
		if err != nil {
			return err
		}
		if h := resp.Header.Get("WWW-Authenticate"); strings.HasPrefix(h, "UMA ") {
			challenge = h
		}
		mark := ""
		if resp.StatusCode != st.want {
			mark = fmt.Sprintf("  (UNEXPECTED: want %d)", st.want)
			failed++
		}
		fmt.Fprintf(tw, "%d\t%s %s\t%s\t%d\t%s\t%s%s\n", i+1, st.method, st.path, st.who, resp.StatusCode, orDash(string(env.obs.take())), st.note, mark)
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "\n%d requests in %s; the realm received %d token-endpoint and %d introspection calls.\n",
		len(steps), time.Since(start).Round(time.Millisecond),
		kc.Requests(keycloaktest.EndpointToken), kc.Requests(keycloaktest.EndpointIntrospection))
	fmt.Fprintln(stdout, "Debug a denial offline: rptguard explain --config FILE --token TOKEN --path /api/orders (see README).")
	if failed > 0 {
		return fmt.Errorf("%d step(s) did not answer as expected", failed)
	}
	if !*serve {
		return nil
	}
	dir, err := printServe(stdout, env)
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// printServe writes the demo configuration into a temporary directory
// (returned, for the caller to remove) and prints how to try the API.
func printServe(w io.Writer, env *demoEnv) (string, error) {
	kc := env.kc
	dir, err := writeDemoConfig(kc)
	if err != nil {
		return dir, err
	}
	fmt.Fprintln(w, "\nServing until interrupted (Ctrl-C). Realm:")
	printRealm(w, kc, "")
	rpt := kc.IssueRPT("alice", rpt.Permission{ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"orders:read"}})
	fmt.Fprintf(w, "\nTry (tokens last 5 minutes; test keys only):\n")
	fmt.Fprintf(w, "  ALICE=$(curl -s -u %s:%s -d grant_type=password -d username=alice -d password=alice %s | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n",
		kc.ClientID(), kc.ClientSecret(), kc.TokenURL())
	fmt.Fprintf(w, "  curl -i -H \"Authorization: Bearer $ALICE\" %s/api/orders/7\n", env.apiURL)
	fmt.Fprintf(w, "  curl -i -X POST -H \"Authorization: Bearer $ALICE\" %s/api/orders\n", env.apiURL)
	fmt.Fprintf(w, "  curl -i -H \"Authorization: Bearer $ALICE\" %s/api/users/bob/orders\n", env.apiURL)
	fmt.Fprintf(w, "  curl -i -H \"Authorization: Bearer $ALICE\" %s/shop/orders/7\n", env.apiURL)
	fmt.Fprintf(w, "\nAnd ask why (offline; the config is in %s):\n", dir)
	fmt.Fprintf(w, "  ALICE_RPT=%s\n", rpt)
	fmt.Fprintf(w, "  go run ./cmd/rptguard explain --config %s --token \"$ALICE_RPT\" --method POST --path /api/orders\n",
		filepath.Join(dir, "policy-enforcer.json"))
	fmt.Fprintf(w, "  go run ./cmd/rptguard check --config %s --token \"$ALICE_RPT\" --path /api/users/bob/orders\n",
		filepath.Join(dir, "policy-enforcer.json"))
	return dir, nil
}

// writeDemoConfig writes the demo API's configuration and Rego rule into a
// new temporary directory, for check and explain.
func writeDemoConfig(kc *keycloaktest.Server) (string, error) {
	dir, err := os.MkdirTemp("", "rptguard-demo-")
	if err != nil {
		return "", err
	}
	rego := filepath.Join(dir, "demo.rego")
	if err := os.WriteFile(rego, []byte(demoPolicy), 0o600); err != nil {
		return "", err
	}
	cfg := demoConfig(kc, false)
	cfg.RPTGuard.Policies = []string{rego}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "policy-enforcer.json"), append(b, '\n'), 0o600)
}

func demoRequest(ctx context.Context, hc *http.Client, method, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp, nil
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
