package uma

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rptguard/rptguard/rpt"
)

// Wire constants of the UMA grant (SPEC §5).
const (
	// GrantTypeUMATicket is the UMA grant type.
	GrantTypeUMATicket = "urn:ietf:params:oauth:grant-type:uma-ticket"
	// ClaimTokenFormatJWT is the claim_token_format under which Keycloak
	// decodes claim_token as pushed claims. This package always sends it.
	ClaimTokenFormatJWT = "urn:ietf:params:oauth:token-type:jwt"
)

// Limits on request parameters this package refuses to exceed.
const (
	// MaxClaimTokenBytes caps the encoded claim_token (pushed claims).
	MaxClaimTokenBytes = 32 << 10
	// MaxPermissions caps the permission parameters of one grant request.
	MaxPermissions = 256
)

// Permission is one requested permission of a UMA grant, sent as the
// Keycloak "permission" parameter: "Resource#scope1,scope2", "Resource", or
// "#scope1,scope2" (scopes only). Resource is an id or name (or a URI when
// [GrantRequest.PermissionResourceFormat] is [ResourceFormatURI]).
//
// Keycloak splits the parameter on '#' and the scopes on ',' without
// trimming, so Resource must not contain '#', and a scope must be non-empty
// and contain neither '#' nor ','; such values are refused, never sent
// mangled.
type Permission struct {
	Resource string
	Scopes   []string
}

// String returns the wire form of p (without validation).
func (p Permission) String() string {
	if len(p.Scopes) == 0 {
		return p.Resource
	}
	return p.Resource + "#" + strings.Join(p.Scopes, ",")
}

func (p Permission) validate() error {
	if p.Resource == "" && len(p.Scopes) == 0 {
		return invalidRequest("permission needs a resource or a scope")
	}
	if strings.ContainsRune(p.Resource, '#') || hasCTL(p.Resource) {
		return invalidRequest("permission resource contains '#' or a control character")
	}
	for _, s := range p.Scopes {
		if s == "" || strings.ContainsAny(s, "#,") || hasCTL(s) {
			return invalidRequest("permission scope is empty or contains '#', ',' or a control character")
		}
	}
	return nil
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ResponseMode selects the shape of a successful UMA grant answer.
type ResponseMode string

// Response modes (SPEC §5.2 response_mode).
const (
	// ResponseModeToken (the default, sent as no parameter): an RPT.
	ResponseModeToken ResponseMode = ""
	// ResponseModeDecision: {"result":true}; a denial is a 403 error.
	ResponseModeDecision ResponseMode = "decision"
	// ResponseModePermissions: the granted permissions as a JSON array.
	ResponseModePermissions ResponseMode = "permissions"
)

// ResourceFormat is the permission_resource_format parameter.
type ResourceFormat string

// Resource formats.
const (
	// ResourceFormatID (Keycloak's default): Resource is an id or a name.
	ResourceFormatID ResourceFormat = "id"
	// ResourceFormatURI: Resource is a URI matched against resources' uris.
	ResourceFormatURI ResourceFormat = "uri"
)

// GrantRequest holds every parameter of Keycloak's UMA grant (SPEC §5.2).
// Zero values are not sent unless stated.
type GrantRequest struct {
	// Ticket is a permission ticket from a UMA challenge. Its permissions and
	// claims replace Permissions on the server.
	Ticket string
	// Permissions requested (repeatable "permission" parameter).
	Permissions []Permission
	// Audience is the resource server's client_id. If empty and Ticket is
	// empty, the client's Config.Audience is sent (Keycloak requires an
	// audience without a ticket). The default verifier accepts only RPTs
	// whose aud names Config.Audience: asking for another audience in token
	// mode needs a [Verifier] (WithVerifier) that accepts it.
	Audience string
	// RPT is a previously issued RPT to upgrade (incremental authorization).
	RPT string
	// ClaimToken holds pushed claims. When non-empty it is sent as standard
	// Base64 (padded) JSON with claim_token_format
	// urn:ietf:params:oauth:token-type:jwt (always explicit: without a format
	// Keycloak would treat it as an ID token). Capped at MaxClaimTokenBytes.
	ClaimToken map[string][]string
	// SubjectToken is the requesting party's access token when the client
	// acts on its behalf; the client authenticates itself.
	SubjectToken string
	// BearerToken, if set, is sent as "Authorization: Bearer" and the client
	// does NOT authenticate (this is how public clients obtain RPTs; the
	// token's azp becomes the client). Mutually exclusive with SubjectToken.
	BearerToken string
	// ResponseMode selects the answer's shape; see [Client.Grant].
	ResponseMode ResponseMode
	// ResponseIncludeResourceName, if non-nil, sends
	// response_include_resource_name (server default true).
	ResponseIncludeResourceName *bool
	// ResponsePermissionsLimit, if positive, sends response_permissions_limit.
	ResponsePermissionsLimit int
	// SubmitRequest, if non-nil, sends submit_request (server default true;
	// meaningful only with a Ticket).
	SubmitRequest *bool
	// PermissionResourceFormat, if non-empty, sends permission_resource_format.
	PermissionResourceFormat ResourceFormat
	// PermissionResourceMatchingURI sends permission_resource_matching_uri=true.
	PermissionResourceMatchingURI bool
	// Scope names are sent space-separated as "scope"; each is added to every
	// requested permission by Keycloak.
	Scope []string
}

// form validates r and builds the token-endpoint form. defaultAudience is used
// when neither Audience nor Ticket is set.
func (r *GrantRequest) form(defaultAudience string) (url.Values, error) {
	if r.SubjectToken != "" && r.BearerToken != "" {
		return nil, invalidRequest("SubjectToken and BearerToken are mutually exclusive")
	}
	if len(r.Permissions) > MaxPermissions {
		return nil, invalidRequest("too many permissions")
	}
	f := url.Values{"grant_type": {GrantTypeUMATicket}}
	if r.Ticket != "" {
		f.Set("ticket", r.Ticket)
	}
	for _, p := range r.Permissions {
		if err := p.validate(); err != nil {
			return nil, err
		}
		f.Add("permission", p.String())
	}
	switch {
	case r.Audience != "":
		f.Set("audience", r.Audience)
	case r.Ticket == "" && defaultAudience != "":
		f.Set("audience", defaultAudience)
	}
	if r.RPT != "" {
		f.Set("rpt", r.RPT)
	}
	if len(r.ClaimToken) > 0 {
		ct, err := EncodeClaimToken(r.ClaimToken)
		if err != nil {
			return nil, err
		}
		f.Set("claim_token", ct)
		f.Set("claim_token_format", ClaimTokenFormatJWT)
	}
	if r.SubjectToken != "" {
		f.Set("subject_token", r.SubjectToken)
	}
	switch r.ResponseMode {
	case ResponseModeToken:
	case ResponseModeDecision, ResponseModePermissions:
		f.Set("response_mode", string(r.ResponseMode))
	default:
		return nil, invalidRequest("unknown response mode")
	}
	if r.ResponseIncludeResourceName != nil {
		f.Set("response_include_resource_name", strconv.FormatBool(*r.ResponseIncludeResourceName))
	}
	if r.ResponsePermissionsLimit < 0 {
		return nil, invalidRequest("negative response permissions limit")
	}
	if r.ResponsePermissionsLimit > 0 {
		f.Set("response_permissions_limit", strconv.Itoa(r.ResponsePermissionsLimit))
	}
	if r.SubmitRequest != nil {
		f.Set("submit_request", strconv.FormatBool(*r.SubmitRequest))
	}
	switch r.PermissionResourceFormat {
	case "":
	case ResourceFormatID, ResourceFormatURI:
		f.Set("permission_resource_format", string(r.PermissionResourceFormat))
	default:
		return nil, invalidRequest("unknown permission resource format")
	}
	if r.PermissionResourceMatchingURI {
		f.Set("permission_resource_matching_uri", "true")
	}
	if len(r.Scope) > 0 {
		for _, s := range r.Scope {
			if s == "" || strings.ContainsAny(s, " \t") || hasCTL(s) {
				return nil, invalidRequest("scope is empty or contains whitespace")
			}
		}
		f.Set("scope", strings.Join(r.Scope, " "))
	}
	return f, nil
}

// EncodeClaimToken encodes pushed claims the way Keycloak's enforcers do:
// standard Base64 with padding of the JSON object {name: [values…]}. Names
// must be non-empty. The result is capped at [MaxClaimTokenBytes].
func EncodeClaimToken(claims map[string][]string) (string, error) {
	for k, v := range claims {
		if k == "" {
			return "", invalidRequest("empty claim name")
		}
		if v == nil {
			claims = cloneClaims(claims)
			claims[k] = []string{}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(claims); err != nil {
		return "", invalidRequest("claims not encodable")
	}
	raw := bytes.TrimRight(buf.Bytes(), "\n")
	if base64.StdEncoding.EncodedLen(len(raw)) > MaxClaimTokenBytes {
		return "", invalidRequest("claim token too large")
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

func cloneClaims(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TokenResponse is a successful token-mode answer of the UMA grant. Its RPT
// has been verified (signature and claims) by the client's verifier; Claims
// holds the result. String and LogValue redact the tokens.
type TokenResponse struct {
	AccessToken      string
	TokenType        string
	ExpiresIn        int64
	RefreshExpiresIn int64
	RefreshToken     string
	NotBeforePolicy  int64
	// Upgraded is the UMA "upgraded" flag: true only if every permission of
	// the RPT sent for upgrade was kept. When false, the new RPT holds only
	// its own permissions; never merge them with earlier ones.
	Upgraded bool
	// Expiry is the local time at which the RPT expires by expires_in (zero
	// if the server sent none); Claims.ExpiresAt is the token's own exp.
	Expiry time.Time
	// Claims are the verified claims of AccessToken.
	Claims *rpt.Claims
}

// String implements fmt.Stringer without revealing tokens.
func (t *TokenResponse) String() string {
	if t == nil {
		return "<nil>"
	}
	return "uma.TokenResponse{AccessToken:REDACTED, ExpiresIn:" + strconv.FormatInt(t.ExpiresIn, 10) +
		", Upgraded:" + strconv.FormatBool(t.Upgraded) + "}"
}

// GoString is String, so %#v never prints the tokens.
func (t *TokenResponse) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without revealing tokens.
func (t *TokenResponse) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.Int64("expires_in", t.ExpiresIn), slog.Bool("upgraded", t.Upgraded))
}

// GrantResult is the answer of [Client.Grant]; exactly one of Token,
// Decision and Permissions is set, according to Mode.
type GrantResult struct {
	Mode ResponseMode
	// Token is set in token mode.
	Token *TokenResponse
	// Decision is true in decision mode (a denial is an error, never false).
	Decision bool
	// Permissions is set in permissions mode (possibly empty, never nil).
	Permissions []rpt.Permission
}

// Maximum sizes of decoded answers.
const (
	maxTokenResponseBytes = 1 << 20
	maxErrorBodyBytes     = 64 << 10
	maxTokenBytes         = 512 << 10
)

// decodeTokenResponse parses a token-mode answer strictly: a JSON object,
// access_token a non-empty string of at most maxTokenBytes, token_type Bearer
// if present, numbers non-negative integers.
func decodeTokenResponse(body []byte, now time.Time) (*TokenResponse, error) {
	var w struct {
		AccessToken      *string      `json:"access_token"`
		TokenType        string       `json:"token_type"`
		ExpiresIn        *json.Number `json:"expires_in"`
		RefreshExpiresIn *json.Number `json:"refresh_expires_in"`
		RefreshToken     string       `json:"refresh_token"`
		NotBeforePolicy  *json.Number `json:"not-before-policy"`
		Upgraded         *bool        `json:"upgraded"`
	}
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	if w.AccessToken == nil || *w.AccessToken == "" || len(*w.AccessToken) > maxTokenBytes || hasCTL(*w.AccessToken) || strings.ContainsRune(*w.AccessToken, ' ') {
		return nil, errBadField
	}
	if w.TokenType != "" && !strings.EqualFold(w.TokenType, "Bearer") {
		return nil, errBadField
	}
	t := &TokenResponse{AccessToken: *w.AccessToken, TokenType: w.TokenType, RefreshToken: w.RefreshToken}
	var err error
	if t.ExpiresIn, err = nonNegInt(w.ExpiresIn); err != nil {
		return nil, err
	}
	if t.RefreshExpiresIn, err = nonNegInt(w.RefreshExpiresIn); err != nil {
		return nil, err
	}
	if t.NotBeforePolicy, err = nonNegInt(w.NotBeforePolicy); err != nil {
		return nil, err
	}
	if w.Upgraded != nil {
		t.Upgraded = *w.Upgraded
	}
	if t.ExpiresIn > 0 {
		t.Expiry = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return t, nil
}

// maxExpiresIn bounds expires_in values (10 years) so durations never overflow.
const maxExpiresIn = 10 * 365 * 24 * 3600

func nonNegInt(n *json.Number) (int64, error) {
	if n == nil {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || v < 0 || v > maxExpiresIn {
		return 0, errBadField
	}
	return v, nil
}

// decodeDecision parses {"result": true}. Anything but a literal true is
// reported as not granted.
func decodeDecision(body []byte) (bool, error) {
	var w struct {
		Result *bool `json:"result"`
	}
	if err := decodeObject(body, &w); err != nil {
		return false, err
	}
	if w.Result == nil {
		return false, errBadField
	}
	return *w.Result, nil
}

// wirePermission is a permission in a permissions-mode answer.
type wirePermission struct {
	RSID   string              `json:"rsid"`
	RSName string              `json:"rsname"`
	Scopes []string            `json:"scopes"`
	Claims map[string][]string `json:"claims"`
}

// maxPermissionsAnswer caps the entries of a permissions-mode answer.
const maxPermissionsAnswer = 10000

// decodePermissions parses a permissions-mode answer (a JSON array).
func decodePermissions(body []byte) ([]rpt.Permission, error) {
	var w []wirePermission
	if err := decodeStrict(body, &w); err != nil {
		return nil, err
	}
	if w == nil && !bytes.Equal(bytes.TrimSpace(body), []byte("[]")) {
		return nil, errBadField
	}
	if len(w) > maxPermissionsAnswer {
		return nil, errBadField
	}
	out := make([]rpt.Permission, 0, len(w))
	for _, p := range w {
		if p.RSID == "" && len(p.Scopes) == 0 {
			return nil, errBadField
		}
		out = append(out, rpt.Permission{ResourceID: p.RSID, ResourceName: p.RSName, Scopes: p.Scopes, Claims: p.Claims})
	}
	return out, nil
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

// decodeError builds an *Error from a non-success answer. A body that is not
// an RFC 6749 error object still yields an *Error with the status alone.
func decodeError(endpoint string, status int, body []byte) *Error {
	e := &Error{Status: status, Endpoint: endpoint}
	if len(body) == 0 || len(body) > maxErrorBodyBytes {
		return e
	}
	var w oauthError
	if decodeObject(body, &w) != nil {
		return e
	}
	e.Code = sanitizeCode(w.Error)
	e.Description = sanitizeText(w.ErrorDescription, 512)
	e.URI = sanitizeText(w.ErrorURI, 512)
	return e
}
