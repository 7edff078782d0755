package keycloaktest_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

const umaGrant = "urn:ietf:params:oauth:grant-type:uma-ticket"

func umaServer(t *testing.T, extra ...keycloaktest.Option) *keycloaktest.Server {
	t.Helper()
	opts := []keycloaktest.Option{
		keycloaktest.WithClient(keycloaktest.Client{ID: "spa", Public: true}),
		keycloaktest.WithClient(keycloaktest.Client{ID: "frontend", Secret: "f"}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Orders", URIs: []string{"/orders/*"}, Scopes: []string{"read", "write"}, Type: "urn:orders"}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Reports", URIs: []string{"/reports/{id}"}, Scopes: []string{"read"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Album", Owner: "alice", OwnerManagedAccess: true, Scopes: []string{"view"}}),
		keycloaktest.WithResource(keycloaktest.Resource{Name: "Vault", Scopes: []string{"open"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "alice", Resource: "Orders"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Orders", Scopes: []string{"read"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "*", Resource: "Reports"}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "bob", Resource: "Vault", Claims: map[string][]string{"level": {"high"}}}),
	}
	return keycloaktest.New(t, append(opts, extra...)...)
}

func claimToken(enc *base64.Encoding, json string) string { return enc.EncodeToString([]byte(json)) }

// permSummary renders permissions as "name:scope,scope" for comparisons.
func permSummary(ps []map[string]any) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		name, _ := p["rsname"].(string)
		if name == "" {
			name, _ = p["rsid"].(string)
		}
		s := name + ":"
		for i, sc := range strList(p["scopes"]) {
			if i > 0 {
				s += ","
			}
			s += sc
		}
		out = append(out, s)
	}
	return out
}

func TestUMAGrant(t *testing.T) {
	t.Parallel()
	kc := umaServer(t)
	rs := basicAuth(kc.ClientID(), kc.ClientSecret())
	orders := kc.ResourceID("Orders")
	alice, bob := kc.AccessToken("alice", keycloaktest.WithAuthorizedParty("spa")), kc.AccessToken("bob")
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tokenPerms := func(t *testing.T, r result) (map[string]any, []string) {
		t.Helper()
		body := r.obj(t)
		assert.Equal(t, "Bearer", body["token_type"])
		assert.Contains(t, body, "upgraded")
		assert.NotContains(t, body, "scope")
		_, c := decodeJWT(t, body["access_token"].(string))
		assert.Contains(t, strList(c["aud"]), kc.ClientID())
		return c, permSummary(perms(t, c))
	}
	tests := []struct {
		name  string
		form  url.Values
		mods  []reqMod
		want  []string // token mode: permission summary
		check func(t *testing.T, r result)
	}{
		{name: "permission id#scope", form: form("subject_token", alice, "permission", orders+"#read"), mods: []reqMod{rs}, want: []string{"Orders:read"}},
		{name: "permission name#scopes", form: form("subject_token", alice, "permission", "Orders#read,write"), mods: []reqMod{rs}, want: []string{"Orders:read,write"}},
		{name: "resource only", form: form("subject_token", alice, "permission", "Orders"), mods: []reqMod{rs}, want: []string{"Orders:read,write"}},
		{name: "partial grant", form: form("subject_token", bob, "permission", "Orders#read,write"), mods: []reqMod{rs}, want: []string{"Orders:read"}},
		{name: "scope only", form: form("subject_token", bob, "permission", "#read"), mods: []reqMod{rs}, want: []string{"Orders:read", "Reports:read", ":read"}},
		{name: "repeated permissions", form: form("subject_token", alice, "permission", "Orders#read", "permission", "Reports"), mods: []reqMod{rs}, want: []string{"Orders:read", "Reports:read"}},
		{name: "entitlement", form: form("subject_token", alice), mods: []reqMod{rs}, want: []string{"Orders:read,write", "Reports:read", "Album:view"}},
		{name: "service account entitlement", form: form(), mods: []reqMod{rs}, want: []string{"Reports:read"}},
		{name: "scope parameter", form: form("subject_token", alice, "permission", "Orders", "scope", "read openid"), mods: []reqMod{rs}, want: []string{"Orders:read"}},
		{name: "resource-type prefix", form: form("subject_token", alice, "permission", "resource-type:urn:orders#write"), mods: []reqMod{rs}, want: []string{"Orders:write"}},
		{name: "uri format exact", form: form("subject_token", alice, "permission", "/orders/*#read", "permission_resource_format", "uri"), mods: []reqMod{rs}, want: []string{"Orders:read"}},
		{name: "uri format matching", form: form("subject_token", alice, "permission", "/reports/42", "permission_resource_format", "uri", "permission_resource_matching_uri", "true"), mods: []reqMod{rs}, want: []string{"Reports:read"}},
		{name: "bearer caller", form: form("permission", "Orders#write"), mods: []reqMod{bearer(alice)}, check: func(t *testing.T, r result) {
			c, ps := tokenPerms(t, r)
			assert.Equal(t, []string{"Orders:write"}, ps)
			assert.Equal(t, "spa", c["azp"], "an RPT is minted for the client of the subject token")
			assert.Equal(t, "alice", c["preferred_username"])
		}},
		{name: "public client with subject_token", form: form("client_id", "spa", "subject_token", alice, "permission", "Reports"), want: []string{"Reports:read"}},
		{name: "client_secret_post", form: form("client_id", "rptguard-api", "client_secret", "secret", "subject_token", bob, "permission", "Reports"), want: []string{"Reports:read"}},
		{name: "decision", form: form("subject_token", alice, "permission", "Orders#read", "response_mode", "decision"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			assert.JSONEq(t, `{"result":true}`, string(r.Body))
		}},
		{name: "permissions", form: form("subject_token", alice, "permission", "Orders#read", "permission", "Reports", "response_mode", "permissions"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			assert.JSONEq(t, `[{"rsid":"`+orders+`","rsname":"Orders","scopes":["read"]},{"rsid":"`+kc.ResourceID("Reports")+`","rsname":"Reports","scopes":["read"]}]`, string(r.Body))
		}},
		{name: "without resource name", form: form("subject_token", alice, "permission", "Orders#read", "response_mode", "permissions", "response_include_resource_name", "false"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			assert.JSONEq(t, `[{"rsid":"`+orders+`","scopes":["read"]}]`, string(r.Body))
		}},
		{name: "without resource name in RPT", form: form("subject_token", alice, "permission", "Orders#read", "response_include_resource_name", "false"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
			assert.NotContains(t, perms(t, c)[0], "rsname")
		}},
		{name: "permissions limit", form: form("subject_token", alice, "response_permissions_limit", "1"), mods: []reqMod{rs}, want: []string{"Orders:read,write"}},
		{name: "pushed claims base64", form: form("subject_token", bob, "permission", "Vault", "claim_token", claimToken(base64.StdEncoding, `{"level":["high"],"n":[7]}`), "claim_token_format", "urn:ietf:params:oauth:token-type:jwt"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
			p := perms(t, c)
			require.Len(t, p, 1)
			assert.Equal(t, map[string]any{"level": []any{"high"}, "n": []any{"7"}}, p[0]["claims"])
		}},
		{name: "pushed claims base64url", form: form("subject_token", bob, "permission", "Vault", "claim_token", claimToken(base64.RawURLEncoding, `{"level":"high","x":"??>>"}`), "claim_token_format", "urn:ietf:params:oauth:token-type:jwt", "response_mode", "permissions"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			p := r.arr(t)
			require.Len(t, p, 1)
			assert.Equal(t, map[string]any{"level": []any{"high"}, "x": []any{"??>>"}}, p[0].(map[string]any)["claims"])
		}},
		{name: "claim token as ID token (default format)", form: form("claim_token", alice, "permission", "Orders#write"), mods: []reqMod{rs}, check: func(t *testing.T, r result) {
			c, ps := tokenPerms(t, r)
			assert.Equal(t, []string{"Orders:write"}, ps)
			assert.Equal(t, "alice", c["preferred_username"])
			assert.NotContains(t, perms(t, c)[0], "claims")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := postForm(t, kc, kc.TokenURL(), tt.form, tt.mods...)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			if tt.check != nil {
				tt.check(t, r)
				return
			}
			_, ps := tokenPerms(t, r)
			assert.Equal(t, tt.want, ps)
		})
	}
}

func TestUMAGrantErrors(t *testing.T) {
	t.Parallel()
	kc := umaServer(t)
	rs := basicAuth(kc.ClientID(), kc.ClientSecret())
	alice, bob := kc.AccessToken("alice"), kc.AccessToken("bob")
	bobRPT := kc.IssueRPT("bob", rpt.Permission{ResourceID: kc.ResourceID("Orders"), ResourceName: "Orders", Scopes: []string{"read"}})
	orders, album := kc.ResourceID("Orders"), kc.ResourceID("Album")
	expiredTicket := kc.SignToken(map[string]any{"aud": kc.Issuer(), "azp": kc.ClientID(), "exp": time.Now().Add(-time.Minute).Unix(),
		"permissions": []any{map[string]any{"rsid": orders}}})
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	noAud := form("subject_token", alice, "permission", "Orders")
	noAud.Del("audience")
	tests := []struct {
		name   string
		form   url.Values
		mods   []reqMod
		status int
		code   string
		desc   string
	}{
		{"not authorized", form("subject_token", bob, "permission", "Vault"), []reqMod{rs}, 403, "access_denied", "not_authorized"},
		{"claims do not match", form("subject_token", bob, "permission", "Vault", "claim_token", claimToken(base64.StdEncoding, `{"level":["low"]}`), "claim_token_format", "urn:ietf:params:oauth:token-type:jwt"), []reqMod{rs}, 403, "access_denied", "not_authorized"},
		{"request submitted", form("subject_token", bob, "ticket", kc.IssueTicket(keycloaktest.RequestedPermission{ResourceID: album, Scopes: []string{"view"}})), []reqMod{rs}, 403, "access_denied", "request_submitted"},
		{"submit_request=false", form("subject_token", bob, "submit_request", "false", "ticket", kc.IssueTicket(keycloaktest.RequestedPermission{ResourceID: album})), []reqMod{rs}, 403, "access_denied", "not_authorized"},
		{"ticket bad signature", form("subject_token", bob, "ticket", kc.SignToken(map[string]any{"aud": kc.Issuer(), "permissions": []any{}}, keycloaktest.WithForeignKey())), []reqMod{rs}, 403, "invalid_ticket", "Ticket verification failed"},
		{"ticket garbage", form("subject_token", bob, "ticket", "x.y.z"), []reqMod{rs}, 403, "invalid_ticket", "Ticket verification failed"},
		{"ticket expired", form("subject_token", bob, "ticket", expiredTicket), []reqMod{rs}, 403, "invalid_ticket", "Invalid permission ticket."},
		{"access token as ticket", form("subject_token", bob, "ticket", alice), []reqMod{rs}, 403, "invalid_ticket", "Ticket verification failed"},
		{"rpt bad signature", form("subject_token", bob, "permission", "Orders#read", "rpt", kc.SignToken(map[string]any{"iss": kc.Issuer()}, keycloaktest.WithForeignKey())), []reqMod{rs}, 403, "invalid_rpt", "RPT signature is invalid"},
		{"rpt with ungranted permission", form("subject_token", bob, "permission", "Orders#read,write", "rpt", bobRPT), []reqMod{rs}, 403, "access_denied", "not_authorized"},
		{"invalid bearer", form("permission", "Orders"), []reqMod{bearer("garbage")}, 401, "invalid_grant", "Invalid bearer token"},
		{"expired bearer", form("permission", "Orders"), []reqMod{bearer(kc.AccessToken("alice", keycloaktest.WithLifetime(-time.Minute)))}, 401, "invalid_grant", "Invalid bearer token"},
		{"public client pushing claims", form("client_id", "spa", "subject_token", alice, "permission", "Orders", "claim_token", claimToken(base64.StdEncoding, `{"a":["b"]}`), "claim_token_format", "urn:ietf:params:oauth:token-type:jwt"), nil, 403, "invalid_grant", "Public clients are not allowed to send claims"},
		{"missing audience", noAud, []reqMod{rs}, 400, "invalid_request", "You must provide the issuedFor"},
		{"unknown audience", form("subject_token", alice, "audience", "ghost", "permission", "Orders"), []reqMod{rs}, 400, "invalid_request", "Unknown resource server id: [ghost]"},
		{"audience not a resource server", form("subject_token", alice, "audience", "frontend", "permission", "Orders"), []reqMod{rs}, 400, "invalid_request", "Client does not support permissions"},
		{"claim format unsupported", form("subject_token", alice, "claim_token", "e30", "claim_token_format", "saml"), []reqMod{rs}, 400, "invalid_request", "Claim token format [saml] not supported"},
		{"invalid claims", form("subject_token", alice, "claim_token", "%%%", "claim_token_format", "urn:ietf:params:oauth:token-type:jwt"), []reqMod{rs}, 400, "invalid_request", "Invalid claims"},
		{"claims not an object", form("subject_token", alice, "claim_token", claimToken(base64.StdEncoding, `[1]`), "claim_token_format", "urn:ietf:params:oauth:token-type:jwt"), []reqMod{rs}, 400, "invalid_request", "Invalid claims"},
		{"invalid response_mode", form("subject_token", alice, "response_mode", "jwt"), []reqMod{rs}, 400, "invalid_request", "Invalid response_mode"},
		{"unknown resource", form("subject_token", alice, "permission", "Nope#read"), []reqMod{rs}, 400, "invalid_resource", "Resource with id [Nope] does not exist."},
		{"unknown scope", form("subject_token", alice, "permission", "Orders#fly"), []reqMod{rs}, 400, "invalid_scope", "One of the given scopes [fly] is invalid"},
		{"unknown uri", form("subject_token", alice, "permission", "/nope", "permission_resource_format", "uri"), []reqMod{rs}, 400, "invalid_resource", "Resource with uri [/nope] does not exist."},
		{"uri without matching", form("subject_token", alice, "permission", "/reports/42", "permission_resource_format", "uri"), []reqMod{rs}, 400, "invalid_resource", "Resource with uri [/reports/42] does not exist."},
		{"empty uri", form("subject_token", alice, "permission", "", "permission_resource_format", "uri"), []reqMod{rs}, 400, "invalid_request", "You must provide the uri"},
		{"invalid identity", form("subject_token", "garbage", "permission", "Orders"), []reqMod{rs}, 400, "unauthorized_client", "Invalid identity"},
		{"revoked identity", form("subject_token", revokedToken(kc), "permission", "Orders"), []reqMod{rs}, 400, "unauthorized_client", "Invalid identity"},
		{"claim token without format is an ID token", form("claim_token", claimToken(base64.StdEncoding, `{"a":["b"]}`), "permission", "Orders"), []reqMod{rs}, 400, "unauthorized_client", "Invalid signature"},
		{"bad client secret", form("subject_token", alice, "permission", "Orders"), []reqMod{basicAuth(kc.ClientID(), "x")}, 401, "invalid_client", "Invalid client or Invalid client credentials"},
		{"no client auth", form("subject_token", alice, "permission", "Orders"), nil, 401, "invalid_client", "Invalid client or Invalid client credentials"},
		{"public client alone", form("client_id", "spa", "permission", "Orders"), nil, 401, "unauthorized_client", "Public client not allowed to retrieve service account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := postForm(t, kc, kc.TokenURL(), tt.form, tt.mods...)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			code, desc := oauthErr(t, r)
			assert.Equal(t, tt.code, code)
			assert.Equal(t, tt.desc, desc)
		})
	}
}

func revokedToken(kc *keycloaktest.Server) string {
	tok := kc.AccessToken("alice")
	kc.Revoke(tok)
	return tok
}

func TestUMATicketFlow(t *testing.T) {
	t.Parallel()
	kc := umaServer(t)
	pat := patHTTP(t, kc)
	r := postJSON(t, kc, http.MethodPost, kc.PermissionURL(), []map[string]any{
		{"resource_id": kc.ResourceID("Orders"), "resource_scopes": []string{"write"}, "claims": map[string]any{"reason": []string{"audit"}}},
	}, bearer(pat))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	ticket := r.obj(t)["ticket"].(string)

	r = postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {umaGrant}, "ticket": {ticket}},
		bearer(kc.AccessToken("alice")))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	_, c := decodeJWT(t, r.obj(t)["access_token"].(string))
	p := perms(t, c)
	assert.Equal(t, []string{"Orders:write"}, permSummary(p))
	assert.Equal(t, map[string]any{"reason": []any{"audit"}}, p[0]["claims"], "ticket claims travel to the permissions")

	// A public client may push claims together with a ticket.
	kc.AddGrant(keycloaktest.Grant{User: "bob", Resource: "Orders", Scopes: []string{"write"}, Claims: map[string][]string{"reason": {"audit"}, "extra": {"y"}}})
	r = postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {umaGrant}, "ticket": {ticket}, "client_id": {"spa"}, "subject_token": {kc.AccessToken("bob")},
		"claim_token": {claimToken(base64.StdEncoding, `{"extra":["y"]}`)}, "claim_token_format": {"urn:ietf:params:oauth:token-type:jwt"}, "response_mode": {"permissions"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `[{"rsid":"`+kc.ResourceID("Orders")+`","rsname":"Orders","scopes":["write"],"claims":{"reason":["audit"],"extra":["y"]}}]`, string(r.Body))
}

func TestUMAUpgrade(t *testing.T) {
	t.Parallel()
	kc := umaServer(t)
	rs := basicAuth(kc.ClientID(), kc.ClientSecret())
	alice := kc.AccessToken("alice")
	grant := func(t *testing.T, kv ...string) map[string]any {
		t.Helper()
		f := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}, "subject_token": {alice}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		r := postForm(t, kc, kc.TokenURL(), f, rs)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		return r.obj(t)
	}
	first := grant(t, "permission", "Orders#read")
	assert.Equal(t, false, first["upgraded"])

	second := grant(t, "permission", "Reports", "rpt", first["access_token"].(string))
	assert.Equal(t, true, second["upgraded"])
	_, c := decodeJWT(t, second["access_token"].(string))
	assert.Equal(t, []string{"Reports:read", "Orders:read"}, permSummary(perms(t, c)), "new permissions first, previous merged")

	limited := grant(t, "permission", "Reports", "rpt", first["access_token"].(string), "response_permissions_limit", "1")
	_, c = decodeJWT(t, limited["access_token"].(string))
	assert.Equal(t, []string{"Reports:read"}, permSummary(perms(t, c)))

	// Previous permissions no longer granted are dropped: not upgraded.
	stale := kc.IssueRPT("alice", rpt.Permission{ResourceID: kc.ResourceID("Vault"), ResourceName: "Vault"})
	third := grant(t, "permission", "Reports", "rpt", stale)
	assert.Equal(t, false, third["upgraded"])
	_, c = decodeJWT(t, third["access_token"].(string))
	assert.Equal(t, []string{"Reports:read"}, permSummary(perms(t, c)))

	// An expired RPT contributes nothing but is not an error.
	expired := kc.SignToken(map[string]any{"iss": kc.Issuer(), "exp": time.Now().Add(-time.Minute).Unix(),
		"authorization": map[string]any{"permissions": []any{map[string]any{"rsid": kc.ResourceID("Orders"), "scopes": []string{"write"}}}}})
	fourth := grant(t, "permission", "Reports", "rpt", expired)
	_, c = decodeJWT(t, fourth["access_token"].(string))
	assert.Equal(t, []string{"Reports:read"}, permSummary(perms(t, c)))
}

// recordingEvaluator grants every requested permission and records calls.
type recordingEvaluator struct {
	mu     sync.Mutex
	subs   []keycloaktest.Subject
	reqs   [][]keycloaktest.RequestedPermission
	pushed []map[string][]string
}

func (e *recordingEvaluator) Evaluate(_ context.Context, sub keycloaktest.Subject, req []keycloaktest.RequestedPermission, pushed map[string][]string) ([]rpt.Permission, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subs = append(e.subs, sub)
	e.reqs = append(e.reqs, slices.Clone(req))
	e.pushed = append(e.pushed, pushed)
	var out []rpt.Permission
	for _, r := range req {
		out = append(out, rpt.Permission{ResourceID: r.ResourceID, Scopes: r.Scopes})
	}
	return out, nil
}

func TestUMACustomEvaluator(t *testing.T) {
	t.Parallel()
	ev := &recordingEvaluator{}
	kc := umaServer(t, keycloaktest.WithEvaluator(ev))
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()},
		"subject_token": {kc.AccessToken("bob", keycloaktest.WithAuthorizedParty("frontend"))}, "permission": {"Vault#open"},
		"claim_token": {claimToken(base64.StdEncoding, `{"k":["v"]}`)}, "claim_token_format": {"urn:ietf:params:oauth:token-type:jwt"},
		"response_mode": {"permissions"}}, basicAuth(kc.ClientID(), kc.ClientSecret()))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `[{"rsid":"`+kc.ResourceID("Vault")+`","rsname":"Vault","scopes":["open"],"claims":{"k":["v"]}}]`, string(r.Body),
		"names are filled in and pushed claims attached")
	ev.mu.Lock()
	defer ev.mu.Unlock()
	require.Len(t, ev.subs, 1)
	assert.Equal(t, "bob", ev.subs[0].Username)
	assert.Equal(t, "frontend", ev.subs[0].ClientID)
	assert.NotEmpty(t, ev.subs[0].UserID)
	assert.Equal(t, []keycloaktest.RequestedPermission{{ResourceID: kc.ResourceID("Vault"), Scopes: []string{"open"}}}, ev.reqs[0])
	assert.Equal(t, map[string][]string{"k": {"v"}}, ev.pushed[0])
}
