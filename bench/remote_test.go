package bench

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rptguard/rptguard/keycloaktest"
)

// remoteCase runs one warm/cold pair of a benchmark that talks to the
// server: rptguard's middleware built from settings, and a baseline
// handler, over tokens.
func remoteCase(b *testing.B, rptguard, baseline http.Handler, tokens []string) {
	b.Helper()
	auth := bearer(tokens...)
	for _, side := range []struct {
		name string
		h    http.Handler
	}{{"rptguard", rptguard}, {"baseline", baseline}} {
		b.Run(side.name, func(b *testing.B) {
			c := newCaller(side.h, target)
			for _, a := range auth {
				if !c.do(a, http.StatusOK) {
					b.Fatalf("warm-up: status %d", c.rec.Code)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if !c.do(auth[i%len(auth)], http.StatusOK) {
					b.Fatalf("status %d", c.rec.Code)
				}
			}
		})
	}
}

// postForm is the hand-written call to the server: a form POST with the
// given authorization, decoding a JSON object.
func postForm(hc *http.Client, endpoint, authz string, form url.Values) (map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authz)
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	var m map[string]any
	return m, json.Unmarshal(body, &m)
}

// BenchmarkIntrospection: token-verification "introspection" (RFC 7662
// against the server over loopback HTTP). warm: the introspection result
// is cached; cold: every request introspects a new token. The baseline
// introspects on every request and evaluates the same Rego as the other
// baselines on the answer.
func BenchmarkIntrospection(b *testing.B) {
	f := newFixture(b, 5)
	tokens := f.rpts(tokenPool)
	bl := newBaseline(b, f)
	hc := f.kc.HTTPClient()
	basic := "Basic " + basicAuth(f.kc.ClientID(), f.kc.ClientSecret())
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		m, err := postForm(hc, f.kc.IntrospectionURL(), basic, url.Values{"token": {raw}, "token_type_hint": {"requesting_party_token"}})
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if active, _ := m["active"].(bool); !active {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		m["authorization"] = map[string]any{"permissions": m["permissions"]}
		if !bl.allow(r.Context(), m, f.targetID) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		ok.ServeHTTP(w, r)
	})
	for _, temp := range []string{"warm", "cold"} {
		b.Run(temp, func(b *testing.B) {
			settings := `"permissions-source":"token","token-verification":"introspection"`
			if temp == "cold" {
				settings += `,"token-cache":{"max-entries":1},"introspection-cache":{"max-entries":1}`
			}
			e := f.enforcer(b, f.config(b, settings))
			remoteCase(b, e.Middleware(ok), baseline, tokens)
		})
	}
}

// BenchmarkUMA: permissions-source "uma" with plain access tokens (no
// permissions): the enforcer exchanges the token server-side for an RPT
// (the UMA grant) and evaluates that. warm: the RPT is cached per (token,
// resource, scopes); cold: every request exchanges a new token. The
// baseline does what Keycloak's policy enforcer does without a cache: on
// every request it verifies the access token, obtains an RPT for the
// resource and scope through the UMA grant, verifies the RPT and evaluates
// the same Rego as the other baselines on it. Both sides include the test
// server's work, in this process: signing each RPT (RS256) dominates a
// cold exchange.
func BenchmarkUMA(b *testing.B) {
	f := newFixture(b, 5)
	f.kc.AddGrant(keycloaktest.Grant{User: "alice", Resource: f.targetID})
	tokens := make([]string, tokenPool)
	for i := range tokens {
		tokens[i] = f.kc.AccessToken("alice")
	}
	bl := newBaseline(b, f)
	hc := f.kc.HTTPClient()
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		raw, _ := strings.CutPrefix(authz, "Bearer ")
		if _, valid := bl.verify(raw); !valid {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		m, err := postForm(hc, f.kc.TokenURL(), authz, url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:uma-ticket"}, "audience": {f.kc.ClientID()},
			"permission": {f.targetID + "#view"},
		})
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		token, _ := m["access_token"].(string)
		claims, valid := bl.verify(token)
		if !valid || !bl.allow(r.Context(), claims, f.targetID) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		ok.ServeHTTP(w, r)
	})
	for _, temp := range []string{"warm", "cold"} {
		b.Run(temp, func(b *testing.B) {
			settings := `"permissions-source":"uma"`
			if temp == "cold" {
				settings += `,"token-cache":{"max-entries":1},"uma-cache":{"max-entries":1}`
			}
			e := f.enforcer(b, f.config(b, settings))
			remoteCase(b, e.Middleware(ok), baseline, tokens)
		})
	}
}

func basicAuth(id, secret string) string {
	// RFC 6749 §2.3.1: form-urlencode, then base64.
	return base64Std(url.QueryEscape(id) + ":" + url.QueryEscape(secret))
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
