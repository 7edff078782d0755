package rpt

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConstantTimeEqual(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefgh", 100) + "xyz"
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "both empty", want: true},
		{name: "equal short", a: "abc", b: "abc", want: true},
		{name: "equal long", a: long, b: strings.Clone(long), want: true},
		{name: "length differs", a: "abc", b: "abcd"},
		{name: "first byte differs", a: "Xbcdefghij", b: "abcdefghij"},
		{name: "last word byte differs", a: long[:800] + "X" + long[801:], b: long},
		{name: "tail byte differs", a: long[:len(long)-1] + "Z", b: long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, constantTimeEqual(tt.a, tt.b))
		})
	}
}

// TestTokenCacheCollision: an entry is only returned for the exact token it
// was stored for, even when another token lands on the same hash.
func TestTokenCacheCollision(t *testing.T) {
	t.Parallel()
	c, err := newTokenCache(1000)
	require.NoError(t, err)
	require.Len(t, c.shards, 16)
	claims := &Claims{Subject: "alice"}
	const h = 0xdeadbeef12345678 // the same hash for both tokens
	raw := "aaaa.bbbb.cccc"
	c.add(h, raw, &cacheEntry{claims: claims, until: time.Now().Add(time.Minute)})

	e, ok := c.get(h, strings.Clone(raw))
	require.True(t, ok)
	assert.Same(t, claims, e.claims)

	_, ok = c.get(h, "aaaa.bbbb.ccdd")
	assert.False(t, ok, "a colliding token must not get the entry")
	c.remove(h, "aaaa.bbbb.ccdd")
	_, ok = c.get(h, raw)
	assert.True(t, ok, "removing for another token must not drop the entry")
	c.remove(h, raw)
	_, ok = c.get(h, raw)
	assert.False(t, ok)
}

func TestTokenCacheKeepsACopy(t *testing.T) {
	t.Parallel()
	c, err := newTokenCache(1)
	require.NoError(t, err)
	require.Len(t, c.shards, 1)
	buf := []byte("aaaa.bbbb.cccc")
	raw := string(buf)
	c.add(c.hash(raw), raw, &cacheEntry{claims: &Claims{}})
	e, ok := c.get(c.hash(raw), raw)
	require.True(t, ok)
	assert.Equal(t, raw, e.raw)
	assert.NotSame(t, unsafeData(raw), unsafeData(e.raw))
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// splitTokenReference is the straightforward scan splitToken replaced.
func splitTokenReference(raw string) (dot1, dot2 int, ok bool) {
	dot1, dot2 = -1, -1
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			switch {
			case dot1 < 0:
				dot1 = i
			case dot2 < 0:
				dot2 = i
			default:
				return 0, 0, false
			}
		default:
			return 0, 0, false
		}
	}
	if dot1 <= 0 || dot2 <= dot1+1 || dot2 == len(raw)-1 {
		return 0, 0, false
	}
	return dot1, dot2, true
}

func TestSplitTokenAgreesWithReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ09-_.=+/ \x00\xff."
	fixed := []string{"", ".", "..", "a.b.c", ".b.c", "a..c", "a.b.", "a.b.c.d", "a.b", "abc", "a.b.c\n", "é.b.c"}
	for i := range 20000 {
		var s string
		if i < len(fixed) {
			s = fixed[i]
		} else {
			b := make([]byte, rng.IntN(12))
			for j := range b {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
			s = string(b)
		}
		d1, d2, ok := splitToken(s)
		r1, r2, rok := splitTokenReference(s)
		require.Equal(t, rok, ok, "%q", s)
		if ok {
			require.Equal(t, [2]int{r1, r2}, [2]int{d1, d2}, "%q", s)
		}
	}
}
