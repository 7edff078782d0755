package uma_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
	"github.com/rptguard/rptguard/uma"
)

func boolPtr(b bool) *bool { return &b }

// permSet flattens permissions to "rsname#scope" strings for comparisons.
func permSet(perms []rpt.Permission) []string {
	var out []string
	for _, p := range perms {
		name := p.ResourceName
		if name == "" {
			name = p.ResourceID
		}
		if len(p.Scopes) == 0 {
			out = append(out, name)
		}
		for _, s := range p.Scopes {
			out = append(out, name+"#"+s)
		}
	}
	return out
}

func TestNew(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ctx := testCtx(t)
	tests := []struct {
		name    string
		cfg     func(uma.Config) uma.Config
		opts    []uma.Option
		wantErr bool
	}{
		{name: "discovery", cfg: func(c uma.Config) uma.Config { return c }},
		{name: "explicit endpoints", cfg: func(c uma.Config) uma.Config {
			c.AuthServerURL, c.TokenEndpoint, c.Issuer, c.JWKSURL = "", srv.TokenURL(), srv.Issuer(), srv.JWKSURL()
			c.PermissionEndpoint, c.ResourceRegistrationEndpoint = srv.PermissionURL(), srv.ResourceSetURL()
			return c
		}},
		{name: "http refused by default", cfg: func(c uma.Config) uma.Config { c.InsecureAllowHTTP = false; return c }, wantErr: true},
		{name: "no client id", cfg: func(c uma.Config) uma.Config { c.ClientID = ""; return c }, wantErr: true},
		{name: "no realm", cfg: func(c uma.Config) uma.Config { c.Realm = ""; return c }, wantErr: true},
		{name: "unknown realm", cfg: func(c uma.Config) uma.Config { c.Realm = "nope"; return c }, wantErr: true},
		{name: "bad auth method", cfg: func(c uma.Config) uma.Config { c.AuthMethod = "tls_client_auth"; return c }, wantErr: true},
		{name: "private_key_jwt without key", cfg: func(c uma.Config) uma.Config { c.AuthMethod = uma.AuthPrivateKeyJWT; return c }, wantErr: true},
		{name: "client_secret_jwt without secret", cfg: func(c uma.Config) uma.Config {
			c.AuthMethod, c.Credentials.Secret = uma.AuthClientSecretJWT, ""
			return c
		}, wantErr: true},
		{name: "explicit without issuer", cfg: func(c uma.Config) uma.Config { c.TokenEndpoint = srv.TokenURL(); return c }, wantErr: true},
		{name: "explicit without jwks or verifier", cfg: func(c uma.Config) uma.Config {
			c.TokenEndpoint, c.Issuer = srv.TokenURL(), srv.Issuer()
			return c
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := uma.New(ctx, tt.cfg(configFor(srv)), uma.WithHTTPClient(srv.HTTPClient()))
			if tt.wantErr {
				require.Error(t, err)
				require.Nil(t, c)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, srv.Issuer(), c.Issuer())
			assert.Equal(t, srv.TokenURL(), c.TokenEndpoint())
		})
	}
}

func TestNewDiscoveryUnavailable(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.Fail(keycloaktest.EndpointUMADiscovery, http.StatusServiceUnavailable)
	_, err := uma.New(testCtx(t), configFor(srv), uma.WithHTTPClient(srv.HTTPClient()))
	require.Error(t, err)
}

func TestGrantVariants(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")
	aliceSPA := srv.AccessToken("alice", keycloaktest.WithAuthorizedParty("spa"))

	tests := []struct {
		name      string
		req       uma.GrantRequest
		wantPerms []string
		check     func(t *testing.T, rr *keycloaktest.RecordedRequest)
	}{
		{name: "subject token + permission", req: uma.GrantRequest{SubjectToken: alice,
			Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}},
			wantPerms: []string{"Orders#view"},
			check: func(t *testing.T, rr *keycloaktest.RecordedRequest) {
				assert.Equal(t, []string{"orders-1#view"}, rr.Form["permission"])
				assert.Equal(t, srv.ClientID(), rr.Form.Get("audience"))
				assert.True(t, strings.HasPrefix(rr.Header.Get("Authorization"), "Basic "))
				assert.Empty(t, rr.Form.Get("client_secret"))
			}},
		{name: "resource by name", req: uma.GrantRequest{SubjectToken: alice,
			Permissions: []uma.Permission{{Resource: "Invoices"}}}, wantPerms: []string{"Invoices#view"}},
		{name: "scope only", req: uma.GrantRequest{SubjectToken: alice,
			Permissions: []uma.Permission{{Scopes: []string{"view"}}}}, wantPerms: []string{"Orders#view", "Invoices#view", "Private#view"}},
		{name: "entitlement (alice owns Private)", req: uma.GrantRequest{SubjectToken: alice}, wantPerms: []string{"Orders#view", "Invoices#view", "Private#view"}},
		{name: "caller bearer token, no client auth", req: uma.GrantRequest{BearerToken: aliceSPA,
			Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}},
			wantPerms: []string{"Orders#view"},
			check: func(t *testing.T, rr *keycloaktest.RecordedRequest) {
				assert.Equal(t, "Bearer "+aliceSPA, rr.Header.Get("Authorization"))
				assert.Empty(t, rr.Form.Get("client_id"))
				assert.Empty(t, rr.Form.Get("subject_token"))
			}},
		{name: "uri format with matching", req: uma.GrantRequest{SubjectToken: alice,
			PermissionResourceFormat: uma.ResourceFormatURI, PermissionResourceMatchingURI: true,
			Permissions: []uma.Permission{{Resource: "/invoices/42", Scopes: []string{"view"}}}},
			wantPerms: []string{"Invoices#view"},
			check: func(t *testing.T, rr *keycloaktest.RecordedRequest) {
				assert.Equal(t, "uri", rr.Form.Get("permission_resource_format"))
				assert.Equal(t, "true", rr.Form.Get("permission_resource_matching_uri"))
			}},
		{name: "scope parameter", req: uma.GrantRequest{SubjectToken: alice, Scope: []string{"view"},
			Permissions: []uma.Permission{{Resource: "orders-1"}}}, wantPerms: []string{"Orders#view"},
			check: func(t *testing.T, rr *keycloaktest.RecordedRequest) { assert.Equal(t, "view", rr.Form.Get("scope")) }},
		{name: "partial grant", req: uma.GrantRequest{SubjectToken: alice,
			Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view", "delete"}}}},
			wantPerms: []string{"Orders#view"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: LastRequest is per server.
			tr, err := c.RequestRPT(ctx, tt.req)
			require.NoError(t, err)
			require.NotNil(t, tr.Claims)
			// Every expected permission, and nothing on another resource
			// (a scope-only request may add a scope-only "#view" entry).
			got := permSet(tr.Claims.Permissions())
			assert.Subset(t, got, tt.wantPerms)
			for _, p := range got {
				if !strings.HasPrefix(p, "#") {
					assert.Contains(t, tt.wantPerms, p)
				}
			}
			assert.Equal(t, "Bearer", tr.TokenType)
			assert.Positive(t, tr.ExpiresIn)
			assert.Contains(t, tr.Claims.Audience, srv.ClientID())
			assert.NotContains(t, tr.String(), tr.AccessToken)
			rr := srv.LastRequest(keycloaktest.EndpointToken)
			require.NotNil(t, rr)
			assert.Equal(t, uma.GrantTypeUMATicket, rr.Form.Get("grant_type"))
			if tt.check != nil {
				tt.check(t, rr)
			}
		})
	}
}

func TestResponseModes(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")

	err := c.RequestDecision(ctx, uma.GrantRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}})
	require.NoError(t, err)
	assert.Equal(t, "decision", srv.LastRequest(keycloaktest.EndpointToken).Form.Get("response_mode"))

	err = c.RequestDecision(ctx, uma.GrantRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"delete"}}}})
	require.ErrorIs(t, err, uma.ErrAccessDenied)

	perms, err := c.RequestPermissions(ctx, uma.GrantRequest{SubjectToken: alice})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Orders#view", "Invoices#view", "Private#view"}, permSet(perms))

	perms, err = c.RequestPermissions(ctx, uma.GrantRequest{SubjectToken: alice, ResponseIncludeResourceName: boolPtr(false)})
	require.NoError(t, err)
	require.NotEmpty(t, perms)
	for _, p := range perms {
		assert.Empty(t, p.ResourceName)
		assert.NotEmpty(t, p.ResourceID)
	}

	perms, err = c.RequestPermissions(ctx, uma.GrantRequest{SubjectToken: alice, ResponsePermissionsLimit: 1})
	require.NoError(t, err)
	assert.Len(t, perms, 1)
	assert.Equal(t, "1", srv.LastRequest(keycloaktest.EndpointToken).Form.Get("response_permissions_limit"))

	res, err := c.Grant(ctx, uma.GrantRequest{SubjectToken: alice, ResponseMode: uma.ResponseModeDecision})
	require.NoError(t, err)
	assert.True(t, res.Decision)
	assert.Nil(t, res.Token)

	_, err = c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice, ResponseMode: uma.ResponseModeDecision})
	require.ErrorIs(t, err, uma.ErrInvalidRequest)
}

// TestGrantErrors covers every error row of SPEC §5.3.
func TestGrantErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")
	bob := srv.AccessToken("bob")
	aliceSPA := srv.AccessToken("alice", keycloaktest.WithAuthorizedParty("spa"))
	foreignRPT := srv.SignToken(map[string]any{"iss": srv.Issuer(), "sub": "x", "aud": srv.ClientID(), "typ": "Bearer",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		"authorization": map[string]any{"permissions": []any{}}}, keycloaktest.WithForeignKey())
	badSecret := configFor(srv)
	badSecret.Credentials.Secret = "wrong"
	wrongClient := newClientWith(t, srv, badSecret)
	privateTicket := srv.IssueTicket(keycloaktest.RequestedPermission{ResourceID: "private-1", Scopes: []string{"view"}})

	tests := []struct {
		name       string
		client     *uma.Client
		req        uma.GrantRequest
		status     int
		code       string
		wantErr    error
		notWantErr error
	}{
		{name: "403 access_denied not_authorized", req: uma.GrantRequest{SubjectToken: alice,
			Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"delete"}}}},
			status: 403, code: "access_denied", wantErr: uma.ErrAccessDenied, notWantErr: uma.ErrRequestSubmitted},
		{name: "403 access_denied request_submitted", req: uma.GrantRequest{SubjectToken: bob, Ticket: privateTicket},
			status: 403, code: "access_denied", wantErr: uma.ErrRequestSubmitted},
		{name: "403 not_authorized with submit_request=false", req: uma.GrantRequest{SubjectToken: bob, Ticket: privateTicket, SubmitRequest: boolPtr(false)},
			status: 403, code: "access_denied", wantErr: uma.ErrAccessDenied, notWantErr: uma.ErrRequestSubmitted},
		{name: "403 invalid_ticket", req: uma.GrantRequest{SubjectToken: alice, Ticket: "not-a-ticket"},
			status: 403, code: "invalid_ticket", wantErr: uma.ErrInvalidTicket},
		{name: "403 invalid_rpt", req: uma.GrantRequest{SubjectToken: alice, RPT: foreignRPT,
			Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}},
			status: 403, code: "invalid_rpt", wantErr: uma.ErrInvalidRPT},
		{name: "401 invalid_grant bearer", req: uma.GrantRequest{BearerToken: "garbage"},
			status: 401, code: "invalid_grant", wantErr: uma.ErrInvalidGrant},
		{name: "403 invalid_grant public client claims", req: uma.GrantRequest{BearerToken: aliceSPA,
			ClaimToken: map[string][]string{"tier": {"gold"}}},
			status: 403, code: "invalid_grant", wantErr: uma.ErrInvalidGrant},
		{name: "400 invalid_request unknown audience", req: uma.GrantRequest{SubjectToken: alice, Audience: "nope"},
			status: 400, code: "invalid_request", wantErr: uma.ErrInvalidRequest},
		{name: "400 invalid_resource", req: uma.GrantRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "no-such-resource"}}},
			status: 400, code: "invalid_resource", wantErr: uma.ErrInvalidResource},
		{name: "400 invalid_scope", req: uma.GrantRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"fly"}}}},
			status: 400, code: "invalid_scope", wantErr: uma.ErrInvalidScope},
		{name: "400 unauthorized_client invalid identity", req: uma.GrantRequest{SubjectToken: "garbage"},
			status: 400, code: "unauthorized_client", wantErr: uma.ErrUnauthorizedClient},
		{name: "401 invalid_client", client: wrongClient, req: uma.GrantRequest{SubjectToken: alice},
			status: 401, code: "invalid_client", wantErr: uma.ErrInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl := c
			if tt.client != nil {
				cl = tt.client
			}
			tr, err := cl.RequestRPT(ctx, tt.req)
			require.Nil(t, tr)
			require.ErrorIs(t, err, tt.wantErr)
			if tt.notWantErr != nil {
				require.NotErrorIs(t, err, tt.notWantErr)
			}
			require.NotErrorIs(t, err, uma.ErrUnavailable)
			var ue *uma.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tt.status, ue.Status)
			assert.Equal(t, tt.code, ue.Code)
			// Never a token or the server's description in the error text.
			for _, secret := range []string{alice, bob, aliceSPA, foreignRPT, privateTicket, srv.ClientSecret()} {
				assert.NotContains(t, err.Error(), secret)
			}
			if ue.Description != "" {
				assert.NotContains(t, err.Error(), ue.Description)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*keycloaktest.Server)
		ctx   func() (context.Context, context.CancelFunc)
	}{
		{name: "500", setup: func(s *keycloaktest.Server) { s.Fail(keycloaktest.EndpointToken, 500) }},
		{name: "502 html", setup: func(s *keycloaktest.Server) {
			s.Respond(keycloaktest.EndpointToken, 502, "text/html", "<html>proxy at 10.0.0.7</html>")
		}},
		{name: "503 not ready", setup: func(s *keycloaktest.Server) { s.SetReady(false) }},
		{name: "200 html", setup: func(s *keycloaktest.Server) { s.Respond(keycloaktest.EndpointToken, 200, "text/html", "<html></html>") }},
		{name: "200 truncated json", setup: func(s *keycloaktest.Server) {
			s.Respond(keycloaktest.EndpointToken, 200, "application/json", `{"access_token":"abc`)
		}},
		{name: "200 oversized", setup: func(s *keycloaktest.Server) {
			s.Respond(keycloaktest.EndpointToken, 200, "application/json", `{"access_token":"`+strings.Repeat("a", 9<<20)+`"}`)
		}},
		{name: "redirect", setup: func(s *keycloaktest.Server) { s.Respond(keycloaktest.EndpointToken, 302, "text/plain", "") }},
		{name: "hang until ctx deadline", setup: func(s *keycloaktest.Server) { s.Hang(keycloaktest.EndpointToken) },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 200*time.Millisecond)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			c := newClient(t, srv)
			alice := srv.AccessToken("alice")
			tt.setup(srv)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if tt.ctx != nil {
				cancel()
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			_, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice})
			require.ErrorIs(t, err, uma.ErrUnavailable)
			assert.NotContains(t, err.Error(), "10.0.0.7")
			assert.NotContains(t, err.Error(), alice)
			assert.Less(t, time.Since(start), 8*time.Second)
			// The PAT comes from the same (broken) token endpoint.
			_, err = c.CreateTicket(ctx, []uma.PermissionRequest{{ResourceID: "orders-1"}})
			require.ErrorIs(t, err, uma.ErrUnavailable)
		})
	}
}

func TestHangWithClientTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hc := *srv.HTTPClient() // a copy: the server's client is shared
	hc.Timeout = 300 * time.Millisecond
	c := newClient(t, srv, uma.WithHTTPClient(&hc))
	srv.Hang(keycloaktest.EndpointToken)
	_, err := c.RequestRPT(testCtx(t), uma.GrantRequest{SubjectToken: "x"})
	require.ErrorIs(t, err, uma.ErrUnavailable)
}

func TestForeignKeyRPTRejected(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	forged := srv.SignToken(map[string]any{"iss": srv.Issuer(), "sub": "alice", "aud": srv.ClientID(), "typ": "Bearer",
		"azp": srv.ClientID(), "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "x",
		"authorization": map[string]any{"permissions": []any{map[string]any{"rsid": "orders-1", "rsname": "Orders", "scopes": []string{"delete"}}}}},
		keycloaktest.WithForeignKey())
	body, _ := json.Marshal(map[string]any{"access_token": forged, "token_type": "Bearer", "expires_in": 300, "upgraded": false})
	srv.Respond(keycloaktest.EndpointToken, 200, "application/json", string(body))
	tr, err := c.RequestRPT(testCtx(t), uma.GrantRequest{SubjectToken: "whatever"})
	require.Nil(t, tr)
	require.ErrorIs(t, err, uma.ErrRPTRejected)
	require.ErrorIs(t, err, rpt.ErrInvalidToken)
	assert.NotContains(t, err.Error(), forged)
}

func TestVerifierWithoutClaimsRejected(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	// A Verifier that answers (nil, nil) has verified nothing: fail closed.
	c := newClientWith(t, srv, configFor(srv), uma.WithVerifier(uma.VerifierFunc(func(context.Context, string) (*rpt.Claims, error) {
		return nil, nil
	})))
	body, _ := json.Marshal(map[string]any{"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 300})
	srv.Respond(keycloaktest.EndpointToken, 200, "application/json", string(body))
	tr, err := c.RequestRPT(testCtx(t), uma.GrantRequest{SubjectToken: "whatever"})
	require.Nil(t, tr)
	require.ErrorIs(t, err, uma.ErrRPTRejected)
	x, err := c.Exchange(testCtx(t), uma.ExchangeRequest{SubjectToken: "whatever"})
	require.Nil(t, x)
	require.ErrorIs(t, err, uma.ErrRPTRejected)
}

func TestTicketFlow(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	ticket, err := c.CreateTicket(ctx, []uma.PermissionRequest{{ResourceID: "orders-1", Scopes: []string{"view"}}})
	require.NoError(t, err)
	rr := srv.LastRequest(keycloaktest.EndpointPermission)
	assert.JSONEq(t, `[{"resource_id":"orders-1","resource_scopes":["view"]}]`, string(rr.Body))
	assert.True(t, strings.HasPrefix(rr.Header.Get("Authorization"), "Bearer "))

	// Permitted user: ticket → RPT.
	tr, err := c.RequestRPT(ctx, uma.GrantRequest{Ticket: ticket, SubjectToken: srv.AccessToken("alice")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Orders#view"}, permSet(tr.Claims.Permissions()))
	assert.Empty(t, srv.LastRequest(keycloaktest.EndpointToken).Form.Get("audience"), "a ticket names its resource server")

	// Denied user.
	ticket2, err := c.CreateTicket(ctx, []uma.PermissionRequest{{ResourceID: "invoices-1", Scopes: []string{"view"}}})
	require.NoError(t, err)
	_, err = c.RequestRPT(ctx, uma.GrantRequest{Ticket: ticket2, SubjectToken: srv.AccessToken("bob"), SubmitRequest: boolPtr(false)})
	require.ErrorIs(t, err, uma.ErrAccessDenied)

	// Claims pushed in the ticket by the resource server.
	ticket3, err := c.CreateTicket(ctx, []uma.PermissionRequest{{ResourceID: "premium-1", Scopes: []string{"view"}, Claims: map[string][]string{"tier": {"gold"}}}})
	require.NoError(t, err)
	tr, err = c.RequestRPT(ctx, uma.GrantRequest{Ticket: ticket3, SubjectToken: srv.AccessToken("bob")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Premium#view"}, permSet(tr.Claims.Permissions()))
}

func TestCreateTicketErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	tests := []struct {
		name    string
		perms   []uma.PermissionRequest
		wantErr error
		remote  bool
	}{
		{name: "unknown resource", perms: []uma.PermissionRequest{{ResourceID: "nope"}}, wantErr: uma.ErrInvalidResourceID, remote: true},
		{name: "unknown scope", perms: []uma.PermissionRequest{{ResourceID: "orders-1", Scopes: []string{"fly"}}}, wantErr: uma.ErrInvalidScope, remote: true},
		{name: "empty", perms: nil, wantErr: uma.ErrInvalidRequest},
		{name: "scope-only without scopes", perms: []uma.PermissionRequest{{}}, wantErr: uma.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk, err := c.CreateTicket(ctx, tt.perms)
			require.Empty(t, tk)
			require.ErrorIs(t, err, tt.wantErr)
			var ue *uma.Error
			assert.Equal(t, tt.remote, errors.As(err, &ue))
			if tt.remote {
				assert.Equal(t, 400, ue.Status)
			}
		})
	}
}

func TestChallengeRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	h, err := c.Challenge(ctx, []uma.PermissionRequest{{ResourceID: "orders-1", Scopes: []string{"view"}}})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, `UMA realm="`+srv.Realm()+`",as_uri="`+srv.Issuer()+`",ticket="`), h)
	ch, err := uma.ParseChallenge(h)
	require.NoError(t, err)
	tr, err := c.RequestRPTForChallenge(ctx, ch, uma.GrantRequest{SubjectToken: srv.AccessToken("alice")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Orders#view"}, permSet(tr.Claims.Permissions()))

	ch.ASURI = "https://evil.example/realms/" + srv.Realm()
	before := srv.Requests(keycloaktest.EndpointToken)
	_, err = c.RequestRPTForChallenge(ctx, ch, uma.GrantRequest{SubjectToken: srv.AccessToken("alice")})
	require.ErrorIs(t, err, uma.ErrForeignAuthorizationServer)
	assert.Equal(t, before, srv.Requests(keycloaktest.EndpointToken))
}

func TestUpgradeRPT(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")
	first, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice, Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view"}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"Orders#view"}, permSet(first.Claims.Permissions()))

	second, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice, RPT: first.AccessToken,
		Permissions: []uma.Permission{{Resource: "invoices-1", Scopes: []string{"view"}}}})
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, srv.LastRequest(keycloaktest.EndpointToken).Form.Get("rpt"))
	assert.True(t, second.Upgraded)
	assert.ElementsMatch(t, []string{"Orders#view", "Invoices#view"}, permSet(second.Claims.Permissions()))

	// With an rpt, every requested permission must be granted.
	_, err = c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice, RPT: second.AccessToken,
		Permissions: []uma.Permission{{Resource: "orders-1", Scopes: []string{"view", "delete"}}}})
	require.ErrorIs(t, err, uma.ErrAccessDenied)
}

func TestClaimToken(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	bob := srv.AccessToken("bob")
	claims := map[string][]string{"tier": {"gold"}, "ip": {"10.1.2.3"}}

	_, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: bob, Permissions: []uma.Permission{{Resource: "premium-1"}}})
	require.ErrorIs(t, err, uma.ErrAccessDenied, "without the claim")

	tr, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: bob, ClaimToken: claims, Permissions: []uma.Permission{{Resource: "premium-1"}}})
	require.NoError(t, err)
	form := srv.LastRequest(keycloaktest.EndpointToken).Form
	assert.Equal(t, uma.ClaimTokenFormatJWT, form.Get("claim_token_format"))
	raw, err := base64.StdEncoding.DecodeString(form.Get("claim_token"))
	require.NoError(t, err)
	var got map[string][]string
	require.NoError(t, json.Unmarshal(raw, &got))
	assert.Equal(t, claims, got)
	perms := tr.Claims.Permissions()
	require.Len(t, perms, 1)
	assert.Equal(t, "Premium", perms[0].ResourceName)
	assert.Equal(t, claims, perms[0].Claims)
}

func TestClientSecretPost(t *testing.T) {
	t.Parallel()
	srv := newServer(t, keycloaktest.WithResourceServer("rs two", "p@ss:w rd&"))
	cfg := configFor(srv)
	cfg.AuthMethod = uma.AuthClientSecretPost
	c := newClientWith(t, srv, cfg)
	_, err := c.RequestRPT(testCtx(t), uma.GrantRequest{SubjectToken: srv.AccessToken("alice")})
	require.NoError(t, err)
	rr := srv.LastRequest(keycloaktest.EndpointToken)
	assert.Equal(t, "rs two", rr.Form.Get("client_id"))
	assert.Equal(t, "p@ss:w rd&", rr.Form.Get("client_secret"))
	assert.Empty(t, rr.Header.Get("Authorization"))

	// client_secret_basic with characters that need form-urlencoding.
	basic := newClient(t, srv)
	_, err = basic.RequestRPT(testCtx(t), uma.GrantRequest{SubjectToken: srv.AccessToken("alice")})
	require.NoError(t, err)
	rr = srv.LastRequest(keycloaktest.EndpointToken)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("rs+two:p%40ss%3Aw+rd%26"))
	assert.Equal(t, want, rr.Header.Get("Authorization"))
}

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	cfg := uma.Config{ClientID: "x", Credentials: uma.Credentials{Secret: "hunter2"}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, cfg), "hunter2")
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	doc, err := json.Marshal(map[string]any{
		"issuer": "https://evil.example/realms/" + srv.Realm(), "token_endpoint": srv.TokenURL(),
		"jwks_uri": srv.JWKSURL(), "permission_endpoint": srv.PermissionURL(),
		"resource_registration_endpoint": srv.ResourceSetURL(),
	})
	require.NoError(t, err)
	srv.Respond(keycloaktest.EndpointUMADiscovery, 200, "application/json", string(doc))
	_, err = uma.New(testCtx(t), configFor(srv), uma.WithHTTPClient(srv.HTTPClient()))
	require.ErrorIs(t, err, rpt.ErrDiscovery)
	assert.Zero(t, srv.Requests(keycloaktest.EndpointToken))
}

func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, srv, uma.WithLogger(logger))
	ctx := testCtx(t)
	alice := srv.AccessToken("alice")
	got, err := c.Exchange(ctx, viewOrders(alice))
	require.NoError(t, err)
	tr, err := c.RequestRPT(ctx, uma.GrantRequest{SubjectToken: alice, Permissions: viewOrders(alice).Permissions})
	require.NoError(t, err)
	// Every fmt verb, %#v included (testify and debuggers use it), redacts.
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{got, tr, []any{got, tr}} {
			out := fmt.Sprintf(format, v)
			assert.NotContains(t, out, got.Raw, format)
			assert.NotContains(t, out, tr.AccessToken, format)
		}
	}
	_, err = c.CreateTicket(ctx, orders)
	require.NoError(t, err)
	srv.Fail(keycloaktest.EndpointToken, 500)
	_, _ = c.Exchange(ctx, uma.ExchangeRequest{SubjectToken: alice})
	logs := buf.String()
	assert.NotEmpty(t, logs)
	for _, secret := range []string{alice, got.Raw, srv.ClientSecret(), base64.StdEncoding.EncodeToString([]byte(srv.ClientID() + ":" + srv.ClientSecret()))} {
		assert.NotContains(t, logs, secret)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecretNotInJSON: a Config dumped as JSON never carries the secret.
func TestSecretNotInJSON(t *testing.T) {
	t.Parallel()
	cfg := uma.Config{ClientID: "api", Credentials: uma.Credentials{Secret: "s3cr3t-value"}}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "s3cr3t-value")
	var back uma.Config
	require.NoError(t, json.Unmarshal([]byte(`{"credentials":{"secret":"s3cr3t-value"}}`), &back))
	assert.Equal(t, uma.Secret("s3cr3t-value"), back.Credentials.Secret, "unmarshalling still reads the real value")
}
