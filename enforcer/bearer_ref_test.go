package enforcer

import (
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// extractBearerReference is the character-by-character validation that
// extractBearer's table-driven pass replaced (after the scheme, query and
// size checks, which are unchanged).
func extractBearerReference(rest string) (string, error) {
	eq := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '=':
			eq = true
		case eq:
			return "", errAmbiguousCredentials
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return "", errAmbiguousCredentials
		}
	}
	if rest[0] == '=' {
		return "", errAmbiguousCredentials
	}
	return rest, nil
}

func TestExtractBearerAgreesWithReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	const alphabet = "aZ09-._~+/==== \t\x00\xff\"%"
	for range 20000 {
		b := make([]byte, 1+rng.IntN(10))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		rest := string(b)
		if rest[0] == ' ' {
			continue // trimmed as the separator
		}
		got, err := extractBearer(http.Header{"Authorization": {"Bearer " + rest}}, "", 1024)
		want, werr := extractBearerReference(rest)
		require.Equal(t, werr, err, "%q", rest)
		require.Equal(t, want, got, "%q", rest)
	}
}
