package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/rptguard/rptguard/enforcer"
)

const proxySynopsis = `proxy --config FILE --upstream URL [--listen ADDR] [--identity-header NAME]

Runs the enforcer in front of an HTTP service: allowed requests are forwarded
to the upstream with the canonical (authorized) path; denials are answered by
the enforcer. The request's headers are forwarded as received (Authorization
included); the proxy adds no header derived from the token unless
--identity-header names one. Stops gracefully on SIGINT/SIGTERM.`

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("proxy", proxySynopsis, stderr)
	cfgFile := fs.String("config", "", "policy-enforcer JSON or keycloak.json (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	upstream := fs.String("upstream", "", "URL of the protected service, e.g. http://127.0.0.1:9000 (required)")
	identity := fs.String("identity-header", "", "header to set to the verified token's subject (sub); the client's own value is always removed")
	verbose := fs.Bool("v", false, "log decisions to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgFile == "" {
		return usageError(fs, "--config is required")
	}
	if *upstream == "" {
		return usageError(fs, "--upstream is required")
	}
	up, err := url.Parse(*upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return usageError(fs, "--upstream: want an absolute http(s) URL, got %q", *upstream)
	}
	if *identity != "" && !validHeaderName(*identity) {
		return usageError(fs, "--identity-header: %q is not a valid header name", *identity)
	}
	data, err := readFile(*cfgFile)
	if err != nil {
		return err
	}
	cfg, err := enforcer.ParseConfig(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *cfgFile, err)
	}
	var opts []enforcer.Option
	if *verbose {
		opts = append(opts, enforcer.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	enf, err := enforcer.New(ctx, cfg, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", *cfgFile, err)
	}
	defer enf.Close()

	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
			if *identity != "" {
				pr.Out.Header.Del(*identity)
				if ac, ok := enforcer.FromContext(pr.In.Context()); ok && ac.Claims() != nil && ac.Claims().Subject != "" {
					pr.Out.Header.Set(*identity, ac.Claims().Subject)
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
	}
	handler := enf.Middleware(rp)
	if *identity != "" {
		// Remove a client-sent identity header before anything sees it, on
		// denied and public paths too.
		inner := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(*identity)
			inner.ServeHTTP(w, r)
		})
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "rptguard proxy: listening on http://%s, forwarding to %s\n", ln.Addr(), up.Redacted())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stdout, "rptguard proxy: stopped")
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
