package rpt_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// FuzzParse feeds arbitrary strings to Verify. Properties: no panic, and the
// only input that verifies is the one token the server signed, so any
// mutation of its bytes is rejected.
func FuzzParse(f *testing.F) {
	kc := keycloaktest.New(f)
	v := newVerifier(f, kc, config(kc))
	good := kc.IssueRPT("alice", rpt.Permission{ResourceID: "r", Scopes: []string{"s"}})
	bob := kc.AccessToken("bob")
	f.Add(good)
	f.Add(bob)
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.e30")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(good + "=")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if raw != good && raw != bob {
			t.Fatalf("a token other than the signed one verified (len %d)", len(raw))
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
