package introspection

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rptguard/rptguard/internal/strictjson"
	"github.com/rptguard/rptguard/rpt"
)

// malformed returns an *UnavailableError for a 200 answer that is not a
// well-formed RFC 7662 response. reason is a fixed description; it never
// contains response bytes.
func malformed(status int, backoff time.Duration, reason string) error {
	return &UnavailableError{
		StatusCode: status,
		RetryAfter: backoff,
		Err:        fmt.Errorf("%w: %s", ErrMalformedResponse, reason),
	}
}

// statusError classifies a non-200 answer. The body is never read into the
// error (I8).
func statusError(status int, header http.Header, now time.Time, backoff time.Duration) error {
	ue := &UnavailableError{StatusCode: status, RetryAfter: backoff}
	if ra, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
		ue.RetryAfter = ra
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		ue.Err = ErrClientAuth
	case status >= 300 && status < 400:
		ue.Err = errors.New("introspection: redirect not followed")
	case status == http.StatusTooManyRequests || status >= 500:
		ue.Err = nil
	default:
		ue.Err = errors.New("introspection: unexpected status")
	}
	return ue
}

// invalidClient reports whether an error body is an RFC 6749 §5.2 answer
// with error invalid_client or unauthorized_client. Only the code is read;
// nothing of the body reaches an error or a log line.
func invalidClient(body []byte) bool {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	return e.Error == "invalid_client" || e.Error == "unauthorized_client"
}

// maxRetryAfter caps a server's Retry-After hint.
const maxRetryAfter = time.Hour

// parseRetryAfter reads RFC 9110 §10.2.3 delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

// checkContentType requires application/json (any charset parameter must be
// UTF-8). JWT-secured responses (RFC 9701) are not supported.
func checkContentType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return true
}

// response is the strictly decoded body of a 200 answer.
type response struct {
	active bool
	fields map[string]any
}

// parseBody decodes an introspection response body. "active" must be a JSON
// boolean; anything else (missing, null, "true", 1), invalid or non-strict
// JSON is ErrMalformedResponse — never "inactive".
func parseBody(status int, contentType string, body []byte, backoff time.Duration) (*response, error) {
	if !checkContentType(contentType) {
		return nil, malformed(status, backoff, "content type is not application/json")
	}
	m, err := strictjson.Decode(body)
	if err != nil {
		return nil, malformed(status, backoff, "body is not a strict JSON object")
	}
	active, ok := m["active"].(bool)
	if !ok {
		return nil, malformed(status, backoff, `"active" is missing or not a JSON boolean`)
	}
	return &response{active: active, fields: m}, nil
}

// claimsMap turns an active response into the claim-set shape
// rpt.ClaimsFromMap expects: "active" dropped, the RFC 7662/UMA top-level
// "permissions" moved under "authorization":{"permissions":[…]} (where
// rpt.ClaimsFromMap folds the aliases resource_id and resource_scopes, and
// drops entries whose spellings disagree), and "iss" set to issuer when the
// answer omits it and issuer is not empty. Permissions whose own nbf lies
// after now are dropped. A structurally wrong answer gives an error matching
// ErrMalformedResponse; a refresh or ID token gives rpt.ErrTokenType.
func claimsMap(r *response, issuer string, now time.Time) (map[string]any, error) {
	out := make(map[string]any, len(r.fields)+1)
	for k, v := range r.fields {
		switch k {
		case "active", "permissions":
		default:
			out[k] = v
		}
	}
	if raw, ok := r.fields["permissions"]; ok {
		perms, err := normalizePermissions(raw, now)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrMalformedResponse, err.Error())
		}
		out["authorization"] = map[string]any{"permissions": perms}
	}
	if _, ok := out["iss"]; !ok && issuer != "" {
		out["iss"] = issuer
	}
	// Keycloak adds token_type to full introspection responses; a refresh or
	// ID token must not pass for an access token (D3), nor a DPoP-bound one
	// for a bearer token (RFC 9449 §7.1).
	if tt, ok := out["token_type"]; ok {
		s, isString := tt.(string)
		if !isString || !strings.EqualFold(s, "Bearer") {
			return nil, fmt.Errorf("%w: introspected token_type is not Bearer", rpt.ErrTokenType)
		}
	}
	return out, nil
}

// normalizePermissions checks the permissions array's shape, maps the old
// "resource_name" alias to "rsname", and drops entries not valid yet.
func normalizePermissions(raw any, now time.Time) ([]any, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New(`"permissions" is not an array`)
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		p, ok := item.(map[string]any)
		if !ok {
			return nil, errors.New("a permission is not an object")
		}
		if v, ok := p["nbf"]; ok {
			nbf, err := numericDate(v)
			if err != nil {
				return nil, errors.New("a permission's nbf is not a number")
			}
			if nbf.After(now) {
				continue
			}
		}
		if name, ok := p["resource_name"]; ok {
			if _, has := p["rsname"]; !has {
				p = maps.Clone(p)
				p["rsname"] = name
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// numericDate reads an RFC 7519 NumericDate decoded by strictjson.
func numericDate(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, errors.New("not a number")
	}
	f, err := n.Float64()
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return time.Time{}, err
	}
	const limit = 1e11 // ±3000 years: keeps the conversion exact and in range
	f = max(min(f, limit), -limit)
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}
