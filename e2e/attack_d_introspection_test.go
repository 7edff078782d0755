package e2e_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

// introspectionConfig verifies every token by RFC 7662 introspection;
// permissions come from the introspection answer. extra is spliced into
// the "rptguard" object.
func introspectionConfig(extra string) string {
	return `{"paths":[
	{"path":"/admin/*","name":"Admin"},
	{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]},{"method":"PUT","scopes":["edit"]}]}],
	"rptguard":{"permissions-source":"token","token-verification":"introspection"` + extra + `}}`
}

// activeBody is a Keycloak-shaped RPT introspection answer granting Admin,
// with members replaced or removed (nil) by kv.
func activeBody(tb testing.TB, v *env, kv ...any) string {
	tb.Helper()
	now := v.now()
	id := v.kc.ResourceID("Admin")
	m := map[string]any{
		"active": true, "typ": "Bearer", "aud": clientID, "jti": randomID(),
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"permissions": []any{map[string]any{"rsid": id, "resource_id": id, "rsname": "Admin", "resource_scopes": []string{}}},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	b, err := json.Marshal(m)
	require.NoError(tb, err)
	return string(b)
}

// TestAttackD_Introspection runs security.md (d) end to end with
// token-verification "introspection". Each row has its own authorization
// server, because the knobs (Respond, Fail, Hang) are server-wide.
func TestAttackD_Introspection(t *testing.T) {
	t.Parallel()
	type answer struct {
		status      int
		contentType string
		body        func(tb testing.TB, v *env) string
	}
	json200 := func(body func(testing.TB, *env) string) *answer {
		return &answer{200, "application/json", body}
	}
	lit := func(s string) func(testing.TB, *env) string { return func(testing.TB, *env) string { return s } }
	act := func(kv ...any) func(testing.TB, *env) string {
		return func(tb testing.TB, v *env) string { return activeBody(tb, v, kv...) }
	}
	tests := []struct {
		id, name string
		answer   *answer
		fail     int // Fail(EndpointIntrospection, fail)
		hang     bool
		want     int
		ch       string
	}{
		{"control", "Keycloak's own answer", nil, 0, false, 200, chNone},
		{"control", "hand-built active answer", json200(act()), 0, false, 200, chNone},
		{"control", "inactive", json200(lit(`{"active":false}`)), 0, false, 401, chInvalidToken},
		// D1: a non-boolean active is a malformed answer: rptguard treats
		// it as an upstream error (503, not cached) rather than as
		// "inactive" (401); both fail closed, and D2's rule (malformed is
		// an error, never a decision) is the stricter reading.
		{"D1", `active "true"`, json200(act("active", "true")), 0, false, 503, chNone},
		{"D1", "active 1", json200(act("active", 1)), 0, false, 503, chNone},
		{"D2", "active missing", json200(act("active", nil)), 0, false, 503, chNone},
		{"D2", "active null", json200(lit(`{"active":null}`)), 0, false, 503, chNone},
		{"D2", "empty object", json200(lit(`{}`)), 0, false, 503, chNone},
		{"D2", "HTML with status 200", &answer{200, "text/html", lit(`<html>login</html>`)}, 0, false, 503, chNone},
		{"D2", "JSON with a wrong content type", &answer{200, "text/plain", act()}, 0, false, 503, chNone},
		{"D3", "refresh token", json200(act("typ", "Refresh")), 0, false, 401, chInvalidToken},
		{"D3", "ID token", json200(act("typ", "ID")), 0, false, 401, chInvalidToken},
		{"D4", "exp in the past", json200(func(tb testing.TB, v *env) string {
			return activeBody(tb, v, "exp", v.now().Add(-time.Minute).Unix(), "iat", v.now().Add(-time.Hour).Unix())
		}), 0, false, 401, chInvalidToken},
		{"D4", "nbf in the future", json200(func(tb testing.TB, v *env) string {
			return activeBody(tb, v, "nbf", v.now().Add(time.Minute).Unix())
		}), 0, false, 401, chInvalidToken},
		{"D4", "aud another resource server", json200(act("aud", "other-rs")), 0, false, 401, chInvalidToken},
		{"D4", "iss of another realm", json200(func(tb testing.TB, v *env) string {
			return activeBody(tb, v, "iss", v.kc.URL()+"/realms/other")
		}), 0, false, 401, chInvalidToken},
		{"D5", "500", nil, 500, false, 503, chNone},
		{"D5", "502", nil, 502, false, 503, chNone},
		{"D5", "503", nil, 503, false, 503, chNone},
		{"D5", "timeout", nil, 0, true, 503, chNone},
		{"D6", "our client credentials refused (401)", nil, 401, false, 503, chNone},
		{"D6", "our client forbidden (403)", nil, 403, false, 503, chNone},
		{"D16", "duplicate active", json200(lit(`{"active":false,"active":true}`)), 0, false, 503, chNone},
		{"C12", "trailing data", json200(func(tb testing.TB, v *env) string { return activeBody(tb, v) + `{"active":false}` }), 0, false, 503, chNone},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			doc := introspectionConfig("")
			if tt.hang {
				// A per-call timeout ends the hung call (generous: the
				// machine may be loaded).
				doc = strings.Replace(doc, `{"paths"`, `{"socket-timeout-millis":3000,"paths"`, 1)
			}
			v := newEnv(t, doc)
			tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
			switch {
			case tt.answer != nil:
				v.kc.Respond(keycloaktest.EndpointIntrospection, tt.answer.status, tt.answer.contentType, tt.answer.body(t, v))
			case tt.fail != 0:
				v.kc.Fail(keycloaktest.EndpointIntrospection, tt.fail)
			case tt.hang:
				v.kc.Hang(keycloaktest.EndpointIntrospection)
			}
			r := v.do(t, http.MethodGet, "/admin/x", tok)
			check(t, r, tt.want, tt.ch, tok)
			assert.NotContains(t, r.body, "error") // I8: no AS error body
			last := v.kc.LastRequest(keycloaktest.EndpointIntrospection)
			require.NotNil(t, last)
			// D15: POST, form-encoded, token in the body, never in the URL.
			assert.Equal(t, http.MethodPost, last.Method)
			assert.Empty(t, last.URL.RawQuery)
			assert.Equal(t, tok, last.Form.Get("token"))
			v.kc.Heal("")
		})
	}
	t.Run("D5 connection refused", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		v.kc.Close()
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 503, chNone, tok)
	})
}

// TestAttackD_Caching covers the introspection rows about time and caches:
// D7 (answers delayed out of order), D8 (metadata cached, authorization
// re-run), D9 (TTL bounded by exp), D10 (revocation within the cache TTL),
// D11 (a flood of opaque tokens), D12 (plain http refused), D13 (a secret
// with reserved characters).
func TestAttackD_Caching(t *testing.T) {
	t.Parallel()
	t.Run("D7 answers delayed out of order", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		v.kc.SetLatency(keycloaktest.EndpointIntrospection, 150*time.Millisecond)
		granted := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		denied := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"))
		var wg sync.WaitGroup
		results := make([]result, 8)
		for i := range results {
			wg.Go(func() {
				tok := granted
				if i%2 == 1 {
					tok = denied
				}
				results[i] = v.do(t, http.MethodGet, "/admin/x", tok)
			})
		}
		wg.Wait()
		for i, r := range results {
			if i%2 == 0 {
				check(t, r, 200, chNone, granted)
			} else {
				check(t, r, 403, chInsufficient, denied)
			}
		}
	})
	t.Run("D8 cached metadata, authorization re-run", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Orders", "view"))
		check(t, v.do(t, http.MethodGet, "/api/orders", tok), 200, chNone, tok)
		check(t, v.do(t, http.MethodPut, "/api/orders", tok), 403, chInsufficient, tok)
		assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointIntrospection), "the second request used the cached metadata")
	})
	t.Run("D9 cache TTL bounded by exp", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		v.kc.Respond(keycloaktest.EndpointIntrospection, 200, "application/json",
			activeBody(t, v, "exp", v.now().Add(5*time.Second).Unix()))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		v.clock.Advance(5 * time.Second)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
	})
	t.Run("D10 revocation within the cache TTL", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(`,"introspection-cache":{"max-ttl":"10s"}`))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		v.kc.Revoke(tok)
		// The documented revocation budget: the cache TTL.
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		v.clock.Advance(10 * time.Second)
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
	})
	t.Run("D11 flood of opaque tokens", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		for i := range 100 {
			tok := fmt.Sprintf("opaque-%d-%s", i, randomID())
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		}
		n := v.kc.Requests(keycloaktest.EndpointIntrospection)
		assert.LessOrEqual(t, n, 100)
		tok := "opaque-repeated-" + randomID()
		for range 20 {
			check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
		}
		assert.Equal(t, n+1, v.kc.Requests(keycloaktest.EndpointIntrospection), "an inactive answer is negatively cached")
	})
	t.Run("D12 plain http to a non-loopback server", func(t *testing.T) {
		t.Parallel()
		_, err := enforcer.ParseConfig([]byte(`{"realm":"r","resource":"c","auth-server-url":"http://kc.example.com"}`))
		require.True(t, errors.Is(err, enforcer.ErrInvalidConfig), "%v", err)
	})
	t.Run("D13 secret with reserved characters", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, introspectionConfig(""))
		tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
		check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
		last := v.kc.LastRequest(keycloaktest.EndpointIntrospection)
		require.NotNil(t, last)
		assert.NotContains(t, last.URL.String(), "s3cret", "the secret is never in a URL")
		user, pass, ok := (&http.Request{Header: last.Header}).BasicAuth()
		require.True(t, ok, "client_secret_basic")
		assert.NotEqual(t, clientSecret, pass, "form-encoded before HTTP Basic (RFC 6749 §2.3.1)")
		assert.Equal(t, clientID, user)
	})
}

// TestIntrospectionCacheDisabled: D10 "with TTL 0, at once". With
// rptguard.introspection-cache max-entries -1 (documented as "disables the
// cache") a revoked token is refused on the very next request. Regression
// test: buildDeps used to clamp -1 to 0, which selected the default cache
// and kept a revoked token allowed for the positive TTL.
func TestIntrospectionCacheDisabled(t *testing.T) {
	t.Parallel()
	v := newEnv(t, introspectionConfig(`,"introspection-cache":{"max-entries":-1}`))
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
	check(t, v.do(t, http.MethodGet, "/admin/x", tok), 200, chNone, tok)
	v.kc.Revoke(tok)
	check(t, v.do(t, http.MethodGet, "/admin/x", tok), 401, chInvalidToken, tok)
	v.kc.SetReady(false)
	check(t, v.do(t, http.MethodGet, "/admin/x", tok), 503, chNone, tok)
}

// TestUMACacheDisabled: rptguard.uma-cache max-entries -1 disables the RPT
// exchange cache, so every request exchanges again (regression test for the
// same clamp).
func TestUMACacheDisabled(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]}]}],
		"rptguard":{"uma-cache":{"max-entries":-1}}}`)
	bob := v.kc.AccessToken("bob")
	v.kc.ResetCounters()
	check(t, v.do(t, http.MethodGet, "/api/orders", bob), 200, chNone, bob)
	check(t, v.do(t, http.MethodGet, "/api/orders", bob), 200, chNone, bob)
	assert.Equal(t, 2, v.kc.Requests(keycloaktest.EndpointToken), "no cache: one exchange per request")
}
