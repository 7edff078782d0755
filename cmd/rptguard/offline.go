package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
)

// decideFlags are the inputs shared by check and explain.
type decideFlags struct {
	config    string
	token     string
	tokenFile string
	method    string
	path      string
	headers   headerFlag
	jwks      string
	now       string
	policies  multiFlag
	issuer    string
	// Offline Keycloak policies.
	authzExport string
	client      string
	maps        multiFlag
}

func (f *decideFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "policy-enforcer JSON or keycloak.json (required)")
	fs.StringVar(&f.token, "token", "", "the bearer token (or use --token-file; neither: anonymous)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token ('-' for stdin)")
	fs.StringVar(&f.method, "method", "GET", "request method")
	fs.StringVar(&f.path, "path", "", "request target as on the request line, e.g. /api/orders/7?x=1 (required)")
	fs.Var(&f.headers, "header", "request header 'Name: value' (repeatable)")
	fs.StringVar(&f.jwks, "jwks", "", "JWKS file with the realm's public keys (offline); default: fetch the realm's JWKS")
	fs.StringVar(&f.now, "now", "", "evaluate at this RFC 3339 time instead of the current time")
	fs.Var(&f.policies, "policies", "Rego file, directory or bundle to load on top of rptguard.policies (repeatable)")
	fs.StringVar(&f.issuer, "issuer", "", "expected token issuer (default: auth-server-url + /realms/ + realm from the config)")
	fs.StringVar(&f.authzExport, "authz-export", "", "Keycloak authorization settings, client or realm export: decide with its policies, offline, for a plain access token (permissions-source offline)")
	fs.StringVar(&f.client, "client", "", "clientId of the resource server in a realm export (with --authz-export)")
	fs.Var(&f.maps, "map", "with --authz-export, map an unsupported (JavaScript) policy: 'NAME=allow', 'NAME=deny' or 'NAME=data.rptguard.rules.pkg.rule' (repeatable)")
}

// headerFlag collects repeated --header 'K: V' values.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(k, strings.TrimSpace(val))
	return nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(v string) error { *f = append(*f, v); return nil }

// offline is an enforcer that never calls the authorization server (except
// for the realm's JWKS when no --jwks file is given), plus what explain
// shows: the verified claims and the policy evaluation.
type offline struct {
	cfg      enforcer.Config
	enf      *enforcer.Enforcer
	verifier *rpt.Verifier
	rec      *recorder
	now      func() time.Time
	req      enforcer.Request
	// claims and verifyErr are the result of verifying the token (nil, nil
	// when anonymous).
	claims    *rpt.Claims
	verifyErr error
	// resolved lists the paths whose resource id was taken from the token's
	// permissions (by resource name), for explain.
	resolved []string
	// authz is the translated Keycloak export (--authz-export, or the
	// configuration's rptguard.authorization-settings), nil if none;
	// authzFile names it.
	authz         *keycloak.Result
	authzFile     string
	authzWarnings []string
}

// newOffline checks the flags and builds the offline enforcer. Errors about
// flags are usage errors (errUsage); the rest name the file or field.
func newOffline(ctx context.Context, fs *flag.FlagSet, f *decideFlags, explain bool) (*offline, error) {
	if f.config == "" {
		return nil, usageError(fs, "--config is required")
	}
	if f.path == "" {
		return nil, usageError(fs, "--path is required")
	}
	if f.token != "" && f.tokenFile != "" {
		return nil, usageError(fs, "--token and --token-file are mutually exclusive")
	}
	now := time.Now
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return nil, usageError(fs, "--now: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", f.now)
		}
		now = func() time.Time { return t }
	}
	token := f.token
	if f.tokenFile != "" {
		var b []byte
		var err error
		if f.tokenFile == "-" {
			b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		} else {
			b, err = readFile(f.tokenFile)
		}
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(b))
		token = strings.TrimPrefix(token, "Bearer ")
	}
	data, err := readFile(f.config)
	if err != nil {
		return nil, err
	}
	cfg, err := enforcer.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}

	o := &offline{cfg: cfg, now: now, req: enforcer.Request{
		Method: f.method, Path: f.path, Token: token, Header: f.headers.h,
	}}
	if err := o.loadAuthz(fs, f); err != nil {
		return nil, err
	}
	if err := o.buildVerifier(ctx, f); err != nil {
		return nil, err
	}
	if token != "" {
		o.claims, o.verifyErr = o.verifier.Verify(ctx, token)
		if errors.Is(o.verifyErr, rpt.ErrUnavailable) {
			o.Close()
			return nil, fmt.Errorf("token keys unavailable (use --jwks FILE to check offline): %w", o.verifyErr)
		}
	}
	o.resolveIDs()

	var srcs []policies.Source
	for _, p := range append(append([]string{}, cfg.RPTGuard.Policies...), f.policies...) {
		srcs = append(srcs, policySource(p))
	}
	eopts := []enforcer.Option{
		enforcer.WithoutServer(),
		enforcer.WithVerifier(o.verifier),
		enforcer.WithClock(now),
		enforcer.WithPolicyHeaders(headerNames(f.headers.h)...),
	}
	if o.authz != nil {
		srcs = append(srcs, o.authz.Source())
		eopts = append(eopts, enforcer.WithAuthorizationSettings(o.authz))
	}
	eng, err := policies.New(ctx, policies.WithSources(srcs...), policies.WithClock(now))
	if err != nil {
		o.Close()
		return nil, err
	}
	o.rec = &recorder{eng: eng, explain: explain}
	enf, err := enforcer.New(ctx, o.cfg, append(eopts, enforcer.WithEvaluator(o.rec))...)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}
	o.enf = enf
	return o, nil
}

// loadAuthz translates the Keycloak export of --authz-export (which makes
// every path without its own permissions-source offline) or, without it,
// the configuration's rptguard.authorization-settings: the enforcer's engine
// is the CLI's own (WithEvaluator), so the CLI loads the Rego itself.
func (o *offline) loadAuthz(fs *flag.FlagSet, f *decideFlags) error {
	s := &o.cfg.RPTGuard
	file, client := f.authzExport, f.client
	var topts []keycloak.Option
	switch {
	case file != "":
		var err error
		if topts, err = mappingOptions(fs, f.maps); err != nil {
			return err
		}
		s.PermissionsSource = enforcer.PermissionsOffline
	case client != "" || len(f.maps) > 0:
		return usageError(fs, "--client and --map need --authz-export")
	case s.AuthorizationSettings != "":
		file, client = s.AuthorizationSettings, s.AuthorizationClient
		for name, v := range s.PolicyMappings {
			m := keycloak.MapRule(v)
			switch v {
			case "allow":
				m = keycloak.MapAllow()
			case "deny":
				m = keycloak.MapDeny()
			}
			topts = append(topts, keycloak.WithPolicyMapping(name, m))
		}
	default:
		return nil
	}
	data, err := readFile(file)
	if err != nil {
		return err
	}
	var popts []keycloak.ParseOption
	if client != "" {
		popts = append(popts, keycloak.WithClientID(client))
	}
	ks, err := keycloak.Parse(data, popts...)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	res, err := keycloak.Translate(ks, topts...)
	if err != nil {
		if errors.Is(err, keycloak.ErrUnsupportedPolicy) {
			return fmt.Errorf("%s: %w (map each with --map NAME=allow|deny|data.REF)", file, err)
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	o.authz, o.authzFile = res, file
	o.authzWarnings = append(slices.Clone(ks.Warnings), res.Warnings...)
	return nil
}

// Close releases the enforcer, engine and verifier.
func (o *offline) Close() {
	if o.enf != nil {
		o.enf.Close()
	}
	if o.rec != nil {
		_ = o.rec.eng.Close()
	}
	if o.verifier != nil {
		o.verifier.Close()
	}
}

// decide runs the enforcer's pipeline once.
func (o *offline) decide(ctx context.Context) (enforcer.Decision, error) {
	return o.enf.Decide(ctx, o.req)
}

// buildVerifier builds the local verifier from the configuration: issuer,
// audience, algorithms and leeway as the enforcer would, keys from --jwks
// (served from memory, no network) or from the realm.
func (o *offline) buildVerifier(ctx context.Context, f *decideFlags) error {
	cfg := &o.cfg
	issuer := f.issuer
	if issuer == "" {
		if cfg.AuthServerURL == "" || cfg.Realm == "" {
			return fmt.Errorf("%s: auth-server-url and realm are needed to know the token issuer (or pass --issuer)", f.config)
		}
		issuer = strings.TrimSuffix(cfg.AuthServerURL, "/") + "/realms/" + url.PathEscape(cfg.Realm)
	}
	aud := cfg.RPTGuard.Audience
	if len(aud) == 0 && cfg.Resource != "" {
		aud = []string{cfg.Resource}
	}
	if len(aud) == 0 {
		return fmt.Errorf("%s: resource (or rptguard.audience) is needed to check the token audience", f.config)
	}
	leeway := time.Duration(cfg.RPTGuard.Leeway)
	if leeway == 0 {
		leeway = -1 // rptguard's "no leeway"; rpt's zero would mean 60 s
	}
	rc := rpt.Config{
		ClaimRules:   rpt.ClaimRules{Issuer: issuer, Audience: aud, Leeway: leeway},
		Algorithms:   cfg.RPTGuard.AllowedAlgorithms,
		MaxTokenSize: cfg.RPTGuard.MaxTokenSize,
		JWKSURL:      issuer + "/protocol/openid-connect/certs",
	}
	opts := []rpt.Option{rpt.WithClock(o.now)}
	if f.jwks != "" {
		keys, err := readFile(f.jwks)
		if err != nil {
			return err
		}
		rc.JWKSURL = "https://jwks.offline/certs"
		opts = append(opts, rpt.WithHTTPClient(&http.Client{Transport: staticJWKS(keys), Timeout: 5 * time.Second}))
	} else {
		rc.InsecureAllowHTTP = cfg.RPTGuard.InsecureAllowHTTP || isLoopbackURL(rc.JWKSURL)
		opts = append(opts, rpt.WithHTTPClient(&http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
	}
	v, err := rpt.New(ctx, rc, opts...)
	if err != nil {
		if f.jwks != "" {
			return fmt.Errorf("%s: %w", f.jwks, err)
		}
		return fmt.Errorf("realm keys (use --jwks FILE to check offline): %w", err)
	}
	o.verifier = v
	return nil
}

// resolveIDs fills in, for configured paths that name a resource but carry
// no id, the id the verified token's permissions give that name. Online, the
// enforcer resolves them through the Protection API; offline, the token
// (signed by the same realm) is the only source.
func (o *offline) resolveIDs() {
	if o.claims == nil {
		return
	}
	byName := map[string]string{}
	for _, p := range o.claims.Permissions() {
		if p.ResourceID != "" && p.ResourceName != "" {
			byName[p.ResourceName] = p.ResourceID
		}
	}
	paths := make([]enforcer.PathConfig, len(o.cfg.Paths))
	copy(paths, o.cfg.Paths)
	for i := range paths {
		if paths[i].ID == "" && paths[i].Name != "" {
			if id, ok := byName[paths[i].Name]; ok {
				paths[i].ID = id
				o.resolved = append(o.resolved, paths[i].Path)
			}
		}
	}
	o.cfg.Paths = paths
}

// recorder is the enforcer's Evaluator: it runs the policy engine and keeps
// the last input and decision for explain.
type recorder struct {
	eng     *policies.Engine
	explain bool

	mu    sync.Mutex
	in    *policies.Input
	out   policies.Decision
	err   error
	calls int
}

func (r *recorder) Evaluate(ctx context.Context, in policies.Input) (policies.Decision, error) {
	var d policies.Decision
	var err error
	if r.explain {
		d, err = r.eng.EvaluateExplain(ctx, in)
	} else {
		d, err = r.eng.Evaluate(ctx, in)
	}
	r.mu.Lock()
	r.in, r.out, r.err = &in, d, err
	r.calls++
	r.mu.Unlock()
	return d, err
}

// HasRule lets the enforcer check decision-rule names at start-up.
func (r *recorder) HasRule(name string) bool { return r.eng.HasRule(name) }

// last returns the last evaluation (in is nil when policies were not asked).
func (r *recorder) last() (*policies.Input, policies.Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in, r.out, r.err
}

// staticJWKS serves keys for every request, so --jwks needs no network.
type staticJWKS []byte

func (s staticJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(s)),
		ContentLength: int64(len(s)), Request: r,
	}, nil
}

func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// policySource maps a --policies argument like rptguard.policies entries.
func policySource(p string) policies.Source {
	switch {
	case strings.HasSuffix(p, ".tar.gz"):
		return policies.FromBundle(p)
	case strings.HasSuffix(p, ".rego"), strings.HasSuffix(p, ".json"), strings.HasSuffix(p, ".yaml"), strings.HasSuffix(p, ".yml"):
		return policies.FromFile(p)
	}
	if _, err := os.Stat(p + "/.manifest"); err == nil {
		return policies.FromBundle(p)
	}
	return policies.FromDir(p)
}

func headerNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		if !strings.EqualFold(k, "Authorization") && !strings.EqualFold(k, "Cookie") {
			names = append(names, k)
		}
	}
	return names
}
