package pathmatch

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type canonCase struct {
	name    string
	target  string
	want    string // Path
	wantErr error
}

// strictCases: security.md §3 "Expected outcomes (strict default)" and the
// canonicalization rows of group (f).
var strictCases = []canonCase{
	// §3 table
	{name: "plain", target: "/admin/x", want: "/admin/x"},
	{name: "encoded unreserved decoded (F14)", target: "/%61dmin/x", want: "/admin/x"},
	{name: "trailing slash stripped (F6)", target: "/admin/x/", want: "/admin/x"},
	{name: "dot-dot (F1)", target: "/public/../admin/x", wantErr: ErrBadRequest},
	{name: "leading double slash (F4)", target: "//admin/x", wantErr: ErrBadRequest},
	{name: "dot segment", target: "/a/./b", wantErr: ErrBadRequest},
	{name: "encoded dots lower (F2)", target: "/public/%2e%2e/admin/x", wantErr: ErrBadRequest},
	{name: "encoded slash after dots (F3)", target: "/public/..%2fadmin/x", wantErr: ErrBadRequest},
	{name: "encoded slash (F3)", target: "/admin%2Fx", wantErr: ErrBadRequest},
	{name: "encoded backslash (F5)", target: "/admin%5Cx", wantErr: ErrBadRequest},
	{name: "matrix param (F8)", target: "/admin;jsessionid=1/x", wantErr: ErrBadRequest},
	{name: "encoded semicolon (F9)", target: "/admin%3Bx/y", wantErr: ErrBadRequest},
	{name: "encoded NUL (F10)", target: "/admin/x%00", wantErr: ErrBadRequest},
	{name: "encoded LF (F11)", target: "/admin/x%0a", wantErr: ErrBadRequest},
	{name: "double encoding (F12)", target: "/admin/%252e%252e/x", wantErr: ErrBadRequest},
	{name: "overlong UTF-8 (F13)", target: "/admin/%C0%AE%C0%AE/x", wantErr: ErrBadRequest},
	{name: "invalid UTF-8 byte (F13)", target: "/admin/%FF", wantErr: ErrBadRequest},
	{name: "fragment (F16)", target: "/admin/x#frag", wantErr: ErrBadRequest},
	{name: "asterisk-form", target: "*", wantErr: ErrBadRequest},
	{name: "case kept (F7)", target: "/Admin/x", want: "/Admin/x"},
	{name: "full-width a kept encoded (F13)", target: "/%EF%BD%81dmin/x", want: "/%EF%BD%81dmin/x"},
	{name: "reserved kept encoded", target: "/files/a%3Fb", want: "/files/a%3Fb"},
	// more of group (f)
	{name: "F2 upper", target: "/public/%2E%2E/admin/x", wantErr: ErrBadRequest},
	{name: "F2 mixed .%2e", target: "/public/.%2e/admin/x", wantErr: ErrBadRequest},
	{name: "F2 mixed %2e.", target: "/public/%2e./admin/x", wantErr: ErrBadRequest},
	{name: "F3 lower %2f", target: "/admin%2fx", wantErr: ErrBadRequest},
	{name: "F4 inner double slash", target: "/admin//x", wantErr: ErrBadRequest},
	{name: "F4 triple slash", target: "///admin", wantErr: ErrBadRequest},
	{name: "F5 raw backslash", target: "/admin\\x", wantErr: ErrBadRequest},
	{name: "F5 backslash dots", target: "/public\\..\\admin", wantErr: ErrBadRequest},
	{name: "F5 lower %5c", target: "/admin%5cx", wantErr: ErrBadRequest},
	{name: "F6 template path slash", target: "/api/1/", want: "/api/1"},
	{name: "F7 upper", target: "/ADMIN/x", want: "/ADMIN/x"},
	{name: "F8 empty matrix", target: "/public;/../admin", wantErr: ErrBadRequest},
	{name: "F8 matrix last", target: "/admin;x=1", wantErr: ErrBadRequest},
	{name: "F9 lower %3b", target: "/admin%3bx", wantErr: ErrBadRequest},
	{name: "F10 raw NUL", target: "/admin/x\x00", wantErr: ErrBadRequest},
	{name: "F11 CR", target: "/admin/x%0d", wantErr: ErrBadRequest},
	{name: "F11 TAB", target: "/admin/x%09", wantErr: ErrBadRequest},
	{name: "F11 U+2028", target: "/admin/x%e2%80%a8", wantErr: ErrBadRequest},
	{name: "F11 C1 NEL", target: "/admin/x%C2%85", wantErr: ErrBadRequest},
	{name: "F11 raw LF", target: "/admin/x\n", wantErr: ErrBadRequest},
	{name: "F12 %252f", target: "/admin/%252f", wantErr: ErrBadRequest},
	{name: "F13 surrogate", target: "/a/%ED%A0%80", wantErr: ErrBadRequest},
	{name: "F13 truncated sequence", target: "/a/%E2%80", wantErr: ErrBadRequest},
	{name: "F13 lone continuation", target: "/a/%80", wantErr: ErrBadRequest},
	{name: "F13 raw high byte", target: "/a/\xc3\xa9", wantErr: ErrBadRequest},
	{name: "F13 full-width solidus kept", target: "/a%EF%BC%8Fb", want: "/a%EF%BC%8Fb"},
	{name: "F13 full-width full stop kept", target: "/%EF%BC%8E%EF%BC%8E/x", want: "/%EF%BC%8E%EF%BC%8E/x"},
	{name: "F13 lower hex upper-cased", target: "/caf%c3%a9", want: "/caf%C3%A9"},
	{name: "F15 bad hex", target: "/a%ZZ", wantErr: ErrBadRequest},
	{name: "F15 trailing percent", target: "/a%", wantErr: ErrBadRequest},
	{name: "F15 short escape", target: "/a%4", wantErr: ErrBadRequest},
	{name: "F16 query ignored", target: "/public?/../admin", want: "/public"},
	{name: "F16 query with path", target: "/admin?x=/public/", want: "/admin"},
	{name: "F16 fragment", target: "/public#/../admin", wantErr: ErrBadRequest},
	{name: "F16 fragment in query", target: "/public?a#b", wantErr: ErrBadRequest},
	{name: "F17 too long", target: "/" + strings.Repeat("a", 8192), wantErr: ErrTooLong},
	{name: "F17 at the limit", target: "/" + strings.Repeat("a", 8191), want: "/" + strings.Repeat("a", 8191)},
	{name: "too many segments", target: strings.Repeat("/a", 257), wantErr: ErrTooLong},
	{name: "segments at the limit", target: strings.Repeat("/a", 256), want: strings.Repeat("/a", 256)},
	{name: "F18 exempt path", target: "/x/access-denied", want: "/x/access-denied"},
	{name: "F18 exempt in query", target: "/admin?r=/access-denied", want: "/admin"},
	{name: "F18 exempt with dots", target: "/admin/access-denied/../x", wantErr: ErrBadRequest},
	{name: "F24 absolute-form", target: "http://evil.example/admin/x", wantErr: ErrBadRequest},
	{name: "F24 authority-form", target: "svc:443", wantErr: ErrBadRequest},
	// misc
	{name: "root", target: "/", want: "/"},
	{name: "root with query", target: "/?a=b", want: "/"},
	{name: "empty", target: "", wantErr: ErrBadRequest},
	{name: "encoded percent", target: "/a%25", wantErr: ErrBadRequest},
	{name: "encoded DEL", target: "/a%7F", wantErr: ErrBadRequest},
	{name: "raw space", target: "/a b", wantErr: ErrBadRequest},
	{name: "raw brace", target: "/a/{id}", wantErr: ErrBadRequest},
	{name: "encoded brace kept", target: "/a/%7bid%7d", want: "/a/%7Bid%7D"},
	{name: "sub-delims raw", target: "/a!$&'()*+,=:@b", want: "/a!$&'()*+,=:@b"},
	{name: "encoded sub-delim kept", target: "/a%2Ab", want: "/a%2Ab"},
	{name: "encoded tilde decoded", target: "/%7euser", want: "/~user"},
	{name: "three dots is a name", target: "/a/.../b", want: "/a/.../b"},
	{name: "dot prefix is a name", target: "/.well-known/x", want: "/.well-known/x"},
	{name: "trailing dot-dot", target: "/a/..", wantErr: ErrBadRequest},
	{name: "trailing dot", target: "/a/.", wantErr: ErrBadRequest},
	{name: "two trailing slashes", target: "/a//", wantErr: ErrBadRequest},
	{name: "only double slash", target: "//", wantErr: ErrBadRequest},
}

// keycloakCases: SPEC §2.5 PathMatcherTest normalization list and the
// normalize-mode outcomes of security.md §3 / group (f).
var keycloakCases = []canonCase{
	{name: "matrix", target: "/api/admin;x=1", want: "/api/admin"},
	{name: "jsessionid", target: "/api/admin;jsessionid=abc123", want: "/api/admin"},
	{name: "trailing slash", target: "/api/admin/", want: "/api/admin"},
	{name: "double slash", target: "/api//admin", want: "/api/admin"},
	{name: "many slashes", target: "//api///admin", want: "/api/admin"},
	{name: "dot-dot", target: "/api/foo/../admin", want: "/api/admin"},
	{name: "dot", target: "/api/./admin", want: "/api/admin"},
	{name: "encoded a", target: "/api/%61dmin", want: "/api/admin"},
	{name: "encoded a twice", target: "/%61pi/%61dmin", want: "/api/admin"},
	{name: "encoded slash", target: "/api/%2Fadmin", want: "/api/admin"},
	{name: "everything", target: "//api/foo/../admin;y=2/", want: "/api/admin"},
	{name: "query", target: "/api/admin?x=1", want: "/api/admin"},
	{name: "fragment", target: "/api/admin#section", want: "/api/admin"},
	{name: "matrix then query", target: "/api/admin;x=1?redirect=/evil", want: "/api/admin"},
	{name: "lone percent", target: "/api/admin%", wantErr: ErrBadRequest},
	{name: "dots then lone percent", target: "/api/foo/../admin%", wantErr: ErrBadRequest},
	{name: "opaque URI", target: "foo:bar", wantErr: ErrBadRequest},
	{name: "empty authority", target: "https:///api/admin", wantErr: ErrBadRequest},
	{name: "bad IPv6 authority", target: "https://[not-ipv6]/api/admin", wantErr: ErrBadRequest},
	{name: "encoded question mark", target: "/api/search%3Ffoo", want: "/api/search?foo"},
	{name: "encoded space", target: "/api/admin%20area", want: "/api/admin area"},
	// security.md §3 normalize-mode column and group (f)
	{name: "F1", target: "/public/../admin/x", want: "/admin/x"},
	{name: "F4", target: "//admin/x", want: "/admin/x"},
	{name: "dot segment", target: "/a/./b", want: "/a/b"},
	{name: "F2 encoded dots resolved after decoding", target: "/public/%2e%2e/admin/x", want: "/admin/x"},
	{name: "F3 encoded slash dots", target: "/public/..%2fadmin/x", want: "/admin/x"},
	{name: "F8 empty matrix", target: "/public;/../admin", want: "/admin"},
	{name: "F9 encoded semicolon stripped", target: "/admin%3Bx/y", want: "/admin/y"},
	{name: "F12 decoded once", target: "/admin/%252e%252e/x", want: "/admin/%2e%2e/x"},
	{name: "F16 fragment dropped", target: "/public#/../admin", want: "/public"},
	{name: "F5 raw backslash unparsable", target: "/admin\\x", wantErr: ErrBadRequest},
	{name: "F5 encoded backslash (hardening)", target: "/admin%5Cx", wantErr: ErrBadRequest},
	{name: "F10 encoded NUL (hardening)", target: "/admin/x%00", wantErr: ErrBadRequest},
	{name: "F11 U+2028 (hardening)", target: "/admin/x%e2%80%a8", wantErr: ErrBadRequest},
	{name: "F13 overlong (hardening)", target: "/admin/%C0%AE%C0%AE/x", wantErr: ErrBadRequest},
	{name: "above root (hardening)", target: "/../admin", wantErr: ErrBadRequest},
	{name: "encoded above root (hardening)", target: "/%2e%2e/admin", wantErr: ErrBadRequest},
	{name: "raw non-ASCII (hardening)", target: "/caf\xc3\xa9", wantErr: ErrBadRequest},
	{name: "UTF-8 decoded", target: "/caf%C3%A9", want: "/café"},
	{name: "braces", target: "/rest/%7Bversion%7D/x", want: "/rest/{version}/x"},
	{name: "raw braces", target: "/rest/{version}/x", want: "/rest/{version}/x"},
	{name: "relative URL inside path", target: "/api/redirect-to-https://x", want: "/api/redirect-to-https:/x"},
	{name: "F7 case kept", target: "/Admin/x", want: "/Admin/x"},
	{name: "F17 too long", target: "/" + strings.Repeat("a", 8192), wantErr: ErrTooLong},
	{name: "root", target: "/", want: "/"},
	{name: "dot-dot to root", target: "/a/..", want: "/"},
	{name: "only matrix", target: "/;x", want: "/"},
	{name: "space unparsable", target: "/a b", wantErr: ErrBadRequest},
	{name: "square bracket unparsable", target: "/a[b]", wantErr: ErrBadRequest},
}

func runCanonCases(t *testing.T, mode Mode, cases []canonCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Canonicalize(tt.target, mode, Limits{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var re *RequestError
				require.ErrorAs(t, err, &re)
				if len(tt.target) > 3 {
					assert.NotContains(t, err.Error(), tt.target, "error text must not echo the path")
				}
				if tt.wantErr == ErrTooLong {
					assert.NotErrorIs(t, err, ErrBadRequest)
				} else {
					assert.NotErrorIs(t, err, ErrTooLong)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Path)
			checkCanonicalInvariants(t, mode, got)
		})
	}
}

func TestCanonicalizeStrict(t *testing.T) {
	t.Parallel()
	runCanonCases(t, ModeStrict, strictCases)
}

func TestCanonicalizeKeycloak(t *testing.T) {
	t.Parallel()
	runCanonCases(t, ModeKeycloak, keycloakCases)
}

// TestCanonicalizeKeycloakOracle checks the Keycloak-mode rows against the
// line-by-line port of normalizeUri.
func TestCanonicalizeKeycloakOracle(t *testing.T) {
	t.Parallel()
	for _, tt := range append(append([]canonCase{}, keycloakCases...), strictCases...) {
		checkKeycloakAgainstPort(t, tt.target)
	}
}

func checkKeycloakAgainstPort(t *testing.T, target string) {
	t.Helper()
	got, err := Canonicalize(target, ModeKeycloak, Limits{})
	if len(target) == 0 || target[0] != '/' {
		require.Error(t, err)
		return
	}
	if err != nil && errorIs(err, ErrTooLong) {
		return
	}
	want, ok := kcNormalize(target)
	switch {
	case !ok:
		require.Errorf(t, err, "Keycloak finds no match for %q, we returned %q", target, got.Path)
	case err != nil:
		require.Truef(t, kcHardened(target, want), "%q: Keycloak normalizes to %q, we refused (%v)", target, want, err)
	default:
		require.Equalf(t, want, got.Path, "target %q", target)
	}
}

func errorIs(err, target error) bool {
	re, ok := err.(*RequestError)
	return ok && re.Is(target)
}

// checkCanonicalInvariants: the output properties the fuzz target checks.
func checkCanonicalInvariants(t testing.TB, mode Mode, c Canonical) {
	t.Helper()
	p := c.Path
	require.True(t, strings.HasPrefix(p, "/"), "path %q", p)
	for _, bad := range []string{"//", "/./", "/../", "\\", "\x00"} {
		require.NotContains(t, p, bad)
	}
	require.False(t, strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/.."), "path %q", p)
	require.True(t, p == "/" || !strings.HasSuffix(p, "/"), "trailing slash in %q", p)
	switch mode {
	case ModeStrict:
		require.NotContains(t, strings.ToUpper(p), "%2F")
		dec, err := url.PathUnescape(p)
		require.NoError(t, err)
		require.Equal(t, dec, c.Decoded)
		again, err := Canonicalize(p, ModeStrict, Limits{})
		require.NoError(t, err, "idempotence")
		require.Equal(t, p, again.Path, "idempotence")
		u := &url.URL{}
		c.Apply(u)
		require.Equal(t, p, u.EscapedPath(), "Apply must make Go see the canonical escaped path")
	case ModeKeycloak:
		require.Equal(t, p, c.Decoded)
		require.Empty(t, c.RawPath)
		esc := (&url.URL{Path: p}).EscapedPath()
		require.NotContains(t, strings.ToUpper(esc), "%2F")
		again, err := Canonicalize(esc, ModeKeycloak, Limits{})
		if err != nil && errorIs(err, ErrTooLong) && len(esc) > len(c.Raw) {
			// Keycloak mode accepts raw '{' and '}', and escaping the decoded
			// output can push it past the byte limit: too long, not a
			// different path.
			return
		}
		require.NoError(t, err, "idempotence of %q", esc)
		require.Equal(t, p, again.Path, "idempotence")
	}
}

func TestCanonicalizeOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		target                      string
		mode                        Mode
		path, decoded, rawPath, raw string
	}{
		{name: "plain", target: "/a/b?q=1", path: "/a/b", decoded: "/a/b", raw: "/a/b"},
		{name: "reserved kept, Go escapes the same", target: "/files/a%3fb", path: "/files/a%3Fb", decoded: "/files/a?b", raw: "/files/a%3fb"},
		{name: "at sign kept encoded needs RawPath", target: "/a%40b", path: "/a%40b", decoded: "/a@b", rawPath: "/a%40b", raw: "/a%40b"},
		{name: "star needs RawPath", target: "/a*b/", path: "/a*b", decoded: "/a*b", rawPath: "/a*b", raw: "/a*b/"},
		{name: "unreserved decoded", target: "/%61/", path: "/a", decoded: "/a", raw: "/%61/"},
		{name: "keycloak decoded", target: "/a%20b;x/../c#f", mode: ModeKeycloak, path: "/c", decoded: "/c", raw: "/a%20b;x/../c"},
		{name: "keycloak space", target: "/a%20b", mode: ModeKeycloak, path: "/a b", decoded: "/a b", raw: "/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Canonicalize(tt.target, tt.mode, Limits{})
			require.NoError(t, err)
			assert.Equal(t, Canonical{Path: tt.path, Decoded: tt.decoded, RawPath: tt.rawPath, Raw: tt.raw}, c)
		})
	}
}

func TestCanonicalizeLimits(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxPathBytes: 10, MaxSegments: 2}
	_, err := Canonicalize("/abcdefghij", ModeStrict, lim)
	require.ErrorIs(t, err, ErrTooLong)
	_, err = Canonicalize("/a/b/c", ModeKeycloak, lim)
	require.ErrorIs(t, err, ErrTooLong)
	c, err := Canonicalize("/a/b?"+strings.Repeat("q", 100), ModeStrict, lim)
	require.NoError(t, err, "the query does not count")
	assert.Equal(t, "/a/b", c.Path)
	// A too-long path is reported as such even when it is also malformed.
	_, err = Canonicalize("/"+strings.Repeat("%", 9000), ModeStrict, Limits{})
	require.ErrorIs(t, err, ErrTooLong)
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Mode{"": ModeStrict, "strict": ModeStrict, "keycloak": ModeKeycloak} {
		got, err := ParseMode(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		if in != "" {
			assert.Equal(t, in, got.String())
		}
	}
	_, err := ParseMode("Keycloak")
	require.Error(t, err)
}

func TestCanonicalizeZeroAllocs(t *testing.T) {
	for _, mode := range []Mode{ModeStrict, ModeKeycloak} {
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = Canonicalize("/api/v1/orders/12345/items?x=1", mode, Limits{})
			_, _ = Canonicalize("/api/v1/orders/12345/items/", mode, Limits{})
			_, _ = Canonicalize("/api/../x", ModeStrict, Limits{}) // rejection
		})
		assert.Zero(t, allocs, mode.String())
	}
}
