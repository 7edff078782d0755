package enforcer

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statusFor is the one place where a decision becomes an HTTP status
// (STYLE §3, security.md's response contract). redirect selects the 302 of
// on-deny-redirect-to for the denials Keycloak redirects.
func statusFor(r Reason, redirect bool) int {
	switch r {
	case ReasonAllowed, ReasonEnforcementDisabled, ReasonPathDisabled, ReasonPermissive,
		ReasonDenyPage, ReasonScopesDisabled:
		return http.StatusOK
	case ReasonNoToken, ReasonInvalidToken, ReasonUMAChallenge:
		return http.StatusUnauthorized
	case ReasonUnmappedPath:
		if redirect {
			return http.StatusFound
		}
		return http.StatusForbidden
	case ReasonForbidden:
		return http.StatusForbidden
	case ReasonInvalidRequest, ReasonBadRequest:
		return http.StatusBadRequest
	case ReasonPathTooLong:
		return http.StatusRequestURITooLong
	case ReasonMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonUnavailable:
		return http.StatusServiceUnavailable
	default: // policy_error, internal_error, anything unknown: fail closed
		return http.StatusInternalServerError
	}
}

// quoteParam renders an RFC 9110 quoted-string (realm values come from
// configuration, which forbids control characters).
func quoteParam(v string) string {
	if !strings.ContainsAny(v, `"\`) {
		return `"` + v + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// bearerChallenges precomputes the RFC 6750 challenges for a realm. No
// error_description is ever sent (I1): every token failure looks the same.
func bearerChallenges(realm string) (plain, invalidToken, invalidRequest, insufficient string) {
	base := "Bearer"
	if realm != "" {
		base += " realm=" + quoteParam(realm)
		plain = base
		return plain, base + `, error="invalid_token"`, base + `, error="invalid_request"`, base + `, error="insufficient_scope"`
	}
	return base, base + ` error="invalid_token"`, base + ` error="invalid_request"`, base + ` error="insufficient_scope"`
}

// defaultDeny writes a denial: the decision's status and headers and a
// generic body (the status text). Nothing from the request, the token, the
// policies or the authorization server is echoed (I1, I2, I8).
type defaultDeny struct{}

func (defaultDeny) ServeDenial(w http.ResponseWriter, _ *http.Request, d Decision) {
	writeDenial(w, d)
}

// writeDenial is the default rendering of a denial, usable by custom deny
// handlers through [WriteDenial].
func writeDenial(w http.ResponseWriter, d Decision) {
	h := w.Header()
	if d.Challenge != "" {
		h.Set("WWW-Authenticate", d.Challenge)
	}
	if d.Allow != "" {
		h.Set("Allow", d.Allow)
	}
	if d.Status == http.StatusServiceUnavailable {
		secs := int64((d.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	h.Set("Cache-Control", "no-store")
	status := d.Status
	if status < 300 {
		status = http.StatusForbidden // a denial never answers 2xx
	}
	if status == http.StatusFound {
		if d.Location == "" {
			status = http.StatusForbidden
		} else {
			h.Set("Location", d.Location)
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}

// WriteDenial writes d the way the default deny handler does. Custom deny
// handlers can call it after adding their own headers.
func WriteDenial(w http.ResponseWriter, d Decision) { writeDenial(w, d) }
