package e2e_test

import (
	"bytes"
	"context"
	"fmt"
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
)

// marker is planted in authorization-server error bodies; it must never
// reach a client (I8) or a log line.
const marker = "internal-db-7.corp.example"

// recordingObserver keeps every metrics label (I6).
type recordingObserver struct {
	mu sync.Mutex
	ls []string
}

func (o *recordingObserver) add(s string) { o.mu.Lock(); o.ls = append(o.ls, s); o.mu.Unlock() }
func (o *recordingObserver) Decision(r enforcer.Reason, _ int, _ time.Duration) {
	o.add(string(r))
}
func (o *recordingObserver) Cache(name string, _ bool) { o.add(name) }
func (o *recordingObserver) Call(ep string, _ time.Duration, err error) {
	o.add(ep)
	if err != nil {
		o.add("err:" + err.Error())
	}
}
func (o *recordingObserver) labels() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ls...)
}

// TestAttackI_Leaks runs security.md (i) end to end. One enforcer with a
// debug logger and an observer serves every row; at the end the logs and
// the metric labels are searched for every token and secret used.
func TestAttackI_Leaks(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	obs := &recordingObserver{}
	v := newEnv(t, `{"socket-timeout-millis":3000,"paths":[
		{"path":"/admin/*","name":"Admin","rptguard":{"permissions-source":"token"}},
		{"path":"/secure/*","name":"Admin","rptguard":{"permissions-source":"token","token-verification":"introspection"}},
		{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]}]}]}`,
		withOpts(enforcer.WithLogger(logger), enforcer.WithObserver(obs)))
	kc := v.kc
	now := v.now()
	var used []string // every token sent, searched for in logs at the end
	use := func(tok string) string { used = append(used, tok); return tok }

	t.Run("I1 every token failure looks the same", func(t *testing.T) {
		valid := kc.SignToken(v.claims())
		bad := []struct{ name, tok string }{
			{"expired", kc.SignToken(v.with("iat", now.Add(-time.Hour).Unix(), "exp", now.Add(-time.Minute).Unix()))},
			{"not yet valid", kc.SignToken(v.with("nbf", now.Add(time.Hour).Unix()))},
			{"bad signature", kc.SignToken(v.claims(), keycloaktest.WithForeignKey())},
			{"wrong aud", kc.SignToken(v.with("aud", "other"))},
			{"wrong iss", kc.SignToken(v.with("iss", "https://evil.example/realms/x"))},
			{"refresh token", kc.SignToken(v.with("typ", "Refresh"))},
			{"alg none", kc.SignToken(v.claims(), keycloaktest.WithAlgNone())},
			{"unknown kid", kc.SignToken(v.claims(), keycloaktest.WithKeyID("nope"))},
			{"garbage", "abc.def.ghi"},
			{"too large", strings.Repeat("a", 20<<10)},
			// I5: a cache keyed by a prefix would accept this one after
			// the valid token with the same header and payload.
			{"valid token with another signature", valid[:len(valid)-8] + "AAAAAAAA"},
		}
		check(t, v.do(t, http.MethodGet, "/admin/x", use(valid)), 200, chNone, valid)
		var first *result
		for _, b := range bad {
			r := v.do(t, http.MethodGet, "/admin/x", use(b.tok))
			check(t, r, 401, chInvalidToken, b.tok)
			r.header.Del("Date")
			if first == nil {
				first = &r
				continue
			}
			assert.Equal(t, first.header, r.header, "%s: identical headers", b.name)
			assert.Equal(t, first.body, r.body, "%s: identical body", b.name)
		}
		// The introspection path: an inactive token answers the same.
		inactive := use(kc.IssueRPT("bob", perm(kc, "Admin")))
		kc.Revoke(inactive)
		r := v.do(t, http.MethodGet, "/secure/x", inactive)
		check(t, r, 401, chInvalidToken, inactive)
		r.header.Del("Date")
		assert.Equal(t, first.header, r.header)
		assert.Equal(t, first.body, r.body)
	})
	t.Run("I2 a 403 names no resource, policy or id", func(t *testing.T) {
		for _, tc := range []struct{ path, tok string }{
			{"/admin/x", use(kc.IssueRPT("alice", perm(kc, "Orders", "view")))},
			{"/api/orders", use(kc.AccessToken("alice"))},
			{"/nowhere", use(kc.AccessToken("alice"))},
		} {
			r := v.do(t, http.MethodGet, tc.path, tc.tok)
			check(t, r, 403, chInsufficient, tc.tok, kc.ResourceID("Orders"), kc.ResourceID("Admin"))
			for _, s := range []string{"Orders", "Admin", "rego", "rptguard.", "permission", "/api", "/admin"} {
				assert.NotContains(t, r.body, s)
				assert.NotContains(t, strings.Join(r.header.Values("WWW-Authenticate"), ""), s)
			}
		}
	})
	t.Run("I8 authorization-server error bodies never reach the client", func(t *testing.T) {
		body := `{"error":"server_error","error_description":"` + marker + `"}`
		for _, tc := range []struct {
			ep       keycloaktest.Endpoint
			status   int
			path     string
			tok      string
			want     int
			wantChal string
		}{
			{keycloaktest.EndpointIntrospection, 500, "/secure/x", use(kc.IssueRPT("bob", perm(kc, "Admin"))), 503, chNone},
			{keycloaktest.EndpointIntrospection, 401, "/secure/x", use(kc.IssueRPT("bob", perm(kc, "Admin"))), 503, chNone},
			{keycloaktest.EndpointToken, 500, "/api/orders", use(kc.AccessToken("bob")), 503, chNone},
			{keycloaktest.EndpointToken, 403, "/api/orders", use(kc.AccessToken("bob")), 403, chInsufficient},
		} {
			kc.Respond(tc.ep, tc.status, "application/json", body)
			check(t, v.do(t, http.MethodGet, tc.path, tc.tok), tc.want, tc.wantChal, tc.tok, marker)
			kc.Heal("")
		}
	})
	t.Run("I4 errors returned to the embedding application", func(t *testing.T) {
		kc.Fail(keycloaktest.EndpointToken, 503)
		defer kc.Heal("")
		tok := use(kc.AccessToken("carol"))
		d, err := v.e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
		require.ErrorIs(t, err, enforcer.ErrUnavailable)
		assert.False(t, d.Allowed)
		for _, frag := range secretFragments(tok) {
			assert.NotContains(t, err.Error(), frag)
		}
		assert.NotContains(t, err.Error(), clientSecret)
		assert.NotContains(t, fmt.Sprintf("%+v", d), tok)
	})
	t.Run("I3 logs hold no token, header, secret or AS body", func(t *testing.T) {
		logger.Info("configuration", "config", v.cfg, "secret", v.cfg.Credentials.Secret)
		mu.Lock()
		out := logs.String()
		mu.Unlock()
		require.NotEmpty(t, out, "the debug logger saw the failures")
		for _, tok := range used {
			for _, frag := range secretFragments(tok) {
				assert.NotContains(t, out, frag)
			}
		}
		assert.NotContains(t, out, clientSecret)
		assert.NotContains(t, out, "Bearer ")
		assert.NotContains(t, out, marker)
	})
	t.Run("I6 metric labels are low-cardinality", func(t *testing.T) {
		labels := obs.labels()
		require.NotEmpty(t, labels)
		for _, l := range labels {
			for _, s := range []string{"alice", "bob", "/api", "/admin", "/secure", kc.ResourceID("Orders"), kc.ResourceID("Admin"), marker, clientSecret} {
				assert.NotContains(t, l, s)
			}
			for _, tok := range used {
				for _, frag := range secretFragments(tok) {
					assert.NotContains(t, l, frag)
				}
			}
		}
	})
}
