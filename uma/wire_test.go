package uma

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/rpt"
)

func boolPtr(b bool) *bool { return &b }

func TestGrantRequestForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     GrantRequest
		want    url.Values
		wantErr error
	}{
		{name: "entitlement with default audience", req: GrantRequest{},
			want: url.Values{"grant_type": {GrantTypeUMATicket}, "audience": {"rs"}}},
		{name: "ticket only, no default audience", req: GrantRequest{Ticket: "tk"},
			want: url.Values{"grant_type": {GrantTypeUMATicket}, "ticket": {"tk"}}},
		{name: "permission shapes", req: GrantRequest{Permissions: []Permission{
			{Resource: "r1", Scopes: []string{"view", "edit"}}, {Resource: "r2"}, {Scopes: []string{"admin"}},
		}}, want: url.Values{"grant_type": {GrantTypeUMATicket}, "audience": {"rs"},
			"permission": {"r1#view,edit", "r2", "#admin"}}},
		{name: "every parameter", req: GrantRequest{
			Ticket: "tk", Audience: "other", RPT: "old", SubjectToken: "sub",
			ClaimToken:   map[string][]string{"ip": {"10.0.0.1"}},
			ResponseMode: ResponseModePermissions, ResponseIncludeResourceName: boolPtr(false),
			ResponsePermissionsLimit: 5, SubmitRequest: boolPtr(false),
			PermissionResourceFormat: ResourceFormatURI, PermissionResourceMatchingURI: true,
			Scope: []string{"a", "b"},
		}, want: url.Values{
			"grant_type": {GrantTypeUMATicket}, "ticket": {"tk"}, "audience": {"other"}, "rpt": {"old"},
			"subject_token": {"sub"}, "claim_token": {base64.StdEncoding.EncodeToString([]byte(`{"ip":["10.0.0.1"]}`))},
			"claim_token_format": {ClaimTokenFormatJWT}, "response_mode": {"permissions"},
			"response_include_resource_name": {"false"}, "response_permissions_limit": {"5"},
			"submit_request": {"false"}, "permission_resource_format": {"uri"},
			"permission_resource_matching_uri": {"true"}, "scope": {"a b"},
		}},
		{name: "decision mode", req: GrantRequest{ResponseMode: ResponseModeDecision},
			want: url.Values{"grant_type": {GrantTypeUMATicket}, "audience": {"rs"}, "response_mode": {"decision"}}},
		{name: "subject and bearer", req: GrantRequest{SubjectToken: "a", BearerToken: "b"}, wantErr: ErrInvalidRequest},
		{name: "hash in resource", req: GrantRequest{Permissions: []Permission{{Resource: "a#b"}}}, wantErr: ErrInvalidRequest},
		{name: "comma in scope", req: GrantRequest{Permissions: []Permission{{Resource: "a", Scopes: []string{"x,y"}}}}, wantErr: ErrInvalidRequest},
		{name: "empty scope", req: GrantRequest{Permissions: []Permission{{Resource: "a", Scopes: []string{""}}}}, wantErr: ErrInvalidRequest},
		{name: "empty permission", req: GrantRequest{Permissions: []Permission{{}}}, wantErr: ErrInvalidRequest},
		{name: "bad mode", req: GrantRequest{ResponseMode: "x"}, wantErr: ErrInvalidRequest},
		{name: "bad format", req: GrantRequest{PermissionResourceFormat: "name"}, wantErr: ErrInvalidRequest},
		{name: "negative limit", req: GrantRequest{ResponsePermissionsLimit: -1}, wantErr: ErrInvalidRequest},
		{name: "space in scope", req: GrantRequest{Scope: []string{"a b"}}, wantErr: ErrInvalidRequest},
		{name: "empty claim name", req: GrantRequest{ClaimToken: map[string][]string{"": {"x"}}}, wantErr: ErrInvalidRequest},
		{name: "huge claims", req: GrantRequest{ClaimToken: map[string][]string{"x": {strings.Repeat("a", MaxClaimTokenBytes)}}}, wantErr: ErrInvalidRequest},
		{name: "too many permissions", req: GrantRequest{Permissions: make([]Permission, MaxPermissions+1)}, wantErr: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.req.form("rs")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEncodeClaimToken(t *testing.T) {
	t.Parallel()
	s, err := EncodeClaimToken(map[string][]string{"b": {"<x>", "y"}, "a": nil})
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":[],"b":["<x>","y"]}`, string(raw))
	assert.Contains(t, string(raw), "<x>", "HTML is not escaped")
}

func TestDecodeTokenResponse(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		body    string
		want    *TokenResponse
		wantErr bool
	}{
		{name: "keycloak", body: `{"access_token":"a.b.c","expires_in":300,"refresh_expires_in":1800,"refresh_token":"r","token_type":"Bearer","not-before-policy":0,"upgraded":true}`,
			want: &TokenResponse{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 300, RefreshExpiresIn: 1800, RefreshToken: "r", Upgraded: true, Expiry: now.Add(300 * time.Second)}},
		{name: "minimal", body: `{"access_token":"x"}`, want: &TokenResponse{AccessToken: "x"}},
		{name: "bearer lowercase", body: `{"access_token":"x","token_type":"bearer"}`, want: &TokenResponse{AccessToken: "x", TokenType: "bearer"}},
		{name: "no token", body: `{"expires_in":1}`, wantErr: true},
		{name: "empty token", body: `{"access_token":""}`, wantErr: true},
		{name: "token not string", body: `{"access_token":1}`, wantErr: true},
		{name: "token with space", body: `{"access_token":"a b"}`, wantErr: true},
		{name: "wrong type", body: `{"access_token":"x","token_type":"DPoP"}`, wantErr: true},
		{name: "negative expiry", body: `{"access_token":"x","expires_in":-1}`, wantErr: true},
		{name: "fractional expiry", body: `{"access_token":"x","expires_in":1.5}`, wantErr: true},
		{name: "huge expiry", body: `{"access_token":"x","expires_in":1e30}`, wantErr: true},
		{name: "duplicate key", body: `{"access_token":"x","access_token":"y"}`, wantErr: true},
		{name: "case variant key", body: `{"access_token":"x","Access_Token":"y"}`, wantErr: true},
		{name: "array", body: `[]`, wantErr: true},
		{name: "html", body: `<html>`, wantErr: true},
		{name: "trailing", body: `{"access_token":"x"} {}`, wantErr: true},
		{name: "upgraded string", body: `{"access_token":"x","upgraded":"true"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTokenResponse([]byte(tt.body), now)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodePermissionsAndDecision(t *testing.T) {
	t.Parallel()
	perms, err := decodePermissions([]byte(`[{"rsid":"1","rsname":"a","scopes":["view"],"claims":{"c":["v"]}},{"scopes":["s"]}]`))
	require.NoError(t, err)
	assert.Equal(t, []rpt.Permission{{ResourceID: "1", ResourceName: "a", Scopes: []string{"view"}, Claims: map[string][]string{"c": {"v"}}}, {Scopes: []string{"s"}}}, perms)
	perms, err = decodePermissions([]byte(` [] `))
	require.NoError(t, err)
	assert.Empty(t, perms)
	for _, bad := range []string{`null`, `{}`, `[{}]`, `[{"rsid":1}]`, `[`, `"x"`} {
		_, err = decodePermissions([]byte(bad))
		assert.Error(t, err, bad)
	}
	ok, err := decodeDecision([]byte(`{"result":true}`))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = decodeDecision([]byte(`{"result":false}`))
	require.NoError(t, err)
	assert.False(t, ok)
	for _, bad := range []string{`{}`, `{"result":"true"}`, `{"result":1}`, `[true]`, `{"result":true,"result":false}`} {
		_, err = decodeDecision([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     *Error
		sentinel error
	}{
		{name: "denied", status: 403, body: `{"error":"access_denied","error_description":"not_authorized"}`,
			want: &Error{Status: 403, Code: "access_denied", Description: "not_authorized", Endpoint: "token"}, sentinel: ErrAccessDenied},
		{name: "submitted", status: 403, body: `{"error":"access_denied","error_description":"request_submitted"}`,
			want: &Error{Status: 403, Code: "access_denied", Description: "request_submitted", Endpoint: "token"}, sentinel: ErrRequestSubmitted},
		{name: "uma need_info", status: 403, body: `{"error":"need_info"}`, want: &Error{Status: 403, Code: "need_info", Endpoint: "token"}, sentinel: ErrNeedInfo},
		{name: "server error", status: 500, body: `{"error":"server_error","error_description":"Unexpected error"}`,
			want: &Error{Status: 500, Code: "server_error", Description: "Unexpected error", Endpoint: "token"}, sentinel: ErrUnavailable},
		{name: "html body", status: 502, body: `<html>bad gateway</html>`, want: &Error{Status: 502, Endpoint: "token"}, sentinel: ErrUnavailable},
		{name: "hostile code dropped", status: 400, body: `{"error":"a\"b c","error_description":"x\r\ny","error_uri":"u"}`,
			want: &Error{Status: 400, Description: "x  y", URI: "u", Endpoint: "token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := decodeError("token", tt.status, []byte(tt.body))
			assert.Equal(t, tt.want, got)
			if tt.sentinel != nil {
				require.ErrorIs(t, got, tt.sentinel)
			}
			assert.NotContains(t, got.Error(), "Unexpected")
			assert.NotContains(t, got.Error(), "not_authorized")
		})
	}
	// request_submitted is a denial too.
	require.ErrorIs(t, decodeError("token", 403, []byte(`{"error":"access_denied","error_description":"request_submitted"}`)), ErrAccessDenied)
	require.NotErrorIs(t, decodeError("token", 403, []byte(`{"error":"access_denied","error_description":"not_authorized"}`)), ErrRequestSubmitted)
}

func TestResourceJSON(t *testing.T) {
	t.Parallel()
	var r Resource
	require.NoError(t, json.Unmarshal([]byte(`{"_id":"1","name":"n","uri":"/a","scopes":[{"name":"view"},"edit"],"owner":"owner-id","ownerManagedAccess":true,"type":" t ","attributes":{"k":["v"]}}`), &r))
	assert.Equal(t, Resource{ID: "1", Name: "n", URIs: []string{"/a"}, Scopes: []Scope{{Name: "view"}, {Name: "edit"}},
		Owner: &Owner{ID: "owner-id"}, OwnerManagedAccess: true, Type: "t", Attributes: map[string][]string{"k": {"v"}}}, r)
	assert.Equal(t, []string{"view", "edit"}, r.ScopeNames())

	require.NoError(t, json.Unmarshal([]byte(`{"_id":"2","name":"n","uris":["/b"," ",""],"resource_scopes":[{"id":"s1","name":"view"}],"owner":{"id":"o","name":"alice"},"icon_uri":"i","displayName":"D"}`), &r))
	assert.Equal(t, Resource{ID: "2", Name: "n", DisplayName: "D", URIs: []string{"/b"}, Scopes: []Scope{{ID: "s1", Name: "view"}},
		Owner: &Owner{ID: "o", Name: "alice"}, IconURI: "i"}, r)

	b, err := json.Marshal(Resource{Name: "n", URIs: []string{"/x"}, Scopes: []Scope{{Name: "view"}}, Owner: &Owner{ID: "o"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"n","uris":["/x"],"resource_scopes":[{"name":"view"}],"owner":{"id":"o"},"ownerManagedAccess":false}`, string(b))
}

func TestExchangeKey(t *testing.T) {
	t.Parallel()
	base := ExchangeRequest{SubjectToken: "tok", Audience: "rs",
		Permissions: []Permission{{Resource: "a", Scopes: []string{"x", "y"}}, {Resource: "b"}},
		Claims:      map[string][]string{"c": {"1"}}}
	k1, err := exchangeKey(base)
	require.NoError(t, err)
	reordered := base
	reordered.Permissions = []Permission{{Resource: "b"}, {Resource: "a", Scopes: []string{"y", "x"}}}
	k2, err := exchangeKey(reordered)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "order of permissions and scopes does not matter")
	for _, mut := range []func(*ExchangeRequest){
		func(r *ExchangeRequest) { r.SubjectToken = "tok2" },
		func(r *ExchangeRequest) { r.Audience = "rs2" },
		func(r *ExchangeRequest) { r.Permissions = r.Permissions[:1] },
		func(r *ExchangeRequest) { r.Claims = map[string][]string{"c": {"2"}} },
		func(r *ExchangeRequest) { r.Claims = nil },
		func(r *ExchangeRequest) {
			r.Permissions = []Permission{{Resource: "a", Scopes: []string{"x"}}, {Resource: "b", Scopes: []string{"y"}}}
		},
	} {
		m := base
		mut(&m)
		k, err := exchangeKey(m)
		require.NoError(t, err)
		assert.NotEqual(t, k1, k)
	}
}

func TestUnverifiedExp(t *testing.T) {
	t.Parallel()
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	assert.Equal(t, time.Unix(1700000000, 0), unverifiedExp("h."+enc(`{"exp":1700000000}`)+".s"))
	assert.True(t, unverifiedExp("opaque").IsZero())
	assert.True(t, unverifiedExp("h."+enc(`{"exp":"x"}`)+".s").IsZero())
	assert.True(t, unverifiedExp("h.!!!.s").IsZero())
}

func FuzzDecodeTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a.b.c","expires_in":300,"refresh_expires_in":1800,"refresh_token":"r","token_type":"Bearer","not-before-policy":0,"upgraded":false}`))
	f.Add([]byte(`{"access_token":"x","expires_in":1e400}`))
	f.Add([]byte(`{"error":"access_denied"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := decodeTokenResponse(body, time.Unix(0, 0))
		if err != nil {
			require.Nil(t, tr)
			return
		}
		require.NotEmpty(t, tr.AccessToken)
		require.GreaterOrEqual(t, tr.ExpiresIn, int64(0))
		// The printed form never depends on the token (a substring check
		// would flag short tokens that occur in the fixed text, e.g. "e}").
		other := *tr
		other.AccessToken, other.RefreshToken = "x"+tr.AccessToken, "y"+tr.RefreshToken
		require.Equal(t, other.String(), tr.String())
		require.Equal(t, fmt.Sprintf("%#v", &other), fmt.Sprintf("%#v", tr))
	})
}

func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(`[{"rsid":"1","rsname":"a","scopes":["view"],"claims":{"c":["v"]}}]`))
	f.Add([]byte(`{"result":true}`))
	f.Add([]byte(`{"ticket":"eyJ.a.b"}`))
	f.Add([]byte(`{"_id":"1","name":"n","uri":"/a","scopes":["x",{"name":"y"}],"owner":"o"}`))
	f.Add([]byte(`{"error":"invalid_scope","error_description":"Scope [x] is invalid"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if perms, err := decodePermissions(body); err == nil {
			require.NotNil(t, perms)
			for _, p := range perms {
				require.True(t, p.ResourceID != "" || len(p.Scopes) > 0)
			}
		}
		_, _ = decodeDecision(body)
		if tk, err := decodeTicket(body); err == nil {
			_, err := BuildChallenge("r", "https://kc/r", tk)
			require.NoError(t, err)
		}
		if r, err := decodeResource(body); err == nil {
			require.NotEmpty(t, r.ID)
		}
		e := decodeError("token", 400, body)
		require.Equal(t, e.Code, sanitizeCode(e.Code))
		require.NotContains(t, e.Error(), "\n")
	})
}
