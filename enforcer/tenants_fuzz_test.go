package enforcer

import "testing"

// FuzzUnverifiedIssuer: the tenant selector's unverified iss read never
// panics and never reports an empty issuer.
func FuzzUnverifiedIssuer(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2tjL3JlYWxtcy9hIn0.sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("x.eyJpc3MiOm51bGx9.y")
	f.Fuzz(func(t *testing.T, tok string) {
		iss, ok := unverifiedIssuer(tok, 1<<14)
		if ok && iss == "" {
			t.Fatal("empty issuer reported as found")
		}
		if !ok && iss != "" {
			t.Fatal("issuer returned with ok=false")
		}
	})
}
