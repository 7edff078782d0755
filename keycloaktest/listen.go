package keycloaktest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
)

// WithListenAddr makes the server listen on addr ("127.0.0.1:8180",
// "[::1]:8180", "localhost:8180"; port 0 picks a free one) instead of a
// random loopback port, so that URLs, issuer and tokens stay the same across
// restarts (the CLI's dev-keycloak --addr). Only loopback addresses are
// accepted: the server's keys and secrets are test values and must never be
// reachable from another machine. Start fails if addr is not loopback or
// cannot be bound.
func WithListenAddr(addr string) Option { return func(c *config) { c.listenAddr = addr } }

// startHTTP starts the httptest server for h, on c.listenAddr when set.
func startHTTP(c *config, h http.Handler) (*httptest.Server, error) {
	if c.listenAddr == "" {
		if c.tls {
			return httptest.NewTLSServer(h), nil
		}
		return httptest.NewServer(h), nil
	}
	host, _, err := net.SplitHostPort(c.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("keycloaktest: listen address %q: %w", c.listenAddr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("keycloaktest: listen address %q is not a loopback address", c.listenAddr)
		}
	}
	ln, err := net.Listen("tcp", c.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("keycloaktest: listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("keycloaktest: listen address %q did not resolve to loopback", c.listenAddr)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	if c.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return srv, nil
}
