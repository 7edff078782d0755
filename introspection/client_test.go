package introspection

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/internal/clientauth"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

var orders = rpt.Permission{ResourceID: "res-orders-1", ResourceName: "Orders", Scopes: []string{"orders:read", "orders:write"}}

func TestVerifyActiveRPT(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	tok := e.srv.IssueRPT("alice", orders, rpt.Permission{ResourceID: "res-invoices", ResourceName: "Invoices"})

	claims, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.NotNil(t, claims)
	assert.Equal(t, e.srv.Issuer(), claims.Issuer)
	assert.Contains(t, claims.Audience, e.srv.ClientID())
	assert.Equal(t, "Bearer", claims.Type)
	assert.False(t, claims.ExpiresAt.IsZero())
	perms := claims.Permissions()
	require.Len(t, perms, 2)
	assert.Equal(t, "res-orders-1", perms[0].ResourceID)
	assert.Equal(t, "Orders", perms[0].ResourceName)
	assert.ElementsMatch(t, []string{"orders:read", "orders:write"}, perms[0].Scopes)
	assert.Equal(t, "res-invoices", perms[1].ResourceID)
	assert.Empty(t, perms[1].Scopes)

	// Warm cache: no second call, same claims.
	again, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Same(t, claims, again)
	assert.Equal(t, 1, e.introspections())

	res, err := c.Introspect(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now(), res.FetchedAt)
	assert.Equal(t, e.clock.Now().Add(DefaultCacheTTL), res.Expires)
}

func TestVerifyFullResponseWithoutHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.OmitTokenTypeHint = true })
	tok := e.srv.IssueRPT("bob", orders)
	claims, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.Len(t, claims.Permissions(), 1)
	assert.Equal(t, "Orders", claims.Permissions()[0].ResourceName)
	req := e.srv.LastRequest(keycloaktest.EndpointIntrospection)
	require.NotNil(t, req)
	assert.NotContains(t, req.Form, "token_type_hint")
}

func TestVerifyInactive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	for _, tok := range []string{"not-a-jwt", "eyJhbGciOiJub25lIn0.e30."} {
		_, err := c.Verify(t.Context(), tok)
		require.ErrorIs(t, err, ErrInactive)
		require.ErrorIs(t, err, rpt.ErrInvalidToken)
		require.NotErrorIs(t, err, ErrUnavailable)
		assert.NotContains(t, err.Error(), tok)
	}
	n := e.introspections()
	assert.Equal(t, 2, n)

	// Negative cache: no call within the negative TTL, a new one after it.
	_, err := c.Verify(t.Context(), "not-a-jwt")
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, n, e.introspections())
	e.clock.Advance(DefaultNegativeCacheTTL + time.Millisecond)
	_, err = c.Verify(t.Context(), "not-a-jwt")
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, n+1, e.introspections())
}

func TestVerifyRejectsBadInputWithoutCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	for _, tok := range []string{"", "a b", strings.Repeat("a", maxTokenBytes+1)} {
		_, err := c.Verify(t.Context(), tok)
		require.ErrorIs(t, err, rpt.ErrInvalidToken)
	}
	assert.Zero(t, e.introspections())
}

func TestRevokedMidway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.CacheTTL = 30 * time.Second })
	tok := e.srv.IssueRPT("alice", orders)

	_, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	e.srv.Revoke(tok)

	// Within the positive TTL the cached answer is still used (documented
	// revocation budget).
	e.clock.Advance(29 * time.Second)
	_, err = c.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 1, e.introspections())

	e.clock.Advance(2 * time.Second)
	_, err = c.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, 2, e.introspections())
}

func TestCacheDisabledSeesRevocationAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.CacheTTL = -1 })
	tok := e.srv.IssueRPT("alice", orders)
	_, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	e.srv.Revoke(tok)
	_, err = c.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrInactive)
	assert.Equal(t, 2, e.introspections())
}

func TestExpiredWhileCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keycloaktest.WithTokenLifetime(5*time.Second))
	c := e.client(t, nil) // CacheTTL 60 s > lifetime 5 s
	tok := e.srv.IssueRPT("alice", orders)

	res, err := c.Introspect(t.Context(), tok)
	require.NoError(t, err)
	assert.True(t, res.Claims.ExpiresAt.Equal(res.Expires), "entry lives until exp, not the TTL (D9)")

	e.clock.Advance(4 * time.Second)
	_, err = c.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 1, e.introspections())

	e.clock.Advance(2 * time.Second)
	_, err = c.Verify(t.Context(), tok)
	require.ErrorIs(t, err, rpt.ErrInvalidToken)
	assert.Equal(t, 2, e.introspections())
}

// TestMaxAgeWhileCached: a cached active answer is not served once the
// token is older than Rules.MaxAge (B5), whatever CacheTTL says.
func TestMaxAgeWhileCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.Rules.MaxAge, cfg.Rules.Leeway = 10*time.Second, -1 })
	tok := e.srv.IssueRPT("alice", orders)

	_, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)
	e.clock.Advance(15 * time.Second) // CacheTTL 60 s, token exp 5 min away
	_, err = c.Verify(t.Context(), tok)
	require.ErrorIs(t, err, rpt.ErrIssuedAt)
	assert.Equal(t, 2, e.introspections())
}

// TestUnavailable: every answer that is not a well-formed RFC 7662 response
// is ErrUnavailable (503), never inactive and never active, and is remembered
// only for the error backoff.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	big := `{"active":true,"pad":"` + strings.Repeat("x", DefaultMaxResponseBytes) + `"}`
	tests := []struct {
		name      string
		setup     func(s *keycloaktest.Server)
		status    int
		wantErr   error
		timeout   time.Duration
		wantCause error
	}{
		{name: "500", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointIntrospection, 500) }, status: 500},
		{name: "502", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointIntrospection, 502) }, status: 502},
		{name: "503", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointIntrospection, 503) }, status: 503},
		{name: "404", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointIntrospection, 404) }, status: 404},
		{name: "400", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointIntrospection, 400) }, status: 400},
		{name: "302 not followed", setup: func(s *keycloaktest.Server) {
			s.Respond(keycloaktest.EndpointIntrospection, 302, "text/html", "")
		}, status: 302},
		{name: "not ready", setup: func(s *keycloaktest.Server) { s.SetReady(false) }, status: 503},
		{name: "hang", setup: func(s *keycloaktest.Server) { s.Hang(keycloaktest.EndpointIntrospection) }, timeout: 200 * time.Millisecond, wantCause: errTimeout},
		{name: "slow", setup: func(s *keycloaktest.Server) { s.SetLatency(keycloaktest.EndpointIntrospection, time.Second) }, timeout: 100 * time.Millisecond, wantCause: errTimeout},
		{name: "html 200", setup: respond(200, "text/html", "<html><body>Login</body></html>"), status: 200, wantCause: ErrMalformedResponse},
		{name: "html with json type", setup: respond(200, "application/json", "<html></html>"), status: 200, wantCause: ErrMalformedResponse},
		{name: "json with text type", setup: respond(200, "text/plain", `{"active":false}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "no content type", setup: respond(200, "", `{"active":false}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "latin-1 charset", setup: respond(200, "application/json; charset=iso-8859-1", `{"active":false}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "active string", setup: respond(200, "application/json", `{"active":"true"}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "active number", setup: respond(200, "application/json", `{"active":1}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "active null", setup: respond(200, "application/json", `{"active":null}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "active missing", setup: respond(200, "application/json", `{}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "active case variant", setup: respond(200, "application/json", `{"Active":true}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "duplicate active", setup: respond(200, "application/json", `{"active":false,"active":true}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "trailing data", setup: respond(200, "application/json", `{"active":false} {"active":true}`), status: 200, wantCause: ErrMalformedResponse},
		{name: "array root", setup: respond(200, "application/json", `[{"active":true}]`), status: 200, wantCause: ErrMalformedResponse},
		{name: "empty body", setup: respond(200, "application/json", ``), status: 200, wantCause: ErrMalformedResponse},
		{name: "oversize", setup: respond(200, "application/json", big), status: 200, wantCause: ErrMalformedResponse},
		{name: "permissions not array", setup: respond(200, "application/json", `{"active":true,"permissions":{}}`), status: 200, wantCause: ErrMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.client(t, func(cfg *Config) {
				if tt.timeout > 0 {
					cfg.Timeout = tt.timeout
				}
			})
			tok := e.srv.IssueRPT("alice", orders)
			tt.setup(e.srv)

			claims, err := c.Verify(t.Context(), tok)
			require.Nil(t, claims)
			require.ErrorIs(t, err, ErrUnavailable)
			require.ErrorIs(t, err, rpt.ErrUnavailable)
			require.NotErrorIs(t, err, rpt.ErrInvalidToken)
			require.NotErrorIs(t, err, ErrInactive)
			require.NotErrorIs(t, err, ErrClientAuth)
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tt.status, ue.StatusCode)
			assert.Equal(t, DefaultErrorBackoff, ue.RetryAfter)
			if tt.wantCause != nil {
				require.ErrorIs(t, err, tt.wantCause)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "introspection: "), err.Error())
			assert.NotContains(t, err.Error(), tok)
			assert.NotContains(t, err.Error(), e.srv.ClientSecret()+"@")
			assert.NotContains(t, err.Error(), "Login")
			assert.NotContains(t, err.Error(), "error_description")
			assert.NotContains(t, e.logs.String(), tok)

			// The failure is remembered only for the backoff, then the
			// endpoint is asked again; once healed the token is active.
			n := e.introspections()
			_, err = c.Verify(t.Context(), tok)
			require.ErrorIs(t, err, ErrUnavailable)
			assert.Equal(t, n, e.introspections())
			e.srv.Heal("")
			e.srv.SetReady(true)
			e.clock.Advance(DefaultErrorBackoff + time.Millisecond)
			_, err = c.Verify(t.Context(), tok)
			require.NoError(t, err)
		})
	}
}

func respond(status int, contentType, body string) func(*keycloaktest.Server) {
	return func(s *keycloaktest.Server) { s.Respond(keycloaktest.EndpointIntrospection, status, contentType, body) }
}

func TestRefusedConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	tok := e.srv.IssueRPT("alice", orders)
	e.srv.Close()
	_, err := c.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
	assert.NotContains(t, err.Error(), tok)
}

// TestActiveButRejectedByClaimRules: the same claim checks as local
// verification run on active answers (D3, D4).
func TestActiveButRejectedByClaimRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := e.clock.Now().Unix()
	body := func(extra string) string {
		return fmt.Sprintf(`{"active":true,"jti":"j1","typ":"Bearer","iat":%d,"exp":%d,"aud":["%s"]%s}`,
			now-10, now+300, e.srv.ClientID(), extra)
	}
	tests := []struct {
		name    string
		body    string
		wantErr error
	}{
		{name: "refresh token", body: strings.Replace(body(""), `"typ":"Bearer"`, `"typ":"Refresh"`, 1), wantErr: rpt.ErrTokenType},
		{name: "id token", body: strings.Replace(body(""), `"typ":"Bearer"`, `"typ":"ID"`, 1), wantErr: rpt.ErrTokenType},
		{name: "refresh token_type", body: body(`,"token_type":"Refresh"`), wantErr: rpt.ErrTokenType},
		{name: "expired", body: strings.Replace(body(""), fmt.Sprint(now+300), fmt.Sprint(now-120), 1), wantErr: rpt.ErrExpired},
		{name: "not yet valid", body: body(fmt.Sprintf(`,"nbf":%d`, now+3600)), wantErr: rpt.ErrNotYetValid},
		{name: "wrong audience", body: strings.Replace(body(""), `["`+e.srv.ClientID()+`"]`, `["other-api"]`, 1), wantErr: rpt.ErrAudience},
		{name: "wrong issuer", body: body(`,"iss":"https://evil.example/realms/rptguard"`), wantErr: rpt.ErrIssuer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(t, nil)
			e.srv.Respond(keycloaktest.EndpointIntrospection, 200, "application/json", tt.body)
			_, err := c.Verify(t.Context(), "opaque-"+strings.ReplaceAll(tt.name, " ", "-"))
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorIs(t, err, rpt.ErrInvalidToken)
			require.NotErrorIs(t, err, ErrUnavailable)
		})
	}
	t.Run("accepted baseline", func(t *testing.T) {
		c := e.client(t, nil)
		e.srv.Respond(keycloaktest.EndpointIntrospection, 200, "application/json; charset=utf-8",
			body(`,"permissions":[{"resource_id":"r1","resource_scopes":["read"],"exp":`+fmt.Sprint(now+60)+`},`+
				`{"rsid":"r2","rsname":"Two","scopes":["a","b"],"resource_id":"r2","resource_scopes":["b","a"]},`+
				`{"rsid":"r3","nbf":`+fmt.Sprint(now+60)+`},`+
				`{"rsid":"r4","resource_id":"other"},`+
				`{"rsid":"r5","scopes":["read"],"resource_scopes":["read","write"]},`+
				`{"resource_id":"r6","resource_name":"Six"}]`))
		claims, err := c.Verify(t.Context(), "opaque-ok")
		require.NoError(t, err)
		assert.Equal(t, e.srv.Issuer(), claims.Issuer, "iss defaults to the configured issuer")
		perms := claims.Permissions()
		require.Len(t, perms, 3, "permissions with a future nbf or disagreeing aliases are dropped")
		assert.Equal(t, "r1", perms[0].ResourceID)
		assert.Equal(t, []string{"read"}, perms[0].Scopes)
		assert.Equal(t, now+60, perms[0].ExpiresAt.Unix())
		assert.Equal(t, "Two", perms[1].ResourceName)
		assert.Equal(t, []string{"a", "b"}, perms[1].Scopes)
		assert.Equal(t, "r6", perms[2].ResourceID)
		assert.Equal(t, "Six", perms[2].ResourceName, "old resource_name alias")
	})
}

func TestClientAuthRejected(t *testing.T) {
	t.Parallel()
	const secret = "wrong:s3cr%et+ü"
	e := newEnv(t)
	for _, method := range []AuthMethod{ClientSecretBasic, ClientSecretPost} {
		t.Run(string(method), func(t *testing.T) {
			c := e.client(t, func(cfg *Config) { cfg.ClientSecret = secret; cfg.AuthMethod = method })
			tok := e.srv.IssueRPT("alice", orders)
			_, err := c.Verify(t.Context(), tok)
			require.ErrorIs(t, err, ErrClientAuth)
			require.ErrorIs(t, err, ErrUnavailable)
			require.NotErrorIs(t, err, rpt.ErrInvalidToken)
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, http.StatusUnauthorized, ue.StatusCode)
			assertNoSecret(t, secret, err.Error(), e.logs.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c))
			assert.NotContains(t, err.Error(), tok)
			assert.Contains(t, e.logs.String(), "rejected this client's credentials")
		})
	}
}

func TestPublicClientRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}))
	c := e.client(t, func(cfg *Config) { cfg.ClientID = "spa"; cfg.AuthMethod = ClientSecretPost })
	_, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
	require.ErrorIs(t, err, ErrClientAuth)
}

func assertNoSecret(tb testing.TB, secret string, texts ...string) {
	tb.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, s := range texts {
		assert.NotContains(tb, s, secret)
		assert.NotContains(tb, s, basic)
	}
}

// TestSecretEncoding: a secret with ':', '%', '+' and non-ASCII characters is
// form-urlencoded before HTTP Basic (RFC 6749 §2.3.1, D13) and accepted.
func TestSecretEncoding(t *testing.T) {
	t.Parallel()
	const id, secret = "api:v2+ü", "p:ss%20w+rd/ü€ ="
	tests := []struct {
		name       string
		method     AuthMethod
		wantHeader string
	}{
		{name: "basic", method: ClientSecretBasic,
			wantHeader: "Basic " + base64.StdEncoding.EncodeToString([]byte("api%3Av2%2B%C3%BC:p%3Ass%2520w%2Brd%2F%C3%BC%E2%82%AC+%3D"))},
		{name: "post", method: ClientSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, keycloaktest.WithResourceServer(id, secret))
			c := e.client(t, func(cfg *Config) { cfg.AuthMethod = tt.method })
			claims, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
			require.NoError(t, err)
			assert.Contains(t, claims.Audience, id)
			req := e.srv.LastRequest(keycloaktest.EndpointIntrospection)
			require.NotNil(t, req)
			if tt.wantHeader != "" {
				assert.Equal(t, tt.wantHeader, req.Header.Get("Authorization"))
				assert.NotContains(t, req.Form, "client_secret")
			} else {
				assert.Empty(t, req.Header.Get("Authorization"))
				assert.Equal(t, id, req.Form.Get("client_id"))
				assert.Equal(t, secret, req.Form.Get("client_secret"))
			}
			assertNoSecret(t, secret, e.logs.String())
		})
	}
}

// TestRequestForm: POST, form body, token never in the URL, the hint (D15).
func TestRequestForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(*Config)
		wantHint string
	}{
		{name: "default hint", wantHint: "requesting_party_token"},
		{name: "custom hint", mutate: func(c *Config) { c.TokenTypeHint = "access_token" }, wantHint: "access_token"},
		{name: "no hint", mutate: func(c *Config) { c.OmitTokenTypeHint = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.client(t, tt.mutate)
			tok := e.srv.IssueRPT("alice", orders)
			_, err := c.Verify(t.Context(), tok)
			require.NoError(t, err)
			req := e.srv.LastRequest(keycloaktest.EndpointIntrospection)
			require.NotNil(t, req)
			assert.Equal(t, http.MethodPost, req.Method)
			assert.Empty(t, req.URL.RawQuery)
			assert.NotContains(t, req.URL.String(), tok)
			assert.True(t, strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded"), req.Header.Get("Content-Type"))
			assert.Equal(t, tok, req.Form.Get("token"))
			if tt.wantHint == "" {
				assert.NotContains(t, req.Form, "token_type_hint")
			} else {
				assert.Equal(t, tt.wantHint, req.Form.Get("token_type_hint"))
			}
			assert.Equal(t, clientauth.BasicAuthorization(e.srv.ClientID(), e.srv.ClientSecret()), req.Header.Get("Authorization"))
			assert.NotContains(t, req.Form, "client_secret")
		})
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	ok := Config{
		Endpoint: "https://kc.example/realms/r/protocol/openid-connect/token/introspect", ClientID: "api", ClientSecret: "s",
		Rules: rpt.ClaimRules{Issuer: "https://kc.example/realms/r", Audience: []string{"api"}},
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "ok"},
		{name: "http refused", mutate: func(c *Config) { c.Endpoint = "http://kc.example/introspect" }, wantErr: "https"},
		{name: "http allowed with flag", mutate: func(c *Config) { c.Endpoint = "http://kc.example/introspect"; c.InsecureAllowHTTP = true }},
		{name: "ftp refused", mutate: func(c *Config) { c.Endpoint = "ftp://kc.example/introspect"; c.InsecureAllowHTTP = true }, wantErr: "introspection:"},
		{name: "userinfo refused", mutate: func(c *Config) { c.Endpoint = "https://api:s@kc.example/introspect" }, wantErr: "credentials in URL"},
		{name: "relative", mutate: func(c *Config) { c.Endpoint = "/introspect" }, wantErr: "not an absolute URL"},
		{name: "query", mutate: func(c *Config) { c.Endpoint = "https://kc.example/introspect?token=x" }, wantErr: "query"},
		{name: "no endpoint", mutate: func(c *Config) { c.Endpoint = "" }, wantErr: "endpoint is required"},
		{name: "no client id", mutate: func(c *Config) { c.ClientID = "" }, wantErr: "client id"},
		{name: "no secret", mutate: func(c *Config) { c.ClientSecret = "" }, wantErr: "secret"},
		{name: "unknown method", mutate: func(c *Config) { c.AuthMethod = "tls_client_auth" }, wantErr: "unsupported"},
		{name: "private_key_jwt without key", mutate: func(c *Config) { c.AuthMethod = PrivateKeyJWT }, wantErr: "private key"},
		{name: "no rules", mutate: func(c *Config) { c.Rules = rpt.ClaimRules{} }, wantErr: "claim rules"},
		{name: "client_secret_jwt RS256", mutate: func(c *Config) { c.AuthMethod = ClientSecretJWT; c.AssertionAlgorithm = "RS256" }, wantErr: "unsupported algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			c, err := New(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "introspection: "), err.Error())
			assert.NotContains(t, err.Error(), "api:s@")
		})
	}
}

func TestConfigRedaction(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	cfg := Config{Endpoint: "https://kc.example/i", ClientID: "api", ClientSecret: secret,
		Rules: rpt.ClaimRules{Issuer: "https://kc.example/realms/r", Audience: []string{"api"}}}
	type wrapper struct{ Introspection Config }
	var logs safeBuffer
	logger := newTestLogger(&logs)
	logger.Info("config", "cfg", cfg)
	out := fmt.Sprintf("%v|%+v|%#v|%s|%v|%+v", cfg, cfg, cfg, cfg, wrapper{cfg}, &wrapper{cfg})
	assert.NotContains(t, out, secret)
	assert.NotContains(t, logs.String(), secret)
	assert.Contains(t, out, "api")
}

// TestSingleFlight: 1,000 concurrent Verify calls for one uncached token make
// exactly one introspection call.
func TestSingleFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	tok := e.srv.IssueRPT("alice", orders)
	e.srv.SetLatency(keycloaktest.EndpointIntrospection, 100*time.Millisecond)

	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			claims, err := c.Verify(t.Context(), tok)
			if err == nil && claims == nil {
				err = errors.New("nil claims")
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, e.introspections())
}

// TestDistinctTokens: tokens sharing a long prefix, introspected at once,
// each get their own answer (D7).
func TestDistinctTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	e.srv.SetLatency(keycloaktest.EndpointIntrospection, 50*time.Millisecond)
	good := e.srv.IssueRPT("alice", orders)
	bad := good[:len(good)-2] + "xx"
	var wg sync.WaitGroup
	var goodErr, badErr error
	wg.Add(2)
	go func() { defer wg.Done(); _, goodErr = c.Verify(t.Context(), good) }()
	go func() { defer wg.Done(); _, badErr = c.Verify(t.Context(), bad) }()
	wg.Wait()
	require.NoError(t, goodErr)
	require.ErrorIs(t, badErr, ErrInactive)
	assert.Equal(t, 2, e.introspections())

	// The key binds the token to the endpoint and the client id.
	for _, cfg := range []Config{
		{Endpoint: e.srv.IntrospectionURL(), ClientID: "other-api"},
		{Endpoint: e.srv.IntrospectionURL() + "/", ClientID: e.srv.ClientID()},
	} {
		cfg.ClientSecret, cfg.InsecureAllowHTTP, cfg.Rules = "s", true, e.config().Rules
		other, err := New(cfg)
		require.NoError(t, err)
		assert.NotEqual(t, c.key(good), other.key(good))
	}
}

// TestWaiterCancellation: a waiter whose context ends gets context.Canceled
// while the shared call goes on for the others.
func TestWaiterCancellation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, nil)
	tok := e.srv.IssueRPT("alice", orders)
	e.srv.SetLatency(keycloaktest.EndpointIntrospection, 300*time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() { _, err := c.Verify(ctx, tok); first <- err }()
	second := make(chan error, 1)
	go func() { _, err := c.Verify(t.Context(), tok); second <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-first
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
	require.NoError(t, <-second)
	assert.Equal(t, 1, e.introspections())

	// An already cancelled context never calls out.
	_, err = c.Verify(ctx, "another-token")
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, e.introspections())
}

func TestWaiterCancellationWhileHung(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond })
	e.srv.Hang(keycloaktest.EndpointIntrospection)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Verify(ctx, e.srv.IssueRPT("alice", orders))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrInactive)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{name: "seconds", in: "120", want: 2 * time.Minute, ok: true},
		{name: "date", in: now.Add(30 * time.Second).Format(http.TimeFormat), want: 30 * time.Second, ok: true},
		{name: "past date", in: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{name: "capped", in: "999999", want: maxRetryAfter, ok: true},
		{name: "negative", in: "-5"},
		{name: "garbage", in: "soon"},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRetryAfter(tt.in, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	err := statusError(503, http.Header{"Retry-After": {"7"}}, now, time.Second)
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 7*time.Second, ue.RetryAfter)
	assert.Equal(t, "introspection: authorization server unavailable (HTTP 503)", err.Error())
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t, func(cfg *Config) { cfg.MaxEntries = 8 })
	for i := range 50 {
		_, err := c.Verify(t.Context(), fmt.Sprintf("random-%d", i))
		require.ErrorIs(t, err, ErrInactive)
	}
	assert.Equal(t, 8, c.cache.Len())
}

// TestTLS: an https endpoint works without the insecure flag; a certificate
// the client does not trust is ErrUnavailable, not inactive (D12).
func TestTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keycloaktest.WithTLS())
	c := e.client(t, func(cfg *Config) { cfg.InsecureAllowHTTP = false })
	tok := e.srv.IssueRPT("alice", orders)
	_, err := c.Verify(t.Context(), tok)
	require.NoError(t, err)

	untrusting, err := New(e.config(), WithClock(e.clock.Now)) // default client: system roots only
	require.NoError(t, err)
	_, err = untrusting.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, rpt.ErrInvalidToken)
}

// TestDiscoveredEndpoint: the endpoint found by rpt.Discover works as is.
func TestDiscoveredEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md, err := rpt.Discover(t.Context(), e.srv.HTTPClient(), e.srv.URL(), e.srv.Realm(), rpt.InsecureAllowHTTP())
	require.NoError(t, err)
	c := e.client(t, func(cfg *Config) { cfg.Endpoint = md.IntrospectionEndpoint })
	_, err = c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
	require.NoError(t, err)
}

// TestRetryAfterOverHTTP: a 503 or 429 with Retry-After from keycloaktest
// carries the hint to the caller; the error body never reaches the error.
func TestRetryAfterOverHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration
	}{
		{name: "503 seconds", status: 503, header: "30", want: 30 * time.Second},
		{name: "429 seconds", status: 429, header: "2", want: 2 * time.Second},
		{name: "503 http-date", status: 503, header: "date", want: 90 * time.Second},
		{name: "503 without header", status: 503, want: DefaultErrorBackoff},
		{name: "503 garbage header", status: 503, header: "soon", want: DefaultErrorBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			h := http.Header{}
			switch tt.header {
			case "":
			case "date":
				h.Set("Retry-After", e.clock.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			default:
				h.Set("Retry-After", tt.header)
			}
			e.srv.RespondWithHeaders(keycloaktest.EndpointIntrospection, tt.status, h, "application/json",
				`{"error":"temporarily_unavailable","error_description":"internal host kc-7.corp"}`)
			c := e.client(t, nil)
			_, err := c.Verify(t.Context(), e.srv.IssueRPT("alice", orders))
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tt.status, ue.StatusCode)
			assert.Equal(t, tt.want, ue.RetryAfter)
			assert.NotContains(t, err.Error(), "kc-7.corp", "AS error bodies are never passed through (I8)")
		})
	}
}
