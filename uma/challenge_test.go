package uma

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		realm, asURI, ticket string
		want                 string
		wantErr              error
	}{
		{name: "keycloak format", realm: "photoz", asURI: "https://kc/realms/photoz", ticket: "eyJ.a.b",
			want: `UMA realm="photoz",as_uri="https://kc/realms/photoz",ticket="eyJ.a.b"`},
		{name: "empty realm", realm: "", asURI: "https://kc/r", ticket: "t", want: `UMA realm="",as_uri="https://kc/r",ticket="t"`},
		{name: "quote and backslash escaped", realm: `a"b\c`, asURI: "https://kc/r", ticket: "t",
			want: `UMA realm="a\"b\\c",as_uri="https://kc/r",ticket="t"`},
		{name: "tab kept", realm: "a\tb", asURI: "https://kc/r", ticket: "t", want: "UMA realm=\"a\tb\",as_uri=\"https://kc/r\",ticket=\"t\""},
		{name: "CR refused", realm: "a\r\nX-Evil: 1", asURI: "https://kc/r", ticket: "t", wantErr: ErrInvalidRequest},
		{name: "NUL refused", realm: "r", asURI: "https://kc/r", ticket: "t\x00", wantErr: ErrInvalidRequest},
		{name: "DEL refused", realm: "r", asURI: "https://kc/r\x7f", ticket: "t", wantErr: ErrInvalidRequest},
		{name: "no ticket", realm: "r", asURI: "https://kc/r", wantErr: ErrInvalidRequest},
		{name: "no as_uri", realm: "r", ticket: "t", wantErr: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildChallenge(tt.realm, tt.asURI, tt.ticket)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			ch, err := ParseChallenge(got)
			require.NoError(t, err)
			assert.Equal(t, Challenge{Realm: tt.realm, ASURI: tt.asURI, Ticket: tt.ticket}, ch)
		})
	}
}

func TestParseChallenge(t *testing.T) {
	t.Parallel()
	uma := Challenge{Realm: "r", ASURI: "https://kc/realms/r", Ticket: "tk"}
	tests := []struct {
		name    string
		header  string
		want    Challenge
		wantErr error
	}{
		{name: "keycloak", header: `UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`, want: uma},
		{name: "spaces and case", header: `uma   Realm = "r" ,  AS_URI="https://kc/realms/r",	ticket=tk`, want: uma},
		{name: "no realm", header: `UMA as_uri="https://kc/realms/r", ticket="tk"`, want: Challenge{ASURI: "https://kc/realms/r", Ticket: "tk"}},
		{name: "escapes", header: `UMA realm="a\"b\\c\d",as_uri="https://kc/realms/r",ticket="tk"`,
			want: Challenge{Realm: `a"b\cd`, ASURI: "https://kc/realms/r", Ticket: "tk"}},
		{name: "after bearer", header: `Bearer realm="api", error="invalid_token", UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`, want: uma},
		{name: "before bearer", header: `UMA realm="r",as_uri="https://kc/realms/r",ticket="tk", Bearer realm="api"`, want: uma},
		{name: "after token68 scheme", header: `Negotiate abc+/==, UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`, want: uma},
		{name: "after bare scheme", header: `Basic, UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`, want: uma},
		{name: "empty list elements", header: `, ,UMA realm="r",,as_uri="https://kc/realms/r", ,ticket="tk",,`, want: uma},
		{name: "unknown param kept out", header: `UMA realm="r",as_uri="https://kc/realms/r",ticket="tk",x=y`, want: uma},
		{name: "empty", header: ``, wantErr: ErrMalformedChallenge},
		{name: "bearer only", header: `Bearer realm="api"`, wantErr: ErrMalformedChallenge},
		{name: "duplicate ticket", header: `UMA as_uri="https://kc/realms/r",ticket="a",ticket="b"`, wantErr: ErrMalformedChallenge},
		{name: "duplicate case-insensitive", header: `UMA as_uri="https://kc/realms/r",ticket="a",TICKET="b"`, wantErr: ErrMalformedChallenge},
		{name: "two UMA challenges", header: `UMA as_uri="https://a/r",ticket="a", UMA as_uri="https://b/r",ticket="b"`, wantErr: ErrMalformedChallenge},
		{name: "token68", header: `UMA dGlja2V0==`, wantErr: ErrMalformedChallenge},
		{name: "token68 single pad", header: `UMA abc=`, wantErr: ErrMalformedChallenge},
		{name: "missing ticket", header: `UMA realm="r",as_uri="https://kc/realms/r"`, wantErr: ErrMalformedChallenge},
		{name: "empty ticket", header: `UMA as_uri="https://kc/realms/r",ticket=""`, wantErr: ErrMalformedChallenge},
		{name: "missing as_uri", header: `UMA realm="r",ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "relative as_uri", header: `UMA as_uri="/realms/r",ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "javascript as_uri", header: `UMA as_uri="javascript:alert(1)",ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "userinfo as_uri", header: `UMA as_uri="https://u:p@kc/r",ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "unterminated quote", header: `UMA as_uri="https://kc/r,ticket="t`, wantErr: ErrMalformedChallenge},
		{name: "dangling escape", header: `UMA as_uri="https://kc/r",ticket="t\`, wantErr: ErrMalformedChallenge},
		{name: "control char in quoted", header: "UMA as_uri=\"https://kc/r\",ticket=\"t\x01\"", wantErr: ErrMalformedChallenge},
		{name: "missing value", header: `UMA as_uri=,ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "no separator", header: `UMA as_uri="https://kc/r"ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "no space after scheme", header: `UMA,ticket="t"`, wantErr: ErrMalformedChallenge},
		{name: "junk", header: `"UMA"`, wantErr: ErrMalformedChallenge},
		{name: "too long", header: `UMA as_uri="https://kc/r",ticket="` + strings.Repeat("a", MaxChallengeLength) + `"`, wantErr: ErrMalformedChallenge},
		{name: "too many params", header: `UMA as_uri="https://kc/r",ticket="t"` + strings.Repeat(`,a=b`, 100), wantErr: ErrMalformedChallenge},
		{name: "too many challenges", header: strings.Repeat(`A, `, 100) + `UMA as_uri="https://kc/r",ticket="t"`, wantErr: ErrMalformedChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseChallenge(tt.header)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, Challenge{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`)
	f.Add(`Bearer realm="api", error="invalid_token", UMA realm="r",as_uri="https://kc/realms/r",ticket="tk"`)
	f.Add(`Negotiate abc==, UMA as_uri=https://kc/r, ticket=t`)
	f.Add(`UMA realm="a\"b\\",as_uri="http://x/y",ticket="t"`)
	f.Fuzz(func(t *testing.T, header string) {
		ch, err := ParseChallenge(header)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedChallenge)
			require.Equal(t, Challenge{}, ch)
			return
		}
		require.NotEmpty(t, ch.Ticket)
		require.NotEmpty(t, ch.ASURI)
		// Whatever parsed must rebuild and re-parse to the same values.
		built, err := BuildChallenge(ch.Realm, ch.ASURI, ch.Ticket)
		require.NoError(t, err)
		again, err := ParseChallenge(built)
		require.NoError(t, err)
		require.Equal(t, ch, again)
	})
}

func FuzzBuildChallengeRoundTrip(f *testing.F) {
	f.Add("photoz", "https://kc/realms/photoz", "eyJ.a.b")
	f.Add(`a"b\c`, "https://kc/r", "t,icket=\"x\"")
	f.Add("", "http://127.0.0.1:8080/realms/x", "UMA realm=")
	f.Fuzz(func(t *testing.T, realm, asURI, ticket string) {
		h, err := BuildChallenge(realm, asURI, ticket)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidRequest)
			return
		}
		require.False(t, strings.ContainsAny(h, "\r\n\x00"))
		ch, err := ParseChallenge(h)
		if err != nil {
			// Only an as_uri that is not an absolute http(s) URI, or an
			// oversized value, may fail to parse back.
			require.ErrorIs(t, err, ErrMalformedChallenge)
			return
		}
		require.Equal(t, Challenge{Realm: realm, ASURI: asURI, Ticket: ticket}, ch)
	})
}
