package policies_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

// FuzzNewTokenValue feeds arbitrary claims (as a JSON-decoded map, the form
// verifiers hand over) through NewTokenValue and Evaluate. Properties: no
// panic; an error never comes with an allow; a token without an
// authorization claim is never allowed on an Enforcing path.
func FuzzNewTokenValue(f *testing.F) {
	f.Add([]byte(`{"sub":"a","authorization":{"permissions":[{"rsid":"r1","scopes":["read"]}]}}`), "r1", "read")
	f.Add([]byte(`{"sub":"a","realm_access":{"roles":["x"]},"n":1e400,"f":-0.5,"z":null}`), "r1", "")
	f.Add([]byte(`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`), "", "x")
	e, err := policies.New(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, rsid, scope string) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var raw map[string]any
		if dec.Decode(&raw) != nil {
			return
		}
		c := &rpt.Claims{Raw: raw}
		if az, ok := raw["authorization"].(map[string]any); ok {
			c.Authorization = &rpt.Authorization{}
			ps, _ := az["permissions"].([]any)
			for _, p := range ps {
				pm, _ := p.(map[string]any)
				var perm rpt.Permission
				perm.ResourceID, _ = pm["rsid"].(string)
				perm.ResourceName, _ = pm["rsname"].(string)
				ss, _ := pm["scopes"].([]any)
				for _, s := range ss {
					if s, ok := s.(string); ok {
						perm.Scopes = append(perm.Scopes, s)
					}
				}
				c.Authorization.Permissions = append(c.Authorization.Permissions, perm)
			}
		}
		in := policies.Input{
			Resource:       policies.Resource{ID: rsid},
			RequiredScopes: []string{scope},
			Request:        policies.Request{Headers: map[string][]string{scope: {rsid}}},
			Claims:         map[string][]string{scope: {rsid}},
		}
		tv, err := policies.NewTokenValue(c)
		if err != nil {
			d, eerr := e.Evaluate(context.Background(), in) // anonymous
			if eerr == nil && d.Allow {
				t.Fatal("anonymous input allowed")
			}
			return
		}
		in.Token = tv
		d, err := e.Evaluate(context.Background(), in)
		if err != nil && d.Allow {
			t.Fatal("allow with an error")
		}
		if d.Allow && c.Authorization == nil {
			t.Fatal("allowed without an authorization claim")
		}
	})
}
