package enforcer

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtractBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []string
		query   string
		want    string
		wantErr error
	}{
		{"none", nil, "", "", nil},
		{"bearer", []string{"Bearer abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"case-insensitive scheme", []string{"bEaReR abc"}, "", "abc", nil},
		{"several spaces", []string{"Bearer   abc"}, "", "abc", nil},
		{"padding", []string{"Bearer abc=="}, "", "abc==", nil},
		{"padding in the middle", []string{"Bearer ab=c"}, "", "", errAmbiguousCredentials},
		{"only padding", []string{"Bearer =="}, "", "", errAmbiguousCredentials},
		{"two headers", []string{"Bearer a", "Bearer a"}, "", "", errAmbiguousCredentials},
		{"empty", []string{"Bearer"}, "", "", errAmbiguousCredentials},
		{"spaces only", []string{"Bearer   "}, "", "", errAmbiguousCredentials},
		{"two words", []string{"Bearer a b"}, "", "", errAmbiguousCredentials},
		{"tab", []string{"Bearer\ta"}, "", "", errAmbiguousCredentials},
		{"other scheme", []string{"Basic abc"}, "", "", nil},
		{"scheme prefix", []string{"Bearerx abc"}, "", "", nil},
		{"query too", []string{"Bearer a"}, "x=1&access_token=a", "", errAmbiguousCredentials},
		{"encoded query key", []string{"Bearer a"}, "access%5Ftoken=a", "", errAmbiguousCredentials},
		{"broken encoded key fails closed", []string{"Bearer a"}, "%zz=1", "", errAmbiguousCredentials},
		{"query only", nil, "access_token=a", "", nil},
		{"too large", []string{"Bearer " + strings.Repeat("a", 2000)}, "", "", errTokenTooLarge},
		{"control char", []string{"Bearer a\x00b"}, "", "", errAmbiguousCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add("Authorization", v)
			}
			got, err := extractBearer(h, tt.query, 1024)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestStatusFor(t *testing.T) {
	t.Parallel()
	for r, want := range map[Reason]int{
		ReasonAllowed: 200, ReasonNoToken: 401, ReasonInvalidToken: 401, ReasonUMAChallenge: 401,
		ReasonForbidden: 403, ReasonUnmappedPath: 403, ReasonInvalidRequest: 400, ReasonBadRequest: 400,
		ReasonPathTooLong: 414, ReasonMethodNotAllowed: 405, ReasonBodyTooLarge: 413,
		ReasonUnavailable: 503, ReasonPolicyError: 500, ReasonInternalError: 500, Reason("unknown"): 500,
	} {
		assert.Equal(t, want, statusFor(r, false), r)
	}
	assert.Equal(t, 302, statusFor(ReasonUnmappedPath, true))
	assert.Equal(t, 403, statusFor(ReasonForbidden, true))
}

func TestBearerChallenges(t *testing.T) {
	t.Parallel()
	p, it, ir, is := bearerChallenges(`a"b`)
	assert.Equal(t, `Bearer realm="a\"b"`, p)
	assert.Equal(t, `Bearer realm="a\"b", error="invalid_token"`, it)
	assert.Equal(t, `Bearer realm="a\"b", error="invalid_request"`, ir)
	assert.Equal(t, `Bearer realm="a\"b", error="insufficient_scope"`, is)
	p, it, _, _ = bearerChallenges("")
	assert.Equal(t, "Bearer", p)
	assert.Equal(t, `Bearer error="invalid_token"`, it)
}

// FuzzExtractBearer: no panic, and a returned token is always a clean
// b64token within the cap taken from the single header (never from the query).
func FuzzExtractBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer", "Bearer a b", "Basic x", "Bearer ==", "Bearer a=="} {
		f.Add(s, "", false)
	}
	f.Add("Bearer a", "access_token=a", false)
	f.Add("Bearer a", "", true)
	f.Fuzz(func(t *testing.T, header, query string, twice bool) {
		h := http.Header{"Authorization": {header}}
		if twice {
			h.Add("Authorization", header)
		}
		tok, err := extractBearer(h, query, 64)
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			return
		}
		if tok == "" {
			return
		}
		if twice || len(tok) > 64 || !strings.HasSuffix(header, tok) || strings.ContainsAny(tok, " \t\r\n\x00") {
			t.Fatalf("bad token %q from %q", tok, header)
		}
		if hasQueryKey(query, accessTokenParam) {
			t.Fatal("token accepted next to an access_token parameter")
		}
	})
}
