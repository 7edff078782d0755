package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
)

// mixedConfig protects paths with each verification and permission
// source: local JWT (/admin), introspection (/secure), the UMA exchange
// (/api/orders), and an anonymous path (/public).
const mixedConfig = `{"socket-timeout-millis":3000,"paths":[
	{"path":"/public/*","enforcement-mode":"DISABLED"},
	{"path":"/admin/*","name":"Admin","rptguard":{"permissions-source":"token"}},
	{"path":"/secure/*","name":"Admin","rptguard":{"permissions-source":"token","token-verification":"introspection"}},
	{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]}]}]}`

// TestAttackH_Availability runs security.md (h) end to end; the full
// matrix of dependency faults is faults_test.go.
func TestAttackH_Availability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, name string
		run      func(t *testing.T)
	}{
		{"H1", "Keycloak down at start: New fails", func(t *testing.T) {
			kc := newKC(t, nil)
			kc.SetReady(false)
			_, err := enforcer.New(context.Background(), parseConfig(t, kc, fixtureF), enforcer.WithHTTPClient(kc.HTTPClient()))
			require.Error(t, err)
			assert.False(t, errors.Is(err, enforcer.ErrInvalidConfig), "an outage is not a configuration error")
		}},
		{"H2", "Keycloak down while running", func(t *testing.T) {
			v := newEnv(t, mixedConfig)
			admin := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			bob := v.kc.AccessToken("bob")
			check(t, v.do(t, http.MethodGet, "/secure/x", admin), 200, chNone, admin)
			v.kc.SetReady(false)
			check(t, v.do(t, http.MethodGet, "/admin/x", admin), 200, chNone, admin)  // cached keys
			check(t, v.do(t, http.MethodGet, "/secure/x", admin), 200, chNone, admin) // cached answer (TTL)
			fresh := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			check(t, v.do(t, http.MethodGet, "/secure/x", fresh), 503, chNone, fresh) // introspection
			check(t, v.do(t, http.MethodGet, "/api/orders", bob), 503, chNone, bob)   // UMA exchange
			check(t, v.do(t, http.MethodGet, "/public/x", ""), 200, chNone)           // anonymous
			check(t, v.do(t, http.MethodGet, "/admin/x", ""), 401, chBearer)          // still protected
			check(t, v.do(t, http.MethodGet, "/nowhere", admin), 403, chInsufficient, admin)
		}},
		{"H3", "keys rotate just before signing: one refresh, then success", func(t *testing.T) {
			v := newEnv(t, fixtureF)
			v.clock.Advance(11 * time.Second)
			v.kc.RotateKey()
			v.kc.ResetCounters()
			tok := v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
			check(t, v.do(t, http.MethodGet, "/admin/x", v.kc.SignToken(v.claims())), 200, chNone)
			assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointJWKS))
		}},
		{"H4", "clock skew against a 60 s leeway", func(t *testing.T) {
			v := newEnv(t, strings.Replace(fixtureF, `"permissions-source":"token"`, `"permissions-source":"token","leeway":"60s"`, 1))
			now := v.now().Unix()
			for _, tc := range []struct {
				skew int64
				want int
			}{{30, 200}, {-30, 200}, {-90, 200}, {90, 401}} {
				// The authorization server's clock is skew seconds off.
				tok := v.kc.SignToken(v.with("iat", now+tc.skew, "exp", now+tc.skew+300))
				ch := chNone
				if tc.want == 401 {
					ch = chInvalidToken
				}
				check(t, v.do(t, http.MethodGet, "/admin/x", tok), tc.want, ch, tok)
			}
		}},
		{"H5", "JWKS truncated, empty or HTML: last good set kept", func(t *testing.T) {
			v := newEnv(t, fixtureF)
			for _, body := range []struct{ ct, b string }{
				{"application/json", `{"keys":[{"kty":"RSA"`}, {"application/json", `{"keys":[]}`}, {"text/html", "<html>"},
			} {
				v.kc.Respond(keycloaktest.EndpointJWKS, 200, body.ct, body.b)
				v.clock.Advance(3 * time.Minute) // a refresh is due every 5 min
				tok := v.kc.SignToken(v.claims())
				check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
			}
		}},
		{"H6", "discovery issuer mismatch: start-up error", func(t *testing.T) {
			kc := newKC(t, nil)
			kc.Respond(keycloaktest.EndpointUMADiscovery, 200, "application/json",
				`{"issuer":"`+kc.URL()+`/realms/evil","jwks_uri":"`+kc.JWKSURL()+`","token_endpoint":"`+kc.TokenURL()+`"}`)
			_, err := enforcer.New(context.Background(), parseConfig(t, kc, fixtureF), enforcer.WithHTTPClient(kc.HTTPClient()))
			require.Error(t, err)
		}},
		{"H7", "introspection answers 302: not followed", func(t *testing.T) {
			v := newEnv(t, mixedConfig)
			admin := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			v.kc.Respond(keycloaktest.EndpointIntrospection, http.StatusFound, "", "")
			check(t, v.do(t, http.MethodGet, "/secure/x", admin), 503, chNone, admin)
		}},
		{"H8", "client disconnects: the outbound call is cancelled", func(t *testing.T) {
			v := newEnv(t, mixedConfig)
			admin := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			var mu sync.Mutex
			var took time.Duration
			done := make(chan struct{})
			srv := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				v.e.Middleware(v.handler()).ServeHTTP(w, r)
				mu.Lock()
				took = time.Since(start)
				mu.Unlock()
				close(done)
			}))
			v.kc.Hang(keycloaktest.EndpointIntrospection)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/secure/x", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+admin)
			c := &http.Client{Timeout: 200 * time.Millisecond}
			_, err = c.Do(req)
			require.Error(t, err)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the middleware did not return")
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Less(t, took, 2500*time.Millisecond, "ended with the request context, before the 3 s call timeout")
			assert.Zero(t, v.reached.Load())
		}},
		{"H9", "policy: undefined rule, evaluation error, panic", func(t *testing.T) {
			const maybe = "package rptguard.rules\n\npost_only if input.request.method == \"POST\"\n"
			v := newEnv(t, strings.Replace(fixtureF, `{"path":"/admin/*","name":"Admin"}`,
				`{"path":"/admin/*","name":"Admin","rptguard":{"decision-rule":"rules.post_only"}}`, 1),
				withOpts(enforcer.WithPolicies(policies.FromModule("maybe.rego", maybe))))
			admin := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			check(t, v.do(t, http.MethodGet, "/admin/x", admin), 403, chInsufficient, admin) // undefined → deny
			check(t, v.do(t, http.MethodPost, "/admin/x", admin), 200, chNone, admin)
			for name, ev := range map[string]enforcer.EvaluatorFunc{
				"error": func(context.Context, policies.Input) (policies.Decision, error) {
					return policies.Decision{Allow: true}, errors.New("rego_eval_error: secret rule text")
				},
				"panic": func(context.Context, policies.Input) (policies.Decision, error) { panic("policy exploded") },
			} {
				w := newEnv(t, fixtureF, withOpts(enforcer.WithEvaluator(ev)))
				tok := w.kc.IssueRPT("bob", perm(w.kc, "Admin"))
				r := w.do(t, http.MethodGet, "/admin/x", tok)
				check(t, r, 500, chNone, tok, "secret rule text", "policy exploded")
				assert.NotContains(t, r.body, "rego", name)
			}
		}},
		{"H10", "policy bundle missing at start", func(t *testing.T) {
			kc := newKC(t, nil)
			cfg := parseConfig(t, kc, fixtureF)
			cfg.RPTGuard.Policies = []string{t.TempDir() + "/missing.tar.gz"}
			_, err := enforcer.New(context.Background(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
			require.Error(t, err)
		}},
		{"H11", "misspelled enforcement mode; PERMISSIVE logged", func(t *testing.T) {
			_, err := enforcer.ParseConfig([]byte(`{"enforcement-mode":"ENFORCNG"}`))
			require.True(t, errors.Is(err, enforcer.ErrInvalidConfig), "%v", err)
			_, err = enforcer.ParseConfig([]byte(`{"paths":[{"path":"/a","enforcement-mode":"enforcing"}]}`))
			require.True(t, errors.Is(err, enforcer.ErrInvalidConfig), "%v", err)
			var logs bytes.Buffer
			var mu sync.Mutex
			l := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelWarn}))
			v := newEnv(t, `{"enforcement-mode":"PERMISSIVE","rptguard":{"permissions-source":"token"}}`, withOpts(enforcer.WithLogger(l)))
			mu.Lock()
			assert.Contains(t, logs.String(), "PERMISSIVE")
			mu.Unlock()
			tok := v.kc.SignToken(v.claims())
			check(t, v.do(t, http.MethodGet, "/anything", tok), 200, chNone, tok)
			check(t, v.do(t, http.MethodGet, "/anything", ""), 403, chNone)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

// lockedWriter serializes writes of concurrent log handlers.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
