package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// chServer marks a row answered by net/http itself, before the
// middleware: only the status, "not reached" and "no secrets" are checked.
const chServer = "<net/http>"

// pathRow is one raw request of security.md (f): the request line is
// written to the socket byte for byte, so no Go client cleans, decodes or
// re-encodes the target (security.md §2 "Testing lessons" 1).
type pathRow struct {
	id, line string
	token    bool     // send the fixture's bearer token
	headers  []string // more raw header lines
	want     int
	ch       string
	path     string // on allow: the escaped path the handler must see (F26)
}

func runPathRows(t *testing.T, v *env, tok string, rows []pathRow) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.id+" "+tt.line, func(t *testing.T) {
			t.Parallel()
			h := tt.headers
			if tt.token {
				h = append([]string{"Authorization: Bearer " + tok}, h...)
			}
			r := v.raw(t, tt.line, h...)
			if tt.ch == chServer {
				assert.Equal(t, tt.want, r.status)
				assert.False(t, r.reached)
				assertNoSecrets(t, r, tok)
				return
			}
			check(t, r, tt.want, tt.ch, tok)
			if tt.path != "" {
				assert.Equal(t, tt.path, r.path, "F26: the handler sees exactly the authorized path")
			}
		})
	}
}

// TestAttackF_Paths runs security.md (f) against the fixture in the strict
// (default) canonicalization mode.
func TestAttackF_Paths(t *testing.T) {
	t.Parallel()
	v := newEnv(t, fixtureF)
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"), perm(v.kc, "Items", "view"))
	long := "/public/" + strings.Repeat("a", 9<<10)
	const (
		get = "GET "
		h11 = " HTTP/1.1"
	)
	rows := []pathRow{
		{"control", get + "/admin/x" + h11, true, nil, 200, chNone, "/admin/x"},
		{"control", get + "/admin/x" + h11, false, nil, 401, chBearer, ""},
		{"F1", get + "/public/../admin/x" + h11, false, nil, 400, chNone, ""},
		{"F1", get + "/public/../admin/x" + h11, true, nil, 400, chNone, ""},
		{"F2", get + "/public/%2e%2e/admin/x" + h11, false, nil, 400, chNone, ""},
		{"F2", get + "/public/%2E%2E/admin/x" + h11, false, nil, 400, chNone, ""},
		{"F2", get + "/public/.%2e/admin/x" + h11, false, nil, 400, chNone, ""},
		{"F2", get + "/public/%2e./admin/x" + h11, false, nil, 400, chNone, ""},
		{"F3", get + "/public/..%2fadmin/x" + h11, false, nil, 400, chNone, ""},
		{"F3", get + "/admin%2Fx" + h11, true, nil, 400, chNone, ""},
		{"F3", get + "/public/x%2f..%2f..%2fadmin" + h11, false, nil, 400, chNone, ""},
		{"F4", get + "//admin/x" + h11, true, nil, 400, chNone, ""},
		{"F4", get + "/admin//x" + h11, true, nil, 400, chNone, ""},
		{"F4", get + "///admin" + h11, true, nil, 400, chNone, ""},
		{"F5", get + `/admin\x` + h11, true, nil, 400, chNone, ""},
		{"F5", get + `/public\..\admin` + h11, false, nil, 400, chNone, ""},
		{"F5", get + "/admin%5cx" + h11, true, nil, 400, chNone, ""},
		{"F6", get + "/admin/" + h11, true, nil, 200, chNone, "/admin"},
		{"F6", get + "/admin" + h11, true, nil, 200, chNone, "/admin"},
		{"F6", get + "/api/1/" + h11, true, nil, 200, chNone, "/api/1"},
		{"F6", get + "/api/1" + h11, true, nil, 200, chNone, "/api/1"},
		{"F7", get + "/Admin/x" + h11, true, nil, 403, chInsufficient, ""},
		{"F7", get + "/ADMIN/x" + h11, true, nil, 403, chInsufficient, ""},
		{"F7", get + "/Admin/x" + h11, false, nil, 403, chNone, ""},
		{"F8", get + "/admin;jsessionid=x/x" + h11, true, nil, 400, chNone, ""},
		{"F8", get + "/public;/../admin" + h11, false, nil, 400, chNone, ""},
		{"F8", get + "/admin;x=1" + h11, true, nil, 400, chNone, ""},
		{"F9", get + "/admin%3Bx/y" + h11, true, nil, 400, chNone, ""},
		{"F9", get + "/admin%3bx" + h11, true, nil, 400, chNone, ""},
		{"F10", get + "/admin/x%00" + h11, true, nil, 400, chNone, ""},
		{"F10", get + "/api/x%00" + h11, true, nil, 400, chNone, ""},
		{"F11", get + "/admin/x%0a" + h11, true, nil, 400, chNone, ""},
		{"F11", get + "/admin/x%0d" + h11, true, nil, 400, chNone, ""},
		{"F11", get + "/admin/x%09" + h11, true, nil, 400, chNone, ""},
		{"F11", get + "/admin/x%e2%80%a8" + h11, true, nil, 400, chNone, ""},
		{"F12", get + "/admin/%252e%252e/x" + h11, true, nil, 400, chNone, ""},
		{"F12", get + "/public/%252fadmin" + h11, false, nil, 400, chNone, ""},
		{"F13", get + "/admin/%C0%AE%C0%AE/x" + h11, true, nil, 400, chNone, ""},
		{"F13", get + "/admin/%FF" + h11, true, nil, 400, chNone, ""},
		// F13: look-alikes are exact bytes; they match no rule: deny.
		{"F13", get + "/%EF%BD%81dmin/x" + h11, true, nil, 403, chInsufficient, ""},
		{"F13", get + "/admin%EF%BC%8Fx" + h11, true, nil, 403, chInsufficient, ""},
		{"F13", get + "/admin/%EF%BC%8E%EF%BC%8E/x" + h11, true, nil, 200, chNone, "/admin/%EF%BC%8E%EF%BC%8E/x"},
		{"F13", get + "/public/%EF%BC%8E%EF%BC%8E/admin" + h11, false, nil, 200, chNone, "/public/%EF%BC%8E%EF%BC%8E/admin"},
		{"F14", get + "/%61dmin/x" + h11, true, nil, 200, chNone, "/admin/x"},
		{"F14", get + "/%61dmin/x" + h11, false, nil, 401, chBearer, ""},
		// F15: net/http itself refuses these targets (400) before any
		// handler runs.
		{"F15", get + "/admin/%ZZ" + h11, true, nil, 400, chServer, ""},
		{"F15", get + "/admin/x%" + h11, true, nil, 400, chServer, ""},
		{"F15", get + "/admin/%4" + h11, true, nil, 400, chServer, ""},
		{"F16", get + "/public?/../admin" + h11, false, nil, 200, chNone, "/public"},
		{"F16", get + "/admin?x=/public/" + h11, false, nil, 401, chBearer, ""},
		{"F16", get + "/public#/../admin" + h11, false, nil, 400, chNone, ""},
		{"F16", get + "/admin/x#frag" + h11, true, nil, 400, chNone, ""},
		{"F17", get + long + h11, false, nil, 414, chNone, ""},
		{"F19", get + "/publicity" + h11, false, nil, 403, chNone, ""},
		{"F19", get + "/public-leak" + h11, false, nil, 403, chNone, ""},
		{"F19", get + "/api/1/2" + h11, true, nil, 403, chInsufficient, ""},
		{"F19", get + "/adminx" + h11, true, nil, 403, chInsufficient, ""},
		// F20: rules are Keycloak path templates ({x} = one segment, /*
		// = a suffix at a segment boundary), never regular expressions;
		// a newline in a {x} segment is refused at F11 already.
		{"F20", get + "/api/1%0a" + h11, true, nil, 400, chNone, ""},
		{"F21", "POST /admin/x" + h11, true, []string{"X-HTTP-Method-Override: DELETE", "Content-Length: 0"}, 400, chNone, ""},
		{"F21", "POST /admin/x" + h11, true, []string{"X-HTTP-Method: DELETE", "Content-Length: 0"}, 400, chNone, ""},
		{"F21", "POST /admin/x" + h11, true, []string{"X-Method-Override: DELETE", "Content-Length: 0"}, 400, chNone, ""},
		{"F21", "POST /admin/x?_method=DELETE" + h11, true, []string{"Content-Length: 0"}, 400, chNone, ""},
		{"F22", "get /admin/x" + h11, true, nil, 400, chNone, ""},
		{"F22", "Get /admin/x" + h11, true, nil, 400, chNone, ""},
		{"F22", "FOO /admin/x" + h11, true, nil, 405, chNone, ""},
		{"F22", "PROPFIND /admin/x" + h11, true, nil, 405, chNone, ""},
		{"F23", "HEAD /admin/x" + h11, true, nil, 200, chNone, "/admin/x"},
		{"F23", "HEAD /admin/x" + h11, false, nil, 401, chBearer, ""},
		{"F23", "OPTIONS /admin/x" + h11, false, nil, 401, chBearer, ""},
		// F23: a CORS preflight is not exempt: it needs a token like any
		// other request to a mapped path, so it never reaches a handler
		// anonymously (the application answers CORS after the grant).
		{"F23", "OPTIONS /admin/x" + h11, false, []string{"Origin: https://app.example", "Access-Control-Request-Method: DELETE"}, 401, chBearer, ""},
		{"F23", "TRACE /admin/x" + h11, true, nil, 405, chNone, ""},
		{"F24", "CONNECT svc:443" + h11, true, nil, 405, chNone, ""},
		{"F24", "CONNECT /admin/../x" + h11, true, nil, 405, chNone, ""},
		{"F24", get + "http://evil.example/admin/x" + h11, true, nil, 400, chNone, ""},
		{"F24", get + "*" + h11, true, nil, 400, chNone, ""},
		{"F25", get + "/unmapped" + h11, true, nil, 403, chInsufficient, ""},
		{"F25", get + "/unmapped" + h11, false, nil, 403, chNone, ""},
		// F27: rptguard has no host-based rules; the Host header never
		// takes part in the decision.
		{"F27", get + "/admin/x" + h11, true, []string{"Host: Tenant-A.example"}, 200, chNone, "/admin/x"},
		{"F27", get + "/admin/x" + h11, false, []string{"Host: tenant-a.example.:443"}, 401, chBearer, ""},
		{"F28", get + "/public/" + h11, false, []string{"X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X-Forwarded-Prefix: /admin", "X-Forwarded-Path: /admin"}, 200, chNone, "/public"},
		{"F28", get + "/admin/x" + h11, false, []string{"X-Original-URL: /public/x", "X-Rewrite-URL: /public/x"}, 401, chBearer, ""},
		{"F26", get + "/public/a%3Fb" + h11, false, nil, 200, chNone, "/public/a%3Fb"},
	}
	runPathRows(t, v, tok, rows)
	t.Run("F24 OPTIONS *", func(t *testing.T) {
		t.Parallel()
		// Go's server answers "OPTIONS *" itself (200, empty body); the
		// handler is never reached. The enforcer's own answer to it
		// (403) is tested in enforcer/decide_test.go.
		r := v.raw(t, "OPTIONS * HTTP/1.1")
		assert.False(t, r.reached)
	})
}

// TestAttackF_DenyPage: F18 — the on-deny-redirect-to page is exempt only
// on an exact canonical match; I7 — the redirect never reflects input.
func TestAttackF_DenyPage(t *testing.T) {
	t.Parallel()
	v := newEnv(t, strings.Replace(fixtureF, `{"paths"`, `{"on-deny-redirect-to":"/access-denied","paths"`, 1))
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Items", "view"))
	rows := []pathRow{
		{"F18", "GET /access-denied HTTP/1.1", false, nil, 200, chNone, "/access-denied"},
		{"F18", "GET /access-denied/ HTTP/1.1", false, nil, 200, chNone, "/access-denied"},
		{"F18", "GET /x/access-denied HTTP/1.1", false, nil, http.StatusFound, chNone, ""},
		{"F18", "GET /access-denied-not HTTP/1.1", false, nil, http.StatusFound, chNone, ""},
		// Mapped paths answer 401 to anonymous requests, never 302 (a
		// documented difference from Keycloak, which redirects).
		{"F18", "GET /admin?r=/access-denied HTTP/1.1", false, nil, 401, chBearer, ""},
		{"F18", "GET /admin/access-denied/../x HTTP/1.1", false, nil, 400, chNone, ""},
		{"F18", "GET /admin/x HTTP/1.1", true, nil, 403, chInsufficient, ""},
		{"I7", "GET /%5Cevil.example HTTP/1.1", false, nil, 400, chNone, ""},
		{"I7", "GET /x?next=//evil.example HTTP/1.1", false, nil, http.StatusFound, chNone, ""},
	}
	runPathRows(t, v, tok, rows)
	t.Run("I7 Location is the configured page", func(t *testing.T) {
		t.Parallel()
		for _, line := range []string{"GET /x/access-denied HTTP/1.1", "GET /x?next=//evil.example HTTP/1.1", "GET /y?r=%09//evil HTTP/1.1"} {
			r := v.raw(t, line)
			assert.Equal(t, http.StatusFound, r.status, line)
			assert.Equal(t, "/access-denied", r.header.Get("Location"), line)
		}
	})
}

// TestAttackF_NormalizeMode: F1, F4, F8, F26 in keycloak canonicalization
// mode: the path is normalized, the stricter policy applies, and the
// handler sees the normalized path (never "normalize to check, forward
// raw").
func TestAttackF_NormalizeMode(t *testing.T) {
	t.Parallel()
	v := newEnv(t, strings.Replace(fixtureF, `"permissions-source":"token"`, `"permissions-source":"token","path-canonicalization":"keycloak"`, 1))
	tok := v.kc.IssueRPT("bob", perm(v.kc, "Admin"))
	rows := []pathRow{
		{"F1", "GET /public/../admin/x HTTP/1.1", false, nil, 401, chBearer, ""},
		{"F1", "GET /public/../admin/x HTTP/1.1", true, nil, 200, chNone, "/admin/x"},
		{"F4", "GET //admin/x HTTP/1.1", false, nil, 401, chBearer, ""},
		{"F4", "GET /admin//y/./z HTTP/1.1", true, nil, 200, chNone, "/admin/y/z"},
		{"F8", "GET /admin;x=1/y HTTP/1.1", true, nil, 200, chNone, "/admin/y"},
		{"F8", "GET /public;/../admin/x HTTP/1.1", false, nil, 401, chBearer, ""},
		{"F1", "GET /public/../../admin HTTP/1.1", false, nil, 400, chNone, ""},
	}
	runPathRows(t, v, tok, rows)
}
