package introspection

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/rpt"
)

// BenchmarkIntrospect compares a warm-cache Verify (rptguard) with what a
// careful user writes without a cache (baseline): one RFC 7662 POST over
// loopback to keycloaktest per call, JSON-decoded, "active" checked.
func BenchmarkIntrospect(b *testing.B) {
	e := newEnv(b)
	perms := make([]rpt.Permission, 5)
	for i := range perms {
		perms[i] = rpt.Permission{ResourceID: "res-" + string(rune('a'+i)), ResourceName: "R" + string(rune('a'+i)), Scopes: []string{"read", "write"}}
	}
	tok := e.srv.IssueRPT("alice", perms...)

	b.Run("rptguard", func(b *testing.B) {
		c := e.client(b, nil)
		_, err := c.Verify(b.Context(), tok)
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("baseline", func(b *testing.B) {
		hc := e.srv.HTTPClient()
		endpoint, id, secret := e.srv.IntrospectionURL(), e.srv.ClientID(), e.srv.ClientSecret()
		call := func() error {
			form := url.Values{"token": {tok}, "token_type_hint": {DefaultTokenTypeHint}}
			req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			var out struct {
				Active      bool             `json:"active"`
				Permissions []rpt.Permission `json:"permissions"`
			}
			if err := json.NewDecoder(io.LimitReader(resp.Body, DefaultMaxResponseBytes)).Decode(&out); err != nil {
				return err
			}
			if !out.Active || len(out.Permissions) != len(perms) {
				b.Fatalf("baseline: unexpected answer (active=%v, %d permissions)", out.Active, len(out.Permissions))
			}
			return nil
		}
		require.NoError(b, call())
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
