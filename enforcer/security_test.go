package enforcer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
	"github.com/rptguard/rptguard/rpt"
)

// fixtureF is security.md (f)'s fixture: /public/* anonymous, /admin/*
// protected, /api/{id} needs scope view, everything else denied.
const fixtureF = `{"paths":[
	{"path":"/public/*","enforcement-mode":"DISABLED"},
	{"path":"/admin/*","name":"Admin"},
	{"path":"/api/{id}","name":"Items","methods":[{"method":"GET","scopes":["view"]}]}],
	"rptguard":{"permissions-source":"token"}}`

// TestPathAttacksRaw sends security.md (f) attacks as raw request lines over
// TCP to a server running the middleware and checks the status against the
// response contract (strict canonicalization).
func TestPathAttacksRaw(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF, shopServer())
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"), perm(v.kc, "Items", "view"))
	auth := "Authorization: Bearer " + tok
	long := "/public/" + strings.Repeat("a", 9<<10)
	tests := []struct {
		id, line string
		token    bool
		want     int
		headers  []string
	}{
		{"F1", "GET /public/../admin/x HTTP/1.1", false, 400, nil},
		{"F2", "GET /public/%2e%2e/admin/x HTTP/1.1", false, 400, nil},
		{"F2b", "GET /public/%2E%2E/admin/x HTTP/1.1", false, 400, nil},
		{"F2c", "GET /public/.%2e/admin/x HTTP/1.1", false, 400, nil},
		{"F2d", "GET /public/%2e./admin/x HTTP/1.1", false, 400, nil},
		{"F3", "GET /public/..%2fadmin/x HTTP/1.1", false, 400, nil},
		{"F3b", "GET /admin%2Fx HTTP/1.1", true, 400, nil},
		{"F4", "GET //admin/x HTTP/1.1", true, 400, nil},
		{"F4b", "GET /admin//x HTTP/1.1", true, 400, nil},
		{"F4c", "GET ///admin HTTP/1.1", true, 400, nil},
		{"F5", `GET /admin\x HTTP/1.1`, true, 400, nil},
		{"F5b", `GET /public\..\admin HTTP/1.1`, false, 400, nil},
		{"F5c", "GET /admin%5cx HTTP/1.1", true, 400, nil},
		{"F6", "GET /admin/ HTTP/1.1", true, 200, nil},
		{"F6b", "GET /api/1/ HTTP/1.1", true, 200, nil},
		{"F6c", "GET /api/1 HTTP/1.1", true, 200, nil},
		{"F7", "GET /Admin/x HTTP/1.1", true, 403, nil},
		{"F7b", "GET /ADMIN/x HTTP/1.1", true, 403, nil},
		{"F8", "GET /admin;jsessionid=x/x HTTP/1.1", true, 400, nil},
		{"F8b", "GET /public;/../admin HTTP/1.1", false, 400, nil},
		{"F8c", "GET /admin;x=1 HTTP/1.1", true, 400, nil},
		{"F9", "GET /admin%3Bx/y HTTP/1.1", true, 400, nil},
		{"F9b", "GET /admin%3bx HTTP/1.1", true, 400, nil},
		{"F10", "GET /admin/x%00 HTTP/1.1", true, 400, nil},
		{"F11", "GET /admin/x%0a HTTP/1.1", true, 400, nil},
		{"F11b", "GET /admin/x%0d HTTP/1.1", true, 400, nil},
		{"F11c", "GET /admin/x%09 HTTP/1.1", true, 400, nil},
		{"F11d", "GET /admin/x%e2%80%a8 HTTP/1.1", true, 400, nil},
		{"F12", "GET /admin/%252e%252e/x HTTP/1.1", true, 400, nil},
		{"F12b", "GET /public/%252fadmin HTTP/1.1", false, 400, nil},
		{"F13", "GET /admin/%C0%AE%C0%AE/x HTTP/1.1", true, 400, nil},
		{"F13b", "GET /admin/%FF HTTP/1.1", true, 400, nil},
		{"F13c", "GET /%EF%BD%81dmin/x HTTP/1.1", true, 403, nil},
		{"F13d", "GET /admin%EF%BC%8Fx HTTP/1.1", true, 403, nil},
		{"F14", "GET /%61dmin/x HTTP/1.1", true, 200, nil},
		{"F14b", "GET /%61dmin/x HTTP/1.1", false, 401, nil},
		{"F15", "GET /admin/%ZZ HTTP/1.1", true, 400, nil},
		{"F15b", "GET /admin/x% HTTP/1.1", true, 400, nil},
		{"F15c", "GET /admin/%4 HTTP/1.1", true, 400, nil},
		{"F16", "GET /public?/../admin HTTP/1.1", false, 200, nil},
		{"F16b", "GET /admin?x=/public/ HTTP/1.1", false, 401, nil},
		{"F16c", "GET /public#/../admin HTTP/1.1", false, 400, nil},
		{"F17", "GET " + long + " HTTP/1.1", false, 414, nil},
		{"F19", "GET /publicity HTTP/1.1", false, 403, nil},
		{"F19b", "GET /public-leak HTTP/1.1", false, 403, nil},
		{"F19c", "GET /api/1/2 HTTP/1.1", true, 403, nil},
		{"F21", "POST /admin/x HTTP/1.1", true, 400, []string{"X-HTTP-Method-Override: DELETE", "Content-Length: 0"}},
		{"F21b", "POST /admin/x HTTP/1.1", true, 400, []string{"X-Method-Override: DELETE", "Content-Length: 0"}},
		{"F21c", "POST /admin/x?_method=DELETE HTTP/1.1", true, 400, []string{"Content-Length: 0"}},
		{"F22", "get /admin/x HTTP/1.1", true, 400, nil},
		{"F22b", "Get /admin/x HTTP/1.1", true, 400, nil},
		{"F22c", "FOO /admin/x HTTP/1.1", true, 405, nil},
		{"F22d", "PROPFIND /admin/x HTTP/1.1", true, 405, nil},
		{"F23", "HEAD /admin/x HTTP/1.1", true, 200, nil},
		{"F23b", "OPTIONS /admin/x HTTP/1.1", false, 401, nil},
		{"F23c", "TRACE /admin/x HTTP/1.1", true, 405, nil},
		{"F24", "CONNECT svc:443 HTTP/1.1", true, 405, nil},
		{"F24b", "CONNECT /admin/../x HTTP/1.1", true, 405, nil},
		{"F24c", "GET http://evil.example/admin/x HTTP/1.1", true, 400, nil},
		{"F24d", "GET * HTTP/1.1", true, 400, nil},
		// Go's server answers "OPTIONS *" itself (200, no handler runs);
		// the enforcer's own answer (403) is checked in TestDecide.
		{"F24e", "OPTIONS * HTTP/1.1", false, 200, nil},
		{"F25", "GET /unmapped HTTP/1.1", true, 403, nil},
		{"F28", "GET /public/ HTTP/1.1", false, 200, []string{"X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X-Forwarded-Prefix: /admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			h := tt.headers
			if tt.token {
				h = append([]string{auth}, h...)
			}
			assert.Equal(t, tt.want, raw(t, v.srv, tt.line, h...), tt.line)
		})
	}
}

// TestCanonicalPathReachesHandler: F14/F26/F28 — the handler sees exactly
// the path that was authorized, in both modes.
func TestCanonicalPathReachesHandler(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF, shopServer())
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
	r := v.do(t, "GET", "/%61dmin/x/", tok)
	require.Equal(t, 200, r.status)
	assert.Contains(t, r.body, "path=/admin/x ")
	r = v.do(t, "GET", "/public/a%3Fb", "", "X-Original-URL", "/admin")
	require.Equal(t, 200, r.status)
	assert.Contains(t, r.body, "path=/public/a?b esc=/public/a%3Fb")

	kv := newEnv(t, `{"paths":[{"path":"/public/*","enforcement-mode":"DISABLED"},{"path":"/admin/*","name":"Admin"}],
		"rptguard":{"path-canonicalization":"keycloak","permissions-source":"token"}}`, shopServer())
	ktok := kv.kc.IssueRPT("bob", perm(kv.kc, "Admin"))
	// F1 in normalize mode: the /admin/* policy applies, not /public/*.
	assert.Equal(t, 401, raw(t, kv.srv, "GET /public/../admin/x HTTP/1.1"))
	assert.Equal(t, 401, raw(t, kv.srv, "GET //admin/x HTTP/1.1"))
	r = kv.do(t, "GET", "/admin;x=1//y/./z", ktok)
	require.Equal(t, 200, r.status)
	assert.Contains(t, r.body, "path=/admin/y/z ")
}

// TestUMASecurity covers security.md (e).
func TestUMASecurity(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]},{"method":"DELETE","scopes":["delete"]}]},
		{"path":"/admin/*","name":"Admin"}],"rptguard":{"permissions-source":"token"}}`, shopServer())
	kc := v.kc
	past := time.Now().Add(-time.Minute).Unix()
	expiredPerm := kc.AccessToken("alice", keycloaktest.WithClaim("authorization", map[string]any{"permissions": []any{
		map[string]any{"rsid": kc.ResourceID("Orders"), "rsname": "Orders", "scopes": []string{"view"}, "exp": past},
	}}))
	tests := []struct {
		id, method, path, token string
		want                    int
	}{
		{"E3 other resource", "GET", "/api/orders", kc.IssueRPT("alice", perm(kc, "Admin", "view")), 403},
		{"E4 missing scope for method", "DELETE", "/api/orders", kc.IssueRPT("alice", perm(kc, "Orders", "view")), 403},
		{"E4 scope present", "DELETE", "/api/orders", kc.IssueRPT("alice", perm(kc, "Orders", "delete")), 200},
		{"E5 foreign audience", "GET", "/api/orders", kc.AccessToken("alice", keycloaktest.WithAudience("other-rs")), 401},
		{"E6 permission expired", "GET", "/api/orders", expiredPerm, 403},
		{"E7 name matches, id differs", "GET", "/api/orders", kc.IssueRPT("alice", rpt.Permission{ResourceID: "not-the-id", ResourceName: "Orders", Scopes: []string{"view"}}), 403},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			r := v.do(t, tt.method, tt.path, tt.token)
			assert.Equal(t, tt.want, r.status)
			if tt.want == 403 {
				assert.Equal(t, `Bearer realm="rptguard", error="insufficient_scope"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestExchangeCacheKey: E8 — an exchange result is bound to (token,
// resource, scopes), never reused for another request shape.
func TestExchangeCacheKey(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]},{"method":"PUT","scopes":["edit"]},{"method":"DELETE","scopes":["delete"]}]}]}`, shopServer())
	bob := v.kc.AccessToken("bob")
	v.kc.ResetCounters()
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", bob).status)
	assert.Equal(t, 200, v.do(t, "GET", "/api/orders", bob).status)
	assert.Equal(t, 1, v.kc.Requests(keycloaktest.EndpointToken))
	assert.Equal(t, 200, v.do(t, "PUT", "/api/orders", bob).status)
	assert.Equal(t, 2, v.kc.Requests(keycloaktest.EndpointToken), "other scopes: a new exchange")
	assert.Equal(t, 403, v.do(t, "DELETE", "/api/orders", bob).status)
	assert.Equal(t, 403, v.do(t, "DELETE", "/api/orders", bob).status)
	assert.Equal(t, 3, v.kc.Requests(keycloaktest.EndpointToken), "denials are cached briefly, no retry loop (E11)")
}

// TestExchangeErrors: E11 — need_info, request_submitted and friends end in
// 403 with no detail; I8 — the server's error body never reaches the client.
func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body string
		status     int
		want       int
	}{
		{"request_submitted", `{"error":"access_denied","error_description":"request_submitted"}`, 403, 403},
		{"need_info", `{"error":"need_info","error_description":"secret-internal-host.corp"}`, 403, 403},
		{"invalid_grant", `{"error":"invalid_grant","error_description":"secret-internal-host.corp"}`, 400, 403},
		{"server error", `{"error":"server_error","error_description":"secret-internal-host.corp"}`, 500, 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}]}`, shopServer())
			v.kc.Respond(keycloaktest.EndpointToken, tt.status, "application/json", tt.body)
			r := v.do(t, "GET", "/api/orders", v.kc.AccessToken("alice"))
			assert.Equal(t, tt.want, r.status)
			assert.NotContains(t, r.body, "secret-internal-host")
			assert.NotContains(t, r.header.Get("WWW-Authenticate"), "secret-internal-host")
		})
	}
}

// TestClaimInformationPoint: E10 — pushed claims are capped and sent as
// claim_token; an oversized body is refused with 413.
func TestClaimInformationPoint(t *testing.T) {
	t.Parallel()
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","claim-information-point":{"claims":{
		"amount":"{request.header['X-Amount']}","item":"{request.body['/item']}"}}}],
		"rptguard":{"max-body-bytes":1024}}`, shopServer())
	v.kc.AddGrant(keycloaktest.Grant{User: "alice", Resource: "Orders", Claims: map[string][]string{"amount": {"50"}}})
	alice := v.kc.AccessToken("alice")
	post := func(amount, body string) int {
		req, _ := http.NewRequest("POST", v.srv.URL+"/api/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amount", amount)
		res, err := v.srv.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, 200, post("50", `{"item":"x"}`))
	ct := v.kc.LastRequest(keycloaktest.EndpointToken).Form.Get("claim_token")
	dec, err := base64.StdEncoding.DecodeString(ct)
	require.NoError(t, err)
	var pushed map[string][]string
	require.NoError(t, json.Unmarshal(dec, &pushed))
	assert.Equal(t, map[string][]string{"amount": {"50"}, "item": {"x"}}, pushed)
	assert.Equal(t, 403, post("200", `{"item":"x"}`))
	assert.Equal(t, 413, post("50", `{"item":"`+strings.Repeat("x", 2048)+`"}`))
	assert.Equal(t, 400, post(strings.Repeat("9", 20<<10), `{"item":"x"}`), "a value over the cap is refused")
}

// TestInformationLeaks covers security.md (i).
func TestInformationLeaks(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	obs := &recordingObserver{}
	v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders","methods":[{"method":"GET","scopes":["view"]}]}]}`,
		shopServer(), enforcer.WithLogger(logger), enforcer.WithObserver(obs))
	kc := v.kc
	bad := map[string]string{
		"expired":       kc.AccessToken("alice", keycloaktest.WithIssuedAt(time.Now().Add(-time.Hour)), keycloaktest.WithLifetime(time.Minute)),
		"bad signature": kc.SignToken(map[string]any{"sub": "x"}, keycloaktest.WithForeignKey()),
		"wrong aud":     kc.AccessToken("alice", keycloaktest.WithAudience("x")),
		"alg none":      kc.SignToken(map[string]any{"sub": "x"}, keycloaktest.WithAlgNone()),
		"unknown kid":   kc.SignToken(map[string]any{"sub": "x"}, keycloaktest.WithKeyID("nope")),
		"garbage":       "abc.def.ghi",
		"too large":     strings.Repeat("a", 20<<10),
	}
	var first *resp
	for name, tok := range bad {
		r := v.do(t, "GET", "/api/orders", tok)
		require.Equal(t, 401, r.status, name)
		r.header.Del("Date")
		if first == nil {
			first = &r
			continue
		}
		assert.Equal(t, first.header, r.header, "I1 %s: identical headers", name)
		assert.Equal(t, first.body, r.body, "I1 %s: identical body", name)
	}
	assert.Equal(t, `Bearer realm="rptguard", error="invalid_token"`, first.header.Get("WWW-Authenticate"))

	// I2: a 403 names no resource, policy or id.
	r := v.do(t, "GET", "/api/orders", kc.AccessToken("alice"))
	require.Equal(t, 403, r.status)
	for _, s := range []string{"Orders", kc.ResourceID("Orders"), "rego", "permission"} {
		assert.NotContains(t, r.body, s)
		assert.NotContains(t, r.header.Get("WWW-Authenticate"), s)
	}
	// I3: no token, Authorization header or secret in logs.
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for name, tok := range bad {
		if len(tok) > 16 {
			assert.NotContains(t, out, tok[len(tok)-16:], name)
		}
	}
	assert.NotContains(t, out, kc.ClientSecret()+"\"")
	assert.NotContains(t, out, "Bearer ")
	// I4: errors returned to the embedding app carry no token material.
	kc.Fail(keycloaktest.EndpointToken, 503)
	tok := kc.AccessToken("carol")
	d, err := v.e.Decide(context.Background(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: tok})
	require.ErrorIs(t, err, enforcer.ErrUnavailable)
	assert.False(t, d.Allowed)
	assert.NotContains(t, err.Error(), tok[len(tok)-20:])
	// I6: observer labels are low-cardinality.
	for _, l := range obs.labels() {
		assert.NotContains(t, l, "alice")
		assert.NotContains(t, l, "/api")
		assert.NotContains(t, l, kc.ResourceID("Orders"))
	}
}

// TestRedirectNeverReflects: I7 — Location is only ever the configured value.
func TestRedirectNeverReflects(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	for _, bad := range []string{"//evil.example", `/\evil`, "https://evil.example/x", "/a\tb"} {
		cfg := parseConfig(t, kc, `{}`)
		cfg.OnDenyRedirectTo = bad
		_, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()))
		require.ErrorIs(t, err, enforcer.ErrInvalidConfig, bad)
	}
	v := newEnv(t, `{"on-deny-redirect-to":"/denied","paths":[{"path":"/p","name":"Orders"}]}`, shopServer())
	cl := *v.srv.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/%5Cevil.example", "/x?next=//evil.example", "/x?r=%09//evil"} {
		res, err := cl.Get(v.srv.URL + p)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode == 302 {
			assert.Equal(t, "/denied", res.Header.Get("Location"))
		}
	}
}

// TestBearerExtraction: strict credentials (RFC 6750).
func TestBearerExtraction(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF, shopServer())
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
	tests := []struct {
		name    string
		path    string
		headers []string
		body    string
		want    int
	}{
		{"lower-case scheme", "/admin/x", []string{"Authorization", "bearer " + tok}, "", 200},
		{"upper-case scheme", "/admin/x", []string{"Authorization", "BEARER " + tok}, "", 200},
		{"two headers", "/admin/x", []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}, "", 400},
		{"header and query", "/admin/x?access_token=" + tok, []string{"Authorization", "Bearer " + tok}, "", 400},
		{"header and encoded query key", "/admin/x?access%5Ftoken=x", []string{"Authorization", "Bearer " + tok}, "", 400},
		{"query only is never read", "/admin/x?access_token=" + tok, nil, "", 401},
		{"header and form", "/admin/x", []string{"Authorization", "Bearer " + tok, "Content-Type", "application/x-www-form-urlencoded"}, "access_token=" + tok, 400},
		{"form only is never read", "/admin/x", []string{"Content-Type", "application/x-www-form-urlencoded"}, "access_token=" + tok, 401},
		{"bearer without token", "/admin/x", []string{"Authorization", "Bearer"}, "", 400},
		{"bearer with two words", "/admin/x", []string{"Authorization", "Bearer a b"}, "", 400},
		{"basic scheme is anonymous", "/admin/x", []string{"Authorization", "Basic dXNlcjpwdw=="}, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("POST", v.srv.URL+tt.path, strings.NewReader(tt.body))
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Add(tt.headers[i], tt.headers[i+1])
			}
			res, err := v.srv.Client().Do(req)
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, tt.want, res.StatusCode)
			if tt.want == 400 {
				assert.Equal(t, `Bearer realm="rptguard", error="invalid_request"`, res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type recordingObserver struct {
	mu sync.Mutex
	ls []string
}

func (o *recordingObserver) add(s string) { o.mu.Lock(); o.ls = append(o.ls, s); o.mu.Unlock() }
func (o *recordingObserver) Decision(r enforcer.Reason, status int, _ time.Duration) {
	o.add(string(r))
}
func (o *recordingObserver) Cache(name string, _ bool)                { o.add(name) }
func (o *recordingObserver) Call(ep string, _ time.Duration, _ error) { o.add(ep) }
func (o *recordingObserver) labels() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ls...)
}
