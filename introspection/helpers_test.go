package introspection

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// fakeClock is a settable clock shared by the client and keycloaktest.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// safeBuffer is a goroutine-safe log sink.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a keycloaktest server, a shared clock and a client config for it.
type env struct {
	srv   *keycloaktest.Server
	clock *fakeClock
	logs  *safeBuffer
}

func newEnv(tb testing.TB, opts ...keycloaktest.Option) *env {
	tb.Helper()
	clock := newFakeClock()
	opts = append([]keycloaktest.Option{keycloaktest.WithClock(clock.Now)}, opts...)
	return &env{srv: keycloaktest.New(tb, opts...), clock: clock, logs: &safeBuffer{}}
}

// config returns a Config that works against the env's server.
func (e *env) config() Config {
	return Config{
		Endpoint:          e.srv.IntrospectionURL(),
		ClientID:          e.srv.ClientID(),
		ClientSecret:      e.srv.ClientSecret(),
		InsecureAllowHTTP: true,
		Timeout:           2 * time.Second,
		Rules:             rpt.ClaimRules{Issuer: e.srv.Issuer(), Audience: []string{e.srv.ClientID()}},
	}
}

// client builds a Client from the env's config after mutate.
func (e *env) client(tb testing.TB, mutate func(*Config)) *Client {
	tb.Helper()
	cfg := e.config()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg,
		WithHTTPClient(e.srv.HTTPClient()),
		WithClock(e.clock.Now),
		WithLogger(slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	require.NoError(tb, err)
	return c
}

func (e *env) introspections() int { return e.srv.Requests(keycloaktest.EndpointIntrospection) }

func newTestLogger(w *safeBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
