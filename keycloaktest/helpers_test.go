package keycloaktest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rptguard/rptguard/keycloaktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is an HTTP answer with its body read.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r result) obj(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	require.NoError(tb, dec.Decode(&m), "body: %s", r.Body)
	return m
}

func (r result) arr(tb testing.TB) []any {
	tb.Helper()
	var a []any
	require.NoError(tb, json.Unmarshal(r.Body, &a), "body: %s", r.Body)
	return a
}

type reqMod func(*http.Request)

// basicAuth is RFC 6749 §2.3.1 client authentication (form-urlencoded parts).
func basicAuth(id, secret string) reqMod {
	return func(r *http.Request) {
		raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)))
	}
}

func bearer(tok string) reqMod {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func do(tb testing.TB, kc *keycloaktest.Server, method, u string, body io.Reader, contentType string, mods ...reqMod) result {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	require.NoError(tb, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, m := range mods {
		m(req)
	}
	resp, err := kc.HTTPClient().Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return result{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func get(tb testing.TB, kc *keycloaktest.Server, u string, mods ...reqMod) result {
	tb.Helper()
	return do(tb, kc, http.MethodGet, u, nil, "", mods...)
}

func postForm(tb testing.TB, kc *keycloaktest.Server, u string, form url.Values, mods ...reqMod) result {
	tb.Helper()
	return do(tb, kc, http.MethodPost, u, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", mods...)
}

func postJSON(tb testing.TB, kc *keycloaktest.Server, method, u string, v any, mods ...reqMod) result {
	tb.Helper()
	var body io.Reader
	switch x := v.(type) {
	case string:
		body = strings.NewReader(x)
	default:
		b, err := json.Marshal(v)
		require.NoError(tb, err)
		body = bytes.NewReader(b)
	}
	return do(tb, kc, method, u, body, "application/json", mods...)
}

// patHTTP gets a PAT through the token endpoint.
func patHTTP(tb testing.TB, kc *keycloaktest.Server) string {
	tb.Helper()
	r := postForm(tb, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}},
		basicAuth(kc.ClientID(), kc.ClientSecret()))
	require.Equal(tb, http.StatusOK, r.Status, "%s", r.Body)
	return r.obj(tb)["access_token"].(string)
}

// decodeJWT splits a compact JWS into header and claims (no verification).
func decodeJWT(tb testing.TB, tok string) (map[string]any, map[string]any) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	require.Len(tb, parts, 3)
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(tb, err)
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		require.NoError(tb, d.Decode(&m))
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func oauthErr(tb testing.TB, r result) (string, string) {
	tb.Helper()
	m := r.obj(tb)
	code, _ := m["error"].(string)
	desc, _ := m["error_description"].(string)
	return code, desc
}

// perms returns authorization.permissions of decoded claims.
func perms(tb testing.TB, claims map[string]any) []map[string]any {
	tb.Helper()
	authz, ok := claims["authorization"].(map[string]any)
	require.True(tb, ok, "no authorization claim")
	list, _ := authz["permissions"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, p := range list {
		out = append(out, p.(map[string]any))
	}
	return out
}

func strList(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
