package rpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rptguard/rptguard/internal/strictjson"
)

// MaxPermissions is the largest number of entries accepted in
// authorization.permissions (security catalogue B16). A token with more is
// rejected with [ErrClaims].
const MaxPermissions = 1000

// maxNumericDate bounds NumericDate values (9999-12-31T23:59:59Z) so that
// huge exp/iat values (1e300, MaxInt64; catalogue B7) stay representable and
// never overflow time arithmetic. Bounded values still fail the lifetime
// check in [ClaimRules.Validate].
const maxNumericDate = 253402300799

// ParseClaims strictly decodes a JWT claim set (the base64url-decoded
// payload) and converts it with [ClaimsFromMap]. Invalid UTF-8, a BOM, a
// non-object root, duplicate or case-variant member names, excessive nesting
// and trailing data give [ErrMalformed].
//
// ParseClaims checks types only; it does not check times, issuer or
// audience (see [ClaimRules.Validate]) and it does not verify a signature.
func ParseClaims(payload []byte) (*Claims, error) {
	m, err := strictjson.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	return ClaimsFromMap(m)
}

func parseClaimsString(payload string) (*Claims, error) {
	m, err := strictjson.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	return ClaimsFromMap(m)
}

// ClaimsFromMap builds *Claims from a claim set that was already decoded
// strictly (map[string]any with numbers as json.Number, as produced by
// rptguard's strict decoder; float64 numbers are accepted too). m becomes
// Claims.Raw and must not be modified afterwards.
//
// Type rules (security catalogue B6, B10, B16, B21):
//   - exp, iat, nbf: JSON numbers (NumericDate) only; a string, bool, null,
//     array or object gives [ErrMalformed]. Values are clamped to years
//     0001..9999 so huge values cannot overflow; negative or zero exp is
//     simply expired.
//   - iss, sub, jti, typ, azp, sid: strings; another type gives ErrMalformed.
//   - aud: a non-empty string or a non-empty array of non-empty strings;
//     anything else (including "", [], [""], [1]) gives ErrMalformed.
//   - scope, preferred_username, realm_access.roles,
//     resource_access.<client>.roles, groups: a wrong type is treated as
//     absent (no scopes, no roles); non-string list entries are dropped.
//   - authorization: an object; any other non-null value yields an empty
//     Authorization (an RPT with no permissions). authorization.permissions
//     must be an array of at most [MaxPermissions] entries (more gives
//     [ErrClaims]); an entry that is null, not an object, or has a
//     wrong-typed rsid/rsname/resource_id/scopes/resource_scopes/claims/exp
//     is dropped, so it grants nothing. Entries with neither a resource id
//     nor scopes are dropped too.
//
// Contract for RFC 7662 introspection responses: the caller maps the
// response's top-level "permissions" array into
// {"authorization":{"permissions":[…]}} before calling ClaimsFromMap. The
// UMA aliases resource_id and resource_scopes are folded into rsid and
// scopes; when both spellings are present they must agree (as sets for
// scopes), else the entry is dropped.
func ClaimsFromMap(m map[string]any) (*Claims, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: claims: not an object", ErrMalformed)
	}
	c := &Claims{Raw: m}
	var err error
	strs := [...]struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.ID}, {"typ", &c.Type},
		{"azp", &c.AuthorizedParty}, {"sid", &c.SessionID},
	}
	for _, s := range strs {
		v, ok := m[s.name]
		if !ok {
			continue
		}
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: claim %s has the wrong type", ErrMalformed, s.name)
		}
		*s.dst = str
	}
	if c.ExpiresAt, err = numericDateClaim(m, "exp"); err != nil {
		return nil, err
	}
	if c.IssuedAt, err = numericDateClaim(m, "iat"); err != nil {
		return nil, err
	}
	if c.NotBefore, err = numericDateClaim(m, "nbf"); err != nil {
		return nil, err
	}
	if c.Audience, err = audienceClaim(m); err != nil {
		return nil, err
	}
	c.Scope, _ = m["scope"].(string)
	c.PreferredUsername, _ = m["preferred_username"].(string)
	if ra, ok := m["realm_access"].(map[string]any); ok {
		c.RealmRoles = stringList(ra["roles"])
	}
	if rs, ok := m["resource_access"].(map[string]any); ok {
		for client, v := range rs {
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if roles := stringList(obj["roles"]); len(roles) > 0 {
				if c.ResourceRoles == nil {
					c.ResourceRoles = make(map[string][]string, len(rs))
				}
				c.ResourceRoles[client] = roles
			}
		}
	}
	c.Groups = stringList(m["groups"])
	if v, ok := m["authorization"]; ok && v != nil {
		if c.Authorization, err = authorizationClaim(v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func numericDateClaim(m map[string]any, name string) (time.Time, error) {
	v, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	t, ok := numericDate(v)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: claim %s is not a NumericDate", ErrMalformed, name)
	}
	return t, nil
}

// numericDate converts a JSON number to a time, clamped to ±maxNumericDate
// seconds. Fractions are kept to the nanosecond.
func numericDate(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		s := string(n)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(max(min(i, maxNumericDate), -maxNumericDate), 0).UTC(), true
		}
		var err error
		f, err = strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return time.Time{}, false
		}
	case float64:
		f = n
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) {
		return time.Time{}, false
	}
	f = max(min(f, maxNumericDate), -maxNumericDate)
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

func audienceClaim(m map[string]any) ([]string, error) {
	v, ok := m["aud"]
	if !ok {
		return nil, nil
	}
	switch a := v.(type) {
	case string:
		if a == "" {
			return nil, fmt.Errorf("%w: claim aud is empty", ErrMalformed)
		}
		return []string{a}, nil
	case []any:
		if len(a) == 0 {
			return nil, fmt.Errorf("%w: claim aud is empty", ErrMalformed)
		}
		out := make([]string, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%w: claim aud has a wrong-typed or empty entry", ErrMalformed)
			}
			out[i] = s
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: claim aud has the wrong type", ErrMalformed)
	}
}

// stringList returns the string entries of v if v is an array, else nil.
func stringList(v any) []string {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return nil
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func authorizationClaim(v any) (*Authorization, error) {
	az := &Authorization{}
	obj, ok := v.(map[string]any)
	if !ok {
		return az, nil
	}
	perms, ok := obj["permissions"].([]any)
	if !ok {
		return az, nil
	}
	if len(perms) > MaxPermissions {
		return nil, fmt.Errorf("%w: more than %d permissions", ErrClaims, MaxPermissions)
	}
	az.Permissions = make([]Permission, 0, len(perms))
	for _, e := range perms {
		if p, ok := permissionEntry(e); ok {
			az.Permissions = append(az.Permissions, p)
		}
	}
	return az, nil
}

// optString reads an optional string member; ok is false for a present
// member of another type.
func optString(o map[string]any, name string) (string, bool) {
	v, present := o[name]
	if !present {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// optStrings reads an optional array of strings; ok is false when present
// with another type or with a non-string entry.
func optStrings(o map[string]any, name string) (vals []string, present, ok bool) {
	v, present := o[name]
	if !present {
		return nil, false, true
	}
	a, isArr := v.([]any)
	if !isArr {
		return nil, true, false
	}
	out := make([]string, len(a))
	for i, e := range a {
		s, isStr := e.(string)
		if !isStr {
			return nil, true, false
		}
		out[i] = s
	}
	return out, true, true
}

func permissionEntry(e any) (Permission, bool) {
	o, ok := e.(map[string]any)
	if !ok {
		return Permission{}, false
	}
	var p Permission
	rsid, ok1 := optString(o, "rsid")
	resID, ok2 := optString(o, "resource_id")
	name, ok3 := optString(o, "rsname")
	if !ok1 || !ok2 || !ok3 {
		return Permission{}, false
	}
	switch {
	case rsid != "" && resID != "" && rsid != resID:
		return Permission{}, false
	case rsid != "":
		p.ResourceID = rsid
	default:
		p.ResourceID = resID
	}
	p.ResourceName = name
	scopes, hasScopes, ok1 := optStrings(o, "scopes")
	resScopes, hasResScopes, ok2 := optStrings(o, "resource_scopes")
	if !ok1 || !ok2 {
		return Permission{}, false
	}
	switch {
	case hasScopes && hasResScopes && !sameSet(scopes, resScopes):
		return Permission{}, false
	case hasScopes:
		p.Scopes = scopes
	default:
		p.Scopes = resScopes
	}
	if len(p.Scopes) == 0 {
		p.Scopes = nil
	}
	if v, present := o["claims"]; present {
		co, isObj := v.(map[string]any)
		if !isObj {
			return Permission{}, false
		}
		p.Claims = make(map[string][]string, len(co))
		for k, cv := range co {
			switch x := cv.(type) {
			case string:
				p.Claims[k] = []string{x}
			case []any:
				vals, _, ok := optStrings(co, k)
				if !ok {
					return Permission{}, false
				}
				p.Claims[k] = vals
			default:
				return Permission{}, false
			}
		}
	}
	if v, present := o["exp"]; present {
		t, ok := numericDate(v)
		if !ok {
			return Permission{}, false
		}
		p.ExpiresAt = t
	}
	if p.ResourceID == "" && len(p.Scopes) == 0 {
		return Permission{}, false
	}
	return p, true
}

func sameSet(a, b []string) bool { return containsAll(a, b) && containsAll(b, a) }

func containsAll(a, b []string) bool {
	for _, x := range b {
		found := false
		for _, y := range a {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
