package keycloak_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
)

var seeds [][]byte

func isSeed(data []byte) bool {
	for _, s := range seeds {
		if string(s) == string(data) {
			return true
		}
	}
	return false
}

// FuzzParse: Parse never panics; accepted settings either translate into
// Rego that compiles, or fail with this package's errors.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"http-verbs-settings.json", "quickstarts-photoz-restful-api-authz-service.json"} {
		b, err := readFile(name)
		if err == nil {
			seeds = append(seeds, b)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := keycloak.Parse(data)
		if err != nil {
			if !errors.Is(err, keycloak.ErrInvalidSettings) && !errors.Is(err, keycloak.ErrUnsupportedRegex) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		var opts []keycloak.Option
		for _, p := range s.Policies {
			if p.Unsupported() {
				opts = append(opts, keycloak.WithPolicyMapping(p.Name, keycloak.MapDeny()))
			}
		}
		res, err := keycloak.Translate(s, opts...)
		if err != nil {
			if !errors.Is(err, keycloak.ErrInvalidSettings) && !errors.Is(err, keycloak.ErrUnsupportedPolicy) && !errors.Is(err, keycloak.ErrUnsupportedRegex) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		// Compiling costs milliseconds (much more under the fuzzer's
		// instrumentation): compile a deterministic eighth of the accepted
		// inputs, and every seed.
		if len(data)%8 != 0 && !isSeed(data) {
			return
		}
		e, err := policies.New(context.Background(), policies.WithSources(res.Source()))
		if err != nil {
			t.Fatalf("translated settings do not compile: %v", err)
		}
		_ = e.Close()
	})
}
