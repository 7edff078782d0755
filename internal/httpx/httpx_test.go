package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-resty/resty/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		raw      string
		insecure bool
		wantErr  error
	}{
		{name: "https", raw: "https://kc.example.com/realms/x"},
		{name: "http refused", raw: "http://kc.example.com/realms/x", wantErr: ErrInsecureURL},
		{name: "http allowed", raw: "http://127.0.0.1:8080/realms/x", insecure: true},
		{name: "credentials", raw: "https://id:secret@kc.example.com/", wantErr: ErrInsecureURL},
		{name: "relative", raw: "/realms/x", wantErr: ErrInsecureURL},
		{name: "opaque", raw: "https:kc.example.com", wantErr: ErrInsecureURL},
		{name: "fragment", raw: "https://kc.example.com/#x", wantErr: ErrInsecureURL},
		{name: "ftp", raw: "ftp://kc.example.com/", insecure: true, wantErr: ErrInsecureURL},
		{name: "garbage", raw: "https://[::1", wantErr: ErrInsecureURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := CheckURL(tt.raw, tt.insecure)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, u)
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "https://h/p", Redact("https://id:secret@h/p?token=abc#f"))
	assert.Equal(t, "<invalid URL>", Redact("https://[::1"))
	assert.Equal(t, `GET "https://h/p" failed`, RedactText(`GET "https://u:pw@h/p?access_token=x" failed`))
}

func TestNoRedirectAndScrub(t *testing.T) {
	t.Parallel()
	var hitsTarget int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hitsTarget++ }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()

	hc := NewClient()
	_, err := hc.Get(srv.URL + "/x?secret=1")
	require.ErrorIs(t, err, ErrRedirect)
	scrubbed := ScrubError(err)
	require.ErrorIs(t, scrubbed, ErrRedirect)
	ue := &url.Error{Op: "Get", URL: "https://id:pw@h/x?secret=1", Err: context.Canceled}
	scrubbed = ScrubError(ue)
	require.ErrorIs(t, scrubbed, context.Canceled)
	assert.NotContains(t, scrubbed.Error(), "secret")
	assert.NotContains(t, scrubbed.Error(), "pw")

	// resty on a caller client that would follow redirects: the copy does not.
	caller := &http.Client{}
	r := NewResty(caller)
	_, err = r.R().SetContext(context.Background()).Get(srv.URL)
	require.ErrorIs(t, err, ErrRedirect)
	assert.Nil(t, caller.CheckRedirect, "caller's client must not be modified")
	assert.Nil(t, caller.Transport)
	assert.Zero(t, hitsTarget)
}

func TestRestyBodyCap(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("a", 2048)))
	}))
	defer srv.Close()
	r := NewResty(srv.Client(), WithMaxBody(1024))
	_, err := r.R().Get(srv.URL)
	require.ErrorIs(t, err, resty.ErrResponseBodyTooLarge)

	r = NewResty(nil)
	resp, err := r.R().Get(srv.URL)
	require.NoError(t, err)
	assert.Len(t, resp.Body(), 2048)
}

func TestReadLimited(t *testing.T) {
	t.Parallel()
	b, err := ReadLimited(strings.NewReader("abcd"), 4)
	require.NoError(t, err)
	assert.Equal(t, "abcd", string(b))
	_, err = ReadLimited(strings.NewReader("abcde"), 4)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.NoError(t, ScrubError(nil))
	plain := errors.New("x")
	assert.Equal(t, plain, ScrubError(plain))
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c := NewClient()
	assert.Equal(t, TotalTimeout, c.Timeout)
	assert.Nil(t, c.Jar)
	tr := c.Transport.(*http.Transport)
	assert.Equal(t, TLSHandshakeTimeout, tr.TLSHandshakeTimeout)
}
