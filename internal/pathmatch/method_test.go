package pathmatch

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		method  string
		wantErr error
	}{
		{name: "GET", method: "GET"},
		{name: "PROPFIND (valid, unmapped is the enforcer's 405)", method: "PROPFIND"},
		{name: "hyphen", method: "M-SEARCH"},
		{name: "F22 lower", method: "get", wantErr: ErrBadRequest},
		{name: "F22 mixed", method: "Get", wantErr: ErrBadRequest},
		{name: "F22 illegal token char", method: "GE T", wantErr: ErrBadRequest},
		{name: "F22 separator", method: "GET/", wantErr: ErrBadRequest},
		{name: "empty", method: "", wantErr: ErrBadRequest},
		{name: "no letter", method: "123", wantErr: ErrBadRequest},
		{name: "too long", method: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantErr: ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckMethod(tt.method)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestEffectiveMethod(t *testing.T) {
	t.Parallel()
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name     string
		method   string
		header   http.Header
		query    string
		allow    bool
		want     string
		wantErr  error
		override bool
	}{
		{name: "plain", method: "POST", want: "POST"},
		{name: "F23 HEAD as GET", method: "HEAD", want: "GET"},
		{name: "F22 lower-case", method: "get", wantErr: ErrBadRequest},
		{name: "F21 X-HTTP-Method-Override", method: "POST", header: hdr("X-HTTP-Method-Override", "DELETE"), wantErr: ErrBadRequest, override: true},
		{name: "F21 X-HTTP-Method", method: "POST", header: hdr("X-HTTP-Method", "DELETE"), wantErr: ErrBadRequest, override: true},
		{name: "F21 X-Method-Override", method: "POST", header: hdr("X-Method-Override", "DELETE"), wantErr: ErrBadRequest, override: true},
		{name: "F21 empty header counts", method: "POST", header: hdr("X-Method-Override", ""), wantErr: ErrBadRequest, override: true},
		{name: "F21 _method query", method: "POST", query: "a=1&_method=DELETE", wantErr: ErrBadRequest, override: true},
		{name: "F21 encoded _method key", method: "POST", query: "%5Fmethod=DELETE", wantErr: ErrBadRequest, override: true},
		{name: "other query", method: "POST", query: "method=DELETE&x_method=1", want: "POST"},
		{name: "override allowed", method: "POST", header: hdr("X-HTTP-Method-Override", "DELETE"), allow: true, want: "DELETE", override: true},
		{name: "override allowed, query", method: "POST", query: "_method=PUT", allow: true, want: "PUT", override: true},
		{name: "override allowed, HEAD as GET", method: "POST", query: "_method=HEAD", allow: true, want: "GET", override: true},
		{name: "override allowed, agreeing", method: "POST", header: hdr("X-HTTP-Method", "PUT"), query: "_method=PUT", allow: true, want: "PUT", override: true},
		{name: "override allowed, conflicting", method: "POST", header: hdr("X-HTTP-Method", "PUT"), query: "_method=DELETE", allow: true, wantErr: ErrBadRequest, override: true},
		{name: "override allowed, malformed", method: "POST", header: hdr("X-HTTP-Method", "delete"), allow: true, wantErr: ErrBadRequest, override: true},
		{name: "override allowed, empty", method: "POST", header: hdr("X-HTTP-Method", ""), allow: true, wantErr: ErrBadRequest, override: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			assert.Equal(t, tt.override, HasMethodOverride(h, tt.query))
			got, err := EffectiveMethod(tt.method, h, tt.query, tt.allow)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), "DELETE")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
