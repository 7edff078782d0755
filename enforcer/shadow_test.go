package enforcer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// shadowPaths adds two-scope methods to offlinePaths: PATCH needs read AND
// write, PUT read OR write.
const shadowPaths = `"paths":[
	{"path":"/orders/*","methods":[
		{"method":"GET","scopes":["read"]},{"method":"POST","scopes":["write"]},{"method":"DELETE","scopes":["delete"]},
		{"method":"PATCH","scopes":["read","write"]},
		{"method":"PUT","scopes":["read","write"],"scopes-enforcement-mode":"ANY"}]},
	{"path":"/reports","name":"Reports","methods":[{"method":"GET","scopes":["read"]},{"method":"POST","scopes":["export"]}]},
	{"path":"/archive","name":"Archive","scopes":["read"]},
	{"path":"/public/*"}]`

// shadowDoc is an offline configuration with rptguard.offline-shadow.
func shadowDoc(shadow string) string {
	return `{` + shadowPaths + `,"rptguard":{"permissions-source":"offline",
		"authorization-settings":"` + offlineExport + `","authorization-client":"orders-api",
		"offline-shadow":` + shadow + `}}`
}

// shadowObserver records shadow events (and implements the plain Observer).
type shadowObserver struct {
	mu     sync.Mutex
	events []enforcer.ShadowEvent
	calls  atomic.Int64 // Call("uma_shadow")
}

func (o *shadowObserver) Decision(enforcer.Reason, int, time.Duration) {}
func (o *shadowObserver) Cache(string, bool)                           {}
func (o *shadowObserver) Call(endpoint string, _ time.Duration, _ error) {
	if endpoint == "uma_shadow" {
		o.calls.Add(1)
	}
}

func (o *shadowObserver) Shadow(ev enforcer.ShadowEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, ev)
}

func (o *shadowObserver) all() []enforcer.ShadowEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]enforcer.ShadowEvent(nil), o.events...)
}

func (o *shadowObserver) count() map[enforcer.ShadowOutcome]int {
	n := map[enforcer.ShadowOutcome]int{}
	for _, ev := range o.all() {
		n[ev.Outcome]++
	}
	return n
}

var _ enforcer.ShadowObserver = (*shadowObserver)(nil)

// logLines decodes the JSON log lines at level.
func logLines(tb testing.TB, buf *syncBuffer, level string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal([]byte(line), &m))
		if m["level"] == level {
			out = append(out, m)
		}
	}
	return out
}

// disagreements returns the warning lines reporting a disagreement.
func disagreements(tb testing.TB, buf *syncBuffer) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, m := range logLines(tb, buf, "WARN") {
		if msg, _ := m["msg"].(string); strings.Contains(msg, "disagrees") {
			out = append(out, m)
		}
	}
	return out
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

func always(float64) bool { return true }

type shadowUser struct{ name, azp string }

var shadowUsers = []shadowUser{{"alice", "web-app"}, {"bob", "cli"}, {"carol", "cli"}, {"dave", "cli"}, {"erin", "cli"}}

func userToken(kc *keycloaktest.Server, u shadowUser) string {
	return kc.AccessToken(u.name, keycloaktest.WithAuthorizedParty(u.azp), keycloaktest.WithClaim("scope", "openid orders.read"))
}

// TestShadowAgreement: with keycloaktest loaded from the same export, every
// sampled offline decision agrees with Keycloak's response_mode=decision
// answer, for several users, paths and methods, ALL and ANY scope modes
// included; the grant is sent with the caller's token as subject_token.
func TestShadowAgreement(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	obs := &shadowObserver{}
	logs := &syncBuffer{}
	v := newOfflineEnv(t, kc, shadowDoc(`{"sample-rate":1,"max-in-flight":64,"timeout":"10s"}`), offlineNow,
		enforcer.WithObserver(obs), enforcer.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.Zero(t, kc.Requests(keycloaktest.EndpointToken))

	requests := []struct{ method, path string }{
		{"GET", "/orders/1"}, {"POST", "/orders/1"}, {"DELETE", "/orders/1"}, {"PATCH", "/orders/1"}, {"PUT", "/orders/1"},
		{"GET", "/reports"}, {"POST", "/reports"}, {"GET", "/archive"}, {"GET", "/public/x"},
	}
	answers := map[string]bool{}
	for _, u := range shadowUsers {
		token := userToken(kc, u)
		for _, r := range requests {
			got := v.do(t, r.method, r.path, token)
			require.Contains(t, []int{200, 403}, got.status)
			answers[u.name+" "+r.method+" "+r.path] = got.status == http.StatusOK
		}
	}
	want := len(shadowUsers) * len(requests)
	require.Eventually(t, func() bool { return len(obs.all()) >= want }, 20*time.Second, 5*time.Millisecond)
	v.e.Close()
	events := obs.all()
	require.Len(t, events, want, "every decision sampled, none dropped")
	for _, ev := range events {
		assert.Equal(t, enforcer.ShadowAgreed, ev.Outcome, "%s %v: offline %v, server %v, err %v", ev.Template, ev.Scopes, ev.Offline, ev.Server, ev.Err)
		assert.Equal(t, ev.Offline, ev.Server)
		assert.NoError(t, ev.Err)
		assert.Len(t, ev.TokenHash, 16)
	}
	assert.Equal(t, int64(len(events)), obs.calls.Load())
	assert.Empty(t, disagreements(t, logs), "no disagreement logged")
	// Both answers occur, and PATCH (ALL) and PUT (ANY) differ for someone
	// granted one of the two scopes: ALL is asked scope by scope.
	var allowed, denied, partial int
	for k, a := range answers {
		if a {
			allowed++
		} else {
			denied++
		}
		if user, _, _ := strings.Cut(k, " "); !a && strings.HasSuffix(k, "PATCH /orders/1") && answers[user+" PUT /orders/1"] {
			partial++
		}
	}
	assert.Positive(t, allowed)
	assert.Positive(t, denied)
	assert.Positive(t, partial, "a user with read but not write (or the reverse) exercises ALL against ANY")

	last := kc.LastRequest(keycloaktest.EndpointToken)
	require.NotNil(t, last)
	assert.Equal(t, "urn:ietf:params:oauth:grant-type:uma-ticket", last.Form.Get("grant_type"))
	assert.Equal(t, "decision", last.Form.Get("response_mode"))
	assert.Equal(t, kc.ClientID(), last.Form.Get("audience"))
	assert.NotEmpty(t, last.Form.Get("subject_token"))
}

// grantAll and denyAll replace keycloaktest's policies to force
// disagreements.
var (
	grantAll = evaluatorFunc(func(_ context.Context, _ keycloaktest.Subject, req []keycloaktest.RequestedPermission, _ map[string][]string) ([]rpt.Permission, error) {
		out := make([]rpt.Permission, 0, len(req))
		for _, r := range req {
			out = append(out, rpt.Permission{ResourceID: r.ResourceID, Scopes: r.Scopes})
		}
		return out, nil
	})
	denyAll = evaluatorFunc(func(context.Context, keycloaktest.Subject, []keycloaktest.RequestedPermission, map[string][]string) ([]rpt.Permission, error) {
		return nil, nil
	})
)

type evaluatorFunc func(ctx context.Context, sub keycloaktest.Subject, req []keycloaktest.RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error)

func (f evaluatorFunc) Evaluate(ctx context.Context, sub keycloaktest.Subject, req []keycloaktest.RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error) {
	return f(ctx, sub, req, pushed)
}

// TestShadowDisagreement: when Keycloak answers otherwise, the observer and
// a warning log line report it with the path, resource, scopes, token
// fingerprint and both answers (never the token); the request's answer is
// the offline one.
func TestShadowDisagreement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		eval       keycloaktest.Evaluator
		user       shadowUser
		method     string
		wantStatus int
		wantScopes []string
		wantAsked  []string // the permission parameters sent, one request each
	}{
		{name: "server grants what offline denies", eval: grantAll, user: shadowUser{"dave", "cli"}, method: "GET", wantStatus: 403,
			wantScopes: []string{"read"}, wantAsked: []string{"Orders#read"}},
		{name: "server denies what offline grants", eval: denyAll, user: shadowUser{"alice", "web-app"}, method: "GET", wantStatus: 200,
			wantScopes: []string{"read"}, wantAsked: []string{"Orders#read"}},
		{name: "all mode, server grants", eval: grantAll, user: shadowUser{"dave", "cli"}, method: "PATCH", wantStatus: 403,
			wantScopes: []string{"read", "write"}, wantAsked: []string{"Orders#read", "Orders#write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			export, err := os.ReadFile(offlineExport)
			require.NoError(t, err)
			kc := keycloaktest.New(t, keycloaktest.WithAuthorizationSettings(export), keycloaktest.WithAuthorizationClient("orders-api"),
				keycloaktest.WithClock(func() time.Time { return offlineNow }), keycloaktest.WithEvaluator(tt.eval))
			obs := &shadowObserver{}
			logs := &syncBuffer{}
			v := newOfflineEnv(t, kc, shadowDoc(`{"sample-rate":1}`), offlineNow,
				enforcer.WithObserver(obs), enforcer.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
			token := userToken(kc, tt.user)
			got := v.do(t, tt.method, "/orders/42", token)
			assert.Equal(t, tt.wantStatus, got.status, "the answer is the offline one")
			require.Eventually(t, func() bool { return len(obs.all()) > 0 }, 10*time.Second, 5*time.Millisecond)
			v.e.Close()

			events := obs.all()
			require.Len(t, events, 1)
			ev := events[0]
			assert.Equal(t, enforcer.ShadowDisagreed, ev.Outcome)
			assert.Equal(t, "/orders/*", ev.Template)
			assert.Equal(t, "Orders", ev.Resource.Name)
			assert.Equal(t, tt.wantScopes, ev.Scopes)
			assert.Equal(t, enforcer.ScopesAll, ev.ScopesMode)
			assert.Equal(t, tt.wantStatus == 200, ev.Offline)
			assert.Equal(t, tt.wantStatus != 200, ev.Server)
			assert.Equal(t, tokenHash(token), ev.TokenHash)
			assert.NoError(t, ev.Err)
			assert.Equal(t, len(tt.wantAsked), kc.Requests(keycloaktest.EndpointToken))
			last := kc.LastRequest(keycloaktest.EndpointToken).Form
			assert.Equal(t, token, last.Get("subject_token"), "the caller's token is the subject")
			assert.Equal(t, "decision", last.Get("response_mode"))
			assert.Equal(t, kc.ClientID(), last.Get("audience"))
			assert.Equal(t, []string{tt.wantAsked[len(tt.wantAsked)-1]}, last["permission"])

			warns := disagreements(t, logs)
			require.Len(t, warns, 1)
			w := warns[0]
			assert.Contains(t, w["msg"], "disagrees")
			assert.Equal(t, tokenHash(token), w["token"])
			assert.Equal(t, "/orders/*", w["path"])
			assert.Equal(t, "Orders", w["resource"])
			assert.Equal(t, "ALL", w["mode"])
			assert.Equal(t, map[bool]string{true: "allow", false: "deny"}[ev.Offline], w["offline"])
			assert.Equal(t, map[bool]string{true: "allow", false: "deny"}[ev.Server], w["server"])
			assert.NotContains(t, logs.String(), token)
			assert.NotContains(t, logs.String(), token[strings.LastIndexByte(token, '.')+1:], "no signature either")
		})
	}
}

// TestShadowUnavailable: a failing or slow server is reported as
// unavailable, never as a disagreement, and never changes the answer.
func TestShadowUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(*keycloaktest.Server)
		timeout string
		wantErr error
	}{
		{name: "5xx", setup: func(kc *keycloaktest.Server) { kc.Fail(keycloaktest.EndpointToken, http.StatusBadGateway) }, timeout: "5s"},
		{name: "timeout", setup: func(kc *keycloaktest.Server) { kc.SetLatency(keycloaktest.EndpointToken, time.Minute) }, timeout: "50ms", wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := offlineServer(t, offlineNow)
			obs := &shadowObserver{}
			v := newOfflineEnv(t, kc, shadowDoc(`{"sample-rate":1,"timeout":"`+tt.timeout+`"}`), offlineNow, enforcer.WithObserver(obs))
			tt.setup(kc)
			assert.Equal(t, 200, v.do(t, "GET", "/orders/1", userToken(kc, shadowUsers[0])).status)
			assert.Equal(t, 403, v.do(t, "GET", "/orders/1", userToken(kc, shadowUser{"dave", "cli"})).status)
			require.Eventually(t, func() bool { return len(obs.all()) == 2 }, 10*time.Second, 5*time.Millisecond)
			for _, ev := range obs.all() {
				assert.Equal(t, enforcer.ShadowUnavailable, ev.Outcome)
				require.Error(t, ev.Err)
				if tt.wantErr != nil {
					assert.ErrorIs(t, ev.Err, tt.wantErr)
				}
				assert.NotContains(t, ev.Err.Error(), "eyJ", "no token in the error")
			}
		})
	}
}

// TestShadowSampling: rate 0 asks nothing; the default sampler at rate 1
// asks for every decision; an injected sampler decides deterministically and
// receives the configured rate; Reload changes the rate.
func TestShadowSampling(t *testing.T) {
	t.Parallel()
	type run struct {
		name      string
		shadow    string
		sampler   func(float64) bool
		wantCalls int
	}
	var seen atomic.Value
	var n atomic.Int64
	everyThird := func(rate float64) bool {
		seen.Store(rate)
		return n.Add(1)%3 == 0
	}
	tests := []run{
		{name: "rate 0", shadow: `{"sample-rate":0}`, wantCalls: 0},
		{name: "rate 0 with a sampler that always samples", shadow: `{}`, sampler: always, wantCalls: 0},
		{name: "rate 1", shadow: `{"sample-rate":1,"max-in-flight":16}`, wantCalls: 9},
		{name: "deterministic sampler", shadow: `{"sample-rate":0.25,"max-in-flight":16}`, sampler: everyThird, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := offlineServer(t, offlineNow)
			obs := &shadowObserver{}
			opts := []enforcer.Option{enforcer.WithObserver(obs)}
			if tt.sampler != nil {
				opts = append(opts, enforcer.WithShadowSampler(tt.sampler))
			}
			v := newOfflineEnv(t, kc, shadowDoc(tt.shadow), offlineNow, opts...)
			token := userToken(kc, shadowUsers[1])
			for range 9 {
				v.do(t, "GET", "/orders/1", token)
			}
			require.Eventually(t, func() bool { return len(obs.all()) >= tt.wantCalls }, 10*time.Second, 5*time.Millisecond)
			v.e.Close()
			assert.Equal(t, tt.wantCalls, kc.Requests(keycloaktest.EndpointToken))
			assert.Len(t, obs.all(), tt.wantCalls)
			if tt.sampler != nil && tt.wantCalls > 0 {
				assert.InDelta(t, 0.25, seen.Load(), 0)
			}
		})
	}
	t.Run("reload", func(t *testing.T) {
		t.Parallel()
		kc := offlineServer(t, offlineNow)
		v := newOfflineEnv(t, kc, shadowDoc(`{"sample-rate":1}`), offlineNow)
		token := userToken(kc, shadowUsers[1])
		v.do(t, "GET", "/orders/1", token)
		require.Eventually(t, func() bool { return kc.Requests(keycloaktest.EndpointToken) == 1 }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, v.e.Reload(parseConfig(t, kc, shadowDoc(`{"sample-rate":0}`))))
		for range 5 {
			v.do(t, "GET", "/orders/1", token)
		}
		v.e.Close()
		assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointToken))
	})
}

// TestShadowBounded: with a slow server, at most max-in-flight checks run;
// further sampled decisions are dropped, and every request is answered
// while the checks are still waiting (shadow work never delays an answer).
// Close cancels the checks and waits for them.
func TestShadowBounded(t *testing.T) {
	t.Parallel()
	kc := offlineServer(t, offlineNow)
	obs := &shadowObserver{}
	v := newOfflineEnv(t, kc, shadowDoc(`{"sample-rate":1,"max-in-flight":2,"timeout":"1m"}`), offlineNow,
		enforcer.WithObserver(obs), enforcer.WithShadowSampler(always))
	kc.SetLatency(keycloaktest.EndpointToken, time.Minute)
	alice, dave := userToken(kc, shadowUsers[0]), userToken(kc, shadowUser{"dave", "cli"})
	for i := range 10 {
		if i%2 == 0 {
			assert.Equal(t, 200, v.do(t, "GET", "/orders/1", alice).status)
		} else {
			assert.Equal(t, 403, v.do(t, "GET", "/orders/1", dave).status)
		}
	}
	// All ten answered; the two checks in flight have not finished.
	n := obs.count()
	assert.Equal(t, map[enforcer.ShadowOutcome]int{enforcer.ShadowDropped: 8}, n)
	require.Eventually(t, func() bool { return kc.Requests(keycloaktest.EndpointToken) == 2 }, 10*time.Second, 5*time.Millisecond)

	closed := make(chan struct{})
	go func() { v.e.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not stop the shadow checks")
	}
	n = obs.count()
	assert.Equal(t, 8, n[enforcer.ShadowDropped])
	assert.Equal(t, 2, n[enforcer.ShadowUnavailable], "cancelled by Close")
	for _, ev := range obs.all() {
		if ev.Outcome == enforcer.ShadowUnavailable {
			assert.ErrorIs(t, ev.Err, context.Canceled)
		}
	}
	// After Close nothing new starts.
	_, _ = v.e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/orders/1", Token: alice})
	assert.Len(t, obs.all(), 10)
	assert.Equal(t, 2, kc.Requests(keycloaktest.EndpointToken))
}

// TestShadowConfig covers parsing and validation of rptguard.offline-shadow
// and New's refusal without an authorization server.
func TestShadowConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		doc       string
		wantErr   bool
		wantField string
	}{
		{name: "complete", doc: `"permissions-source":"offline","offline-shadow":{"sample-rate":0.01,"max-in-flight":4,"timeout":"2s"}`},
		{name: "empty", doc: `"permissions-source":"offline","offline-shadow":{}`},
		{name: "null is absent", doc: `"offline-shadow":null`},
		{name: "rate above 1", doc: `"permissions-source":"offline","offline-shadow":{"sample-rate":1.5}`, wantErr: true, wantField: "rptguard.offline-shadow.sample-rate"},
		{name: "negative rate", doc: `"permissions-source":"offline","offline-shadow":{"sample-rate":-0.1}`, wantErr: true, wantField: "rptguard.offline-shadow.sample-rate"},
		{name: "rate not a number", doc: `"permissions-source":"offline","offline-shadow":{"sample-rate":"1%"}`, wantErr: true, wantField: "rptguard.offline-shadow.sample-rate"},
		{name: "too many in flight", doc: `"permissions-source":"offline","offline-shadow":{"max-in-flight":5000}`, wantErr: true, wantField: "rptguard.offline-shadow.max-in-flight"},
		{name: "negative in flight", doc: `"permissions-source":"offline","offline-shadow":{"max-in-flight":-1}`, wantErr: true, wantField: "rptguard.offline-shadow.max-in-flight"},
		{name: "timeout too long", doc: `"permissions-source":"offline","offline-shadow":{"timeout":"2m"}`, wantErr: true, wantField: "rptguard.offline-shadow.timeout"},
		{name: "bad timeout", doc: `"permissions-source":"offline","offline-shadow":{"timeout":2}`, wantErr: true, wantField: "rptguard.offline-shadow.timeout"},
		{name: "unknown key", doc: `"permissions-source":"offline","offline-shadow":{"rate":1}`, wantErr: true, wantField: "rptguard.offline-shadow.rate"},
		{name: "not an object", doc: `"permissions-source":"offline","offline-shadow":true`, wantErr: true, wantField: "rptguard.offline-shadow"},
		{name: "nothing offline", doc: `"offline-shadow":{"sample-rate":1}`, wantErr: true, wantField: "rptguard.offline-shadow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := enforcer.ParseConfig([]byte(`{"paths":[{"path":"/a"}],"rptguard":{` + tt.doc + `}}`))
			if tt.wantErr {
				require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
				var ce *enforcer.ConfigError
				require.True(t, errors.As(err, &ce), "%v", err)
				assert.Equal(t, tt.wantField, ce.Field)
				return
			}
			require.NoError(t, err)
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			again, err := enforcer.ParseConfig(b)
			require.NoError(t, err)
			assert.Equal(t, cfg, again, "round trip")
		})
	}
	t.Run("a path offline is enough", func(t *testing.T) {
		t.Parallel()
		cfg, err := enforcer.ParseConfig([]byte(`{"paths":[{"path":"/a","rptguard":{"permissions-source":"offline"}}],"rptguard":{"offline-shadow":{"sample-rate":1}}}`))
		require.NoError(t, err)
		assert.InDelta(t, 1.0, cfg.RPTGuard.OfflineShadow.SampleRate, 0)
	})
	t.Run("without server", func(t *testing.T) {
		t.Parallel()
		cfg := parseConfig(t, nil, shadowDoc(`{"sample-rate":1}`))
		verifier := enforcer.TokenVerifierFunc(func(context.Context, string) (*rpt.Claims, error) { return nil, rpt.ErrInvalidToken })
		e, err := enforcer.New(context.Background(), cfg, enforcer.WithoutServer(), enforcer.WithVerifier(verifier))
		if e != nil {
			e.Close()
		}
		require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
		var ce *enforcer.ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Equal(t, "rptguard.offline-shadow", ce.Field)
		assert.Contains(t, err.Error(), "WithoutServer")
	})
}
