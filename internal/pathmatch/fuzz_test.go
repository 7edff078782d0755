package pathmatch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzCanonicalize checks, in both modes: no panic; errors are exactly one of
// ErrBadRequest / ErrTooLong and never echo the input; outputs never contain
// "//", "/./", "/../", '\', NUL or an encoded slash; canonicalization is
// idempotent; Keycloak mode agrees with the port of normalizeUri except for
// the documented hardening. Seeds: testdata/fuzz/FuzzCanonicalize (every row
// of security.md §3's table, group (f) and SPEC §2.5's normalization list).
func FuzzCanonicalize(f *testing.F) {
	for _, c := range strictCases {
		if len(c.target) < 512 {
			f.Add(c.target)
		}
	}
	for _, c := range keycloakCases {
		if len(c.target) < 512 {
			f.Add(c.target)
		}
	}
	f.Fuzz(func(t *testing.T, target string) {
		for _, mode := range []Mode{ModeStrict, ModeKeycloak} {
			c, err := Canonicalize(target, mode, Limits{})
			if err != nil {
				bad, long := errorIs(err, ErrBadRequest), errorIs(err, ErrTooLong)
				require.True(t, bad != long, "exactly one sentinel")
				if len(target) >= 8 {
					require.NotContains(t, err.Error(), target)
				}
			} else {
				checkCanonicalInvariants(t, mode, c)
				require.Equal(t, c.Raw, target[:len(c.Raw)])
			}
			if mode == ModeKeycloak && strings.HasPrefix(target, "/") {
				checkKeycloakAgainstPort(t, target)
			}
		}
	})
}
