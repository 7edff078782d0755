package pathmatch

import (
	"net/http"
	"net/url"
	"strings"
)

// MethodOverrideHeaders are the request headers some frameworks honour to
// replace the HTTP method (security.md F21). Canonical header-key form.
var MethodOverrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// MethodOverrideParam is the query parameter some frameworks honour to
// replace the HTTP method. Form bodies carrying it are not inspected here.
const MethodOverrideParam = "_method"

// isTchar reports RFC 9110 §5.6.2 tchar.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// CheckMethod validates a request method (security.md §3 step 1): it must be
// a non-empty RFC 9110 token without lower-case letters and at most 32 bytes
// ("GET", "M-SEARCH", "VERSION-CONTROL"). Methods are case-sensitive, so
// "get" is refused rather than folded. Whether a well-formed method is mapped
// (405 + Allow) is the enforcer's business. Errors match [ErrBadRequest].
func CheckMethod(method string) error {
	if len(method) == 0 || len(method) > 32 {
		return errBadMethod
	}
	upper := false
	for i := 0; i < len(method); i++ {
		c := method[i]
		if !isTchar(c) || ('a' <= c && c <= 'z') {
			return errBadMethod
		}
		upper = upper || ('A' <= c && c <= 'Z')
	}
	if !upper {
		return errBadMethod
	}
	return nil
}

// HasMethodOverride reports whether the request carries any method override:
// one of [MethodOverrideHeaders] (even empty) or a [MethodOverrideParam]
// query parameter (key compared after percent-decoding). rawQuery is
// r.URL.RawQuery. It does not allocate unless the query contains an encoded
// key.
func HasMethodOverride(h http.Header, rawQuery string) bool {
	for _, name := range MethodOverrideHeaders {
		if _, ok := h[name]; ok {
			return true
		}
	}
	found := false
	eachQueryParam(rawQuery, func(k, _ string) bool {
		found = k == MethodOverrideParam
		return !found
	})
	return found
}

// eachQueryParam calls f with the decoded key and raw value of every
// '&'-separated parameter until f returns false. Keys that fail to decode are
// passed raw.
func eachQueryParam(q string, f func(key, rawValue string) bool) {
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(part, "=")
		if strings.ContainsAny(k, "%+") {
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
		}
		if !f(k, v) {
			return
		}
	}
}

// EffectiveMethod applies security.md §3 step 1 and returns the method to
// authorize:
//
//   - method must pass [CheckMethod];
//   - if a method override is present and allowOverride is false → error;
//   - if allowOverride is true, every override value (headers and query) must
//     be identical and pass CheckMethod, and it becomes the method;
//   - HEAD is authorized as GET.
//
// Errors match [ErrBadRequest] and never contain header or query values.
// Safe for concurrent use.
func EffectiveMethod(method string, h http.Header, rawQuery string, allowOverride bool) (string, error) {
	if err := CheckMethod(method); err != nil {
		return "", err
	}
	if !HasMethodOverride(h, rawQuery) {
		return headAsGet(method), nil
	}
	if !allowOverride {
		return "", errOverride
	}
	override := ""
	ok := true
	take := func(v string) {
		if CheckMethod(v) != nil || (override != "" && v != override) {
			ok = false
			return
		}
		override = v
	}
	for _, name := range MethodOverrideHeaders {
		for _, v := range h[name] {
			take(strings.TrimSpace(v))
		}
	}
	eachQueryParam(rawQuery, func(k, v string) bool {
		if k == MethodOverrideParam {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				ok = false
				return false
			}
			take(dv)
		}
		return ok
	})
	if !ok || override == "" {
		return "", errBadOverride
	}
	return headAsGet(override), nil
}

func headAsGet(m string) string {
	if m == http.MethodHead {
		return http.MethodGet
	}
	return m
}
