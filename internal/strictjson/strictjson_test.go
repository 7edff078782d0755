package strictjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]any
		wantErr error
	}{
		{name: "empty object", in: `{}`, want: map[string]any{}},
		{name: "whitespace", in: " \t\r\n{ \"a\" : 1 } \n", want: map[string]any{"a": json.Number("1")}},
		{name: "all types", in: `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,"b",[]],"o":{"k":{}}}`,
			want: map[string]any{"s": "x", "n": json.Number("-1.5e3"), "t": true, "f": false, "z": nil,
				"a": []any{json.Number("1"), "b", []any{}}, "o": map[string]any{"k": map[string]any{}}}},
		{name: "escapes", in: `{"e":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, want: map[string]any{"e": "a\"\\/\b\f\n\r\té😀"}},
		{name: "utf8 raw", in: `{"é":"ü"}`, want: map[string]any{"é": "ü"}},
		{name: "same key in different objects", in: `{"a":{"a":1},"b":{"a":2}}`, want: map[string]any{
			"a": map[string]any{"a": json.Number("1")}, "b": map[string]any{"a": json.Number("2")}}},

		{name: "duplicate", in: `{"aud":"evil","aud":"svc"}`, wantErr: ErrDuplicateKey},
		{name: "duplicate alg", in: `{"alg":"RS256","alg":"none"}`, wantErr: ErrDuplicateKey},
		{name: "case variant", in: `{"aud":"svc","AUD":"evil"}`, wantErr: ErrDuplicateKey},
		{name: "escaped duplicate", in: `{"aud":1,"\u0061ud":2}`, wantErr: ErrDuplicateKey},
		{name: "nested duplicate", in: `{"a":[{"x":1,"X":2}]}`, wantErr: ErrDuplicateKey},
		{name: "kelvin sign variant", in: `{"k":1,"\u212a":2}`, wantErr: ErrDuplicateKey},
		{name: "BOM", in: "\xef\xbb\xbf{}", wantErr: ErrUTF8},
		{name: "invalid utf8 in string", in: "{\"a\":\"\xff\"}", wantErr: ErrUTF8},
		{name: "overlong utf8", in: "{\"a\":\"\xc0\xae\"}", wantErr: ErrUTF8},
		{name: "lone high surrogate", in: `{"a":"\ud800"}`, wantErr: ErrUTF8},
		{name: "lone low surrogate", in: `{"a":"\udc00"}`, wantErr: ErrUTF8},
		{name: "array root", in: `[]`, wantErr: ErrNotObject},
		{name: "null root", in: `null`, wantErr: ErrNotObject},
		{name: "string root", in: `"s"`, wantErr: ErrNotObject},
		{name: "number root", in: `1`, wantErr: ErrNotObject},
		{name: "empty", in: ``, wantErr: ErrNotObject},
		{name: "trailing", in: `{}{}`, wantErr: ErrTrailingData},
		{name: "trailing garbage", in: `{} x`, wantErr: ErrTrailingData},
		{name: "deep arrays", in: `{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, wantErr: ErrDepth},
		{name: "deep objects", in: strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), wantErr: ErrDepth},
		{name: "control char", in: "{\"a\":\"\x01\"}", wantErr: ErrSyntax},
		{name: "bad escape", in: `{"a":"\x"}`, wantErr: ErrSyntax},
		{name: "short unicode", in: `{"a":"\u12"}`, wantErr: ErrSyntax},
		{name: "leading zero", in: `{"a":01}`, wantErr: ErrSyntax},
		{name: "bare minus", in: `{"a":-}`, wantErr: ErrSyntax},
		{name: "dot no digits", in: `{"a":1.}`, wantErr: ErrSyntax},
		{name: "exp no digits", in: `{"a":1e}`, wantErr: ErrSyntax},
		{name: "trailing comma", in: `{"a":1,}`, wantErr: ErrSyntax},
		{name: "array trailing comma", in: `{"a":[1,]}`, wantErr: ErrSyntax},
		{name: "unquoted key", in: `{a:1}`, wantErr: ErrSyntax},
		{name: "single quotes", in: `{'a':1}`, wantErr: ErrSyntax},
		{name: "unterminated", in: `{"a":"b`, wantErr: ErrSyntax},
		{name: "NaN", in: `{"a":NaN}`, wantErr: ErrSyntax},
		{name: "truncated true", in: `{"a":tru}`, wantErr: ErrSyntax},
		{name: "non-ascii outside string", in: "{\"a\":1\xa0}", wantErr: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.in))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, ErrInvalid)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeLargeObjectDuplicates(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	ok := b.String() + "}"
	m, err := Decode([]byte(ok))
	require.NoError(t, err)
	assert.Len(t, m, 100)

	_, err = Decode([]byte(b.String() + `,"K` + strings.Repeat("X", 50) + `":2}`))
	require.ErrorIs(t, err, ErrDuplicateKey)
	_, err = Decode([]byte(b.String() + `,"\u212a` + strings.Repeat("x", 70) + `":2}`))
	require.ErrorIs(t, err, ErrDuplicateKey)
}

func TestErrorTextHasNoInput(t *testing.T) {
	t.Parallel()
	_, err := Decode([]byte(`{"secret-token-value":1,"SECRET-TOKEN-VALUE":2}`))
	require.Error(t, err)
	assert.NotContains(t, strings.ToLower(err.Error()), "secret")
}

func TestDepthOption(t *testing.T) {
	t.Parallel()
	_, err := DecodeDepth([]byte(`{"a":{"b":1}}`), 1)
	require.ErrorIs(t, err, ErrDepth)
	_, err = DecodeDepth([]byte(`{"a":{"b":1}}`), 2)
	require.NoError(t, err)
}

// FuzzDecode checks that Decode never panics and that whatever it accepts,
// encoding/json (UseNumber) decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"\u00e9","b":[true,false,null,{"c":-0.5e-3}]}`,
		`{"a":1,"A":2}`, `{"a":"\ud83d\ude00"}`, "\xef\xbb\xbf{}", `[]`, `{"a":[[[[]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data)
		if err != nil {
			if got != nil {
				t.Fatal("value returned with error")
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("strictjson accepted what encoding/json rejects: %v", err)
		}
		if !equalJSON(got, want) {
			t.Fatalf("mismatch: %#v vs %#v", got, want)
		}
	})
}

func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

func BenchmarkDecode(b *testing.B) {
	doc := []byte(`{"exp":1700000300,"iat":1700000000,"jti":"0b7e1e5e-1d9c-4a43-9b8c-6f1f2a3b4c5d","iss":"https://kc.example.com/realms/rptguard","aud":["rptguard-api","account"],"sub":"6f1f2a3b-4c5d-4a43-9b8c-0b7e1e5e1d9c","typ":"Bearer","azp":"web","sid":"abc","scope":"openid profile email","realm_access":{"roles":["user","offline_access"]},"resource_access":{"account":{"roles":["manage-account"]}},"preferred_username":"alice","authorization":{"permissions":[{"rsid":"r1","rsname":"Orders","scopes":["orders:read","orders:write"]},{"rsid":"r2","rsname":"Items","scopes":["items:read"]}]}}`)
	b.Run("strictjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
