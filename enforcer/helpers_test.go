package enforcer_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// env is one end-to-end setup: a Keycloak-compatible server, an enforcer
// built from a JSON configuration, and an HTTP server running the
// middleware in front of an echo handler.
type env struct {
	kc  *keycloaktest.Server
	e   *enforcer.Enforcer
	srv *httptest.Server
}

// parseConfig parses a policy-enforcer JSON document and points it at kc.
func parseConfig(tb testing.TB, kc *keycloaktest.Server, doc string) enforcer.Config {
	tb.Helper()
	cfg, err := enforcer.ParseConfig([]byte(doc))
	require.NoError(tb, err)
	if kc != nil {
		cfg.Realm = kc.Realm()
		cfg.AuthServerURL = kc.URL()
		cfg.Resource = kc.ClientID()
		cfg.Credentials.Secret = enforcer.Secret(kc.ClientSecret())
	}
	return cfg
}

// echo answers 200 with the path it saw and what the context says.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	ac, ok := enforcer.FromContext(r.Context())
	fmt.Fprintf(w, "ok path=%s esc=%s ctx=%v granted=%v", r.URL.Path, r.URL.EscapedPath(), ok, ac.Granted())
})

func newEnv(tb testing.TB, doc string, kcOpts []keycloaktest.Option, opts ...enforcer.Option) *env {
	tb.Helper()
	kc := keycloaktest.New(tb, kcOpts...)
	cfg := parseConfig(tb, kc, doc)
	opts = append([]enforcer.Option{enforcer.WithHTTPClient(kc.HTTPClient())}, opts...)
	e, err := enforcer.New(context.Background(), cfg, opts...)
	require.NoError(tb, err)
	tb.Cleanup(e.Close)
	srv := httptest.NewServer(e.Middleware(echo))
	tb.Cleanup(srv.Close)
	return &env{kc: kc, e: e, srv: srv}
}

type resp struct {
	status int
	header http.Header
	body   string
}

// do sends method path with an optional bearer token through the middleware.
func (v *env) do(tb testing.TB, method, path, token string, hdr ...string) resp {
	tb.Helper()
	req, err := http.NewRequest(method, v.srv.URL+path, nil)
	require.NoError(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := v.srv.Client().Do(req)
	require.NoError(tb, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

// raw writes a raw request (request line and headers) to the server over TCP
// and returns the status code of the response.
func raw(tb testing.TB, srv *httptest.Server, requestLine string, headers ...string) int {
	tb.Helper()
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(tb, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	b.WriteString(requestLine + "\r\nHost: x\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(conn, b.String())
	require.NoError(tb, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(tb, err)
	defer res.Body.Close()
	return res.StatusCode
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
