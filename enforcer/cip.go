package enforcer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"

	"github.com/rptguard/rptguard/internal/httpx"
)

// Errors of claim information points. The enforcer maps them to HTTP
// statuses: ErrBodyTooLarge → 413, ErrBodyUnreadable and ErrClaimsRejected →
// 400, ErrCIPUnavailable → 503. None of them is ever an "allow".
var (
	// ErrBodyTooLarge: a claim template needs the request body and the body
	// is larger than the configured limit (declared or actual, chunked
	// included). The request is never evaluated on a truncated body
	// (security catalogue C13).
	ErrBodyTooLarge = errors.New("enforcer: request body too large for claim information point")
	// ErrBodyUnreadable: the body could not be read, or is not valid JSON
	// (or has duplicate keys on the pointer's path) where a JSON template
	// needs it.
	ErrBodyUnreadable = errors.New("enforcer: request body unreadable or malformed")
	// ErrClaimsRejected: the resolved claims exceed the caps on number of
	// claims, values per claim, value length or total size, or a value is
	// not valid UTF-8 (security catalogue E10).
	ErrClaimsRejected = errors.New("enforcer: pushed claims rejected")
	// ErrCIPUnavailable: an http claim information point failed (transport
	// error, timeout, non-2xx status, oversized or malformed response).
	ErrCIPUnavailable = errors.New("enforcer: claim information point unavailable")
)

// Provider names and keys.
const (
	cipClaimsProvider = "claims"
	cipHTTPProvider   = "http"
)

var httpProviderKeys = []string{"url", "method", "headers", "parameters", "claims"}

// Default caps on pushed claims (E10) and on the http provider.
const (
	defaultMaxClaims        = 64
	defaultMaxValues        = 64
	defaultMaxValueBytes    = 16 << 10
	defaultMaxClaimsBytes   = 256 << 10
	defaultCIPTimeout       = 5 * time.Second
	defaultMaxResponseBytes = 1 << 20
)

// claimLimits caps what claim information points may produce. Claims are
// attacker-controlled input (headers, query, body): they are pushed to the
// authorization server and handed to policies, never used as identity.
// Exceeding a cap is an error, never a truncation: dropping values could turn
// a deny into an allow.
type claimLimits struct {
	maxClaims     int
	maxValues     int
	maxValueBytes int
	maxTotalBytes int
}

// cipOptions configure compileCIP.
type cipOptions struct {
	// httpClient is the base of the http provider's resty client (copied, see
	// httpx.NewResty). If nil, httpx.NewClient's secure defaults.
	httpClient *http.Client
	// allowInsecureHTTP permits plain-http URLs to non-loopback hosts.
	allowInsecureHTTP bool
	// maxBodyBytes bounds the buffered request body; 0 → DefaultMaxBodyBytes.
	maxBodyBytes int64
	// httpTimeout bounds each http provider call; 0 → 5s.
	httpTimeout time.Duration
	// maxResponseBytes bounds the http provider's response; 0 → 1 MiB.
	maxResponseBytes int64
	// limits; zero fields → defaults.
	limits claimLimits
}

// cipResolver is one compiled claim-information-point configuration (global
// or per path). It is immutable after compileCIP and safe for concurrent use.
type cipResolver struct {
	providers []cipProvider // in provider-name order
	needsBody bool          // some template reads request.body
	needsForm bool          // some template reads request.parameter
	maxBody   int64
	limits    claimLimits
}

type cipProvider interface {
	name() string
	resolve(ctx context.Context, rc *reqContext) (map[string][]string, error)
}

// compileCIP compiles a claim-information-point map (provider name →
// provider config). Unknown provider names are ignored, as in Keycloak. A nil
// or empty map yields a resolver that produces no claims. Errors are
// *ConfigError with Field relative to the map ("claims.x", "http.url").
func compileCIP(raw map[string]json.RawMessage, o cipOptions) (*cipResolver, error) {
	if o.maxBodyBytes <= 0 {
		o.maxBodyBytes = DefaultMaxBodyBytes
	}
	if o.httpTimeout <= 0 {
		o.httpTimeout = defaultCIPTimeout
	}
	if o.maxResponseBytes <= 0 {
		o.maxResponseBytes = defaultMaxResponseBytes
	}
	o.limits = o.limits.withDefaults()
	res := &cipResolver{maxBody: o.maxBodyBytes, limits: o.limits}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var (
			p   cipProvider
			err error
		)
		switch n {
		case cipClaimsProvider:
			p, err = compileClaimsProvider(raw[n], res)
		case cipHTTPProvider:
			p, err = compileHTTPProvider(raw[n], res, o)
		default:
			continue
		}
		if err != nil {
			return nil, prefixErr(n, err)
		}
		res.providers = append(res.providers, p)
	}
	return res, nil
}

func (l claimLimits) withDefaults() claimLimits {
	if l.maxClaims <= 0 {
		l.maxClaims = defaultMaxClaims
	}
	if l.maxValues <= 0 {
		l.maxValues = defaultMaxValues
	}
	if l.maxValueBytes <= 0 {
		l.maxValueBytes = defaultMaxValueBytes
	}
	if l.maxTotalBytes <= 0 {
		l.maxTotalBytes = defaultMaxClaimsBytes
	}
	return l
}

// Resolve resolves the claims of this one configuration for r. rawToken is
// the bearer token as presented and tokenClaims its VERIFIED claims (the
// resolver never decodes a token). The request body is read only when a
// template needs it, and is restored for the handler. Errors match one of
// the CIP sentinels or the context's error.
func (c *cipResolver) Resolve(ctx context.Context, r *http.Request, rawToken string, tokenClaims map[string]any) (map[string][]string, error) {
	return resolveClaims(ctx, r, rawToken, tokenClaims, c)
}

// resolveClaims resolves several configurations in order (global first, then
// the path's) with Keycloak's putAll semantics: a later configuration
// replaces a claim of the same name. Nil resolvers are skipped. The body
// limit is that of the last (most specific) resolver. Claims with no values
// are omitted; the result is nil when there are none.
func resolveClaims(ctx context.Context, r *http.Request, rawToken string, tokenClaims map[string]any, resolvers ...*cipResolver) (map[string][]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc := &reqContext{r: r, rawToken: rawToken, claims: tokenClaims, maxBody: DefaultMaxBodyBytes}
	limits := claimLimits{}.withDefaults()
	for _, res := range resolvers {
		if res != nil {
			rc.maxBody, limits = res.maxBody, res.limits
		}
	}
	var out map[string][]string
	for _, res := range resolvers {
		if res == nil {
			continue
		}
		for _, p := range res.providers {
			m, err := p.resolve(ctx, rc)
			if err != nil {
				return nil, err
			}
			if out == nil && len(m) > 0 && len(m) <= limits.maxClaims {
				out = m // providers return fresh maps without empty claims
				continue
			}
			for k, v := range m {
				if len(v) == 0 {
					continue
				}
				if out == nil {
					out = make(map[string][]string, len(m))
				}
				out[k] = v
				if len(out) > limits.maxClaims {
					return nil, fmt.Errorf("%w: more than %d claims", ErrClaimsRejected, limits.maxClaims)
				}
			}
		}
	}
	if err := checkClaims(out, limits); err != nil {
		return nil, err
	}
	return out, nil
}

// checkClaims enforces the caps of security catalogue E10.
func checkClaims(m map[string][]string, l claimLimits) error {
	if len(m) > l.maxClaims {
		return fmt.Errorf("%w: more than %d claims", ErrClaimsRejected, l.maxClaims)
	}
	total := 0
	for k, vs := range m {
		if len(vs) > l.maxValues {
			return fmt.Errorf("%w: claim %s has more than %d values", ErrClaimsRejected, quoteTrunc(k), l.maxValues)
		}
		if len(k) > l.maxValueBytes || !utf8.ValidString(k) {
			return fmt.Errorf("%w: claim name too long or not UTF-8", ErrClaimsRejected)
		}
		total += len(k)
		for _, v := range vs {
			if len(v) > l.maxValueBytes {
				return fmt.Errorf("%w: a value of claim %s is longer than %d bytes", ErrClaimsRejected, quoteTrunc(k), l.maxValueBytes)
			}
			if !utf8.ValidString(v) {
				return fmt.Errorf("%w: a value of claim %s is not valid UTF-8", ErrClaimsRejected, quoteTrunc(k))
			}
			total += len(v)
		}
	}
	if total > l.maxTotalBytes {
		return fmt.Errorf("%w: claims larger than %d bytes in total", ErrClaimsRejected, l.maxTotalBytes)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Per-request state

// reqContext holds what one resolution needs, reading the body at most once.
type reqContext struct {
	r        *http.Request
	rawToken string
	claims   map[string]any
	maxBody  int64

	bodyDone bool
	body     []byte
	bodyErr  error

	query    url.Values
	form     url.Values
	formDone bool

	jsonChecked bool
	jsonErr     error
}

func (rc *reqContext) readBody() ([]byte, error) {
	if !rc.bodyDone {
		rc.bodyDone = true
		rc.body, rc.bodyErr = bufferBody(rc.r, rc.maxBody)
	}
	return rc.body, rc.bodyErr
}

// jsonBody returns the body when the request declares application/json; ok
// is false for other content types.
func (rc *reqContext) jsonBody() (body []byte, ok bool, err error) {
	if mediaType(rc.r.Header.Get("Content-Type")) != "application/json" {
		return nil, false, nil
	}
	body, err = rc.readBody()
	if err != nil || len(body) == 0 {
		return nil, true, err
	}
	if !rc.jsonChecked {
		rc.jsonChecked = true
		if !json.Valid(body) {
			rc.jsonErr = fmt.Errorf("%w: invalid JSON", ErrBodyUnreadable)
		}
	}
	return body, true, rc.jsonErr
}

func (rc *reqContext) param(name string) ([]string, error) {
	if rc.query == nil {
		rc.query = rc.r.URL.Query()
	}
	if v, ok := rc.query[name]; ok && len(v) > 0 {
		return v[:1], nil
	}
	if !rc.formDone {
		rc.formDone = true
		switch rc.r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			if mediaType(rc.r.Header.Get("Content-Type")) == "application/x-www-form-urlencoded" {
				body, err := rc.readBody()
				if err != nil {
					return nil, err
				}
				// Lenient like net/http's ParseForm: keep what parses.
				rc.form, _ = url.ParseQuery(string(body))
			}
		}
	}
	if v, ok := rc.form[name]; ok && len(v) > 0 {
		return v[:1], nil
	}
	return nil, nil
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// bufferBody reads r's body up to limit bytes and replaces r.Body (and
// r.GetBody) with readers over the buffered bytes, so the handler still sees
// the whole body. A body over the limit yields ErrBodyTooLarge; a read error
// ErrBodyUnreadable. In both cases r.Body is left readable from the start
// (buffered part followed by the unread rest), and the caller must refuse the
// request: it is never evaluated on a truncated body.
func bufferBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: declared length %d exceeds %d bytes", ErrBodyTooLarge, r.ContentLength, limit)
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err != nil || int64(len(buf)) > limit {
		r.Body = &restoredBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), c: orig}
		var mbe *http.MaxBytesError
		switch {
		case err == nil, errors.As(err, &mbe):
			return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
		default:
			return nil, fmt.Errorf("%w: %w", ErrBodyUnreadable, err)
		}
	}
	r.Body = &restoredBody{Reader: bytes.NewReader(buf), c: orig}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return buf, nil
}

// restoredBody replays buffered bytes and closes the original body.
type restoredBody struct {
	io.Reader
	c io.Closer
}

func (b *restoredBody) Close() error { return b.c.Close() }

// ---------------------------------------------------------------------------
// Templates

type phKind int

const (
	phParam phKind = iota
	phHeader
	phCookie
	phRemoteAddr
	phMethod
	phURI
	phRelativePath
	phSecure
	phBody
	phBodyPointer
	phToken
	phTokenPointer
)

type placeholder struct {
	kind phKind
	name string   // parameter, header or cookie name
	ptr  []string // JSON pointer tokens
}

// tplPart is a literal (ph == nil) or a placeholder; text is the source text.
type tplPart struct {
	text string
	ph   *placeholder
}

// template is a compiled claim template (SPEC §7.1).
type template struct {
	raw     string
	parts   []tplPart
	dynamic bool // has at least one resolvable placeholder
}

// parseTemplate compiles s. Placeholders are {…} up to the first '}' (at
// least one character, no line break), like Keycloak's non-greedy pattern;
// braces do not nest. The text before the first '.' names the resolver: a
// placeholder without '.' is an error, an unknown resolver leaves the
// placeholder as literal text, and an unknown attribute of a known resolver
// ("request.foo") is an error.
//
// Divergence from Keycloak: substitution is literal. Keycloak uses the
// placeholder text as a regular expression and the value as a replacement
// string (so '.' matches any character and '$' or '\' in a value breaks the
// result), and strips every brace and bracket from the template when some
// placeholder resolved; rptguard replaces exactly the placeholder and keeps
// other text, unknown-resolver placeholders included, verbatim.
func parseTemplate(s string) (*template, error) {
	t := &template{raw: s}
	lit := 0
	nextClose, nextBreak := -1, -1 // cached scan positions keep this linear
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		if nextClose < i+2 {
			k := strings.IndexByte(s[min(i+2, len(s)):], '}')
			if k < 0 {
				break
			}
			nextClose = i + 2 + k
		}
		if nextBreak < i+1 {
			nextBreak = indexLineBreak(s, i+1)
		}
		if nextBreak < nextClose {
			continue
		}
		end := nextClose
		body := s[i+1 : end]
		ph, err := parsePlaceholder(body)
		if err != nil {
			return nil, err
		}
		if ph == nil { // unknown resolver: literal
			i = end
			continue
		}
		if lit < i {
			t.parts = append(t.parts, tplPart{text: s[lit:i]})
		}
		t.parts = append(t.parts, tplPart{text: s[i : end+1], ph: ph})
		t.dynamic = true
		lit = end + 1
		i = end
	}
	if lit < len(s) {
		t.parts = append(t.parts, tplPart{text: s[lit:]})
	}
	return t, nil
}

// indexLineBreak returns the index of the first line terminator (as Java's
// '.' sees them) at or after from, or len(s).
func indexLineBreak(s string, from int) int {
	for j := from; j < len(s); j++ {
		if isLineBreak(s, j) {
			return j
		}
	}
	return len(s)
}

// isLineBreak reports whether s[j] starts a line terminator for Java's '.'.
func isLineBreak(s string, j int) bool {
	switch s[j] {
	case '\n', '\r':
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[j:])
	return r == '\u0085' || r == '\u2028' || r == '\u2029'
}

func parsePlaceholder(body string) (*placeholder, error) {
	dot := strings.IndexByte(body, '.')
	if dot < 0 {
		return nil, fmt.Errorf("placeholder {%s} has no resolver name (want {request.…} or {keycloak.…})", truncate(body))
	}
	resolver, src := body[:dot], body[dot+1:]
	switch resolver {
	case "request":
		return parseRequestPlaceholder(src)
	case "keycloak":
		switch {
		case src == "access_token":
			return &placeholder{kind: phToken}, nil
		case strings.HasPrefix(src, "access_token["):
			arg, err := bracketArg(src, "access_token")
			if err != nil {
				return nil, err
			}
			ptr, err := parsePointer(arg)
			if err != nil {
				return nil, err
			}
			return &placeholder{kind: phTokenPointer, ptr: ptr}, nil
		}
		return nil, fmt.Errorf("unknown placeholder {%s} (want keycloak.access_token or keycloak.access_token['/pointer'])", truncate(body))
	default:
		return nil, nil
	}
}

func parseRequestPlaceholder(src string) (*placeholder, error) {
	switch src {
	case "remoteAddr":
		return &placeholder{kind: phRemoteAddr}, nil
	case "method":
		return &placeholder{kind: phMethod}, nil
	case "uri":
		return &placeholder{kind: phURI}, nil
	case "relativePath":
		return &placeholder{kind: phRelativePath}, nil
	case "secure":
		return &placeholder{kind: phSecure}, nil
	case "body":
		return &placeholder{kind: phBody}, nil
	}
	name, _, _ := strings.Cut(src, "[")
	kinds := map[string]phKind{"parameter": phParam, "header": phHeader, "cookie": phCookie, "body": phBodyPointer}
	kind, ok := kinds[name]
	if !ok || len(name) == len(src) {
		return nil, fmt.Errorf("unknown placeholder {request.%s}", truncate(src))
	}
	arg, err := bracketArg(src, name)
	if err != nil {
		return nil, err
	}
	if kind == phBodyPointer {
		ptr, err := parsePointer(arg)
		if err != nil {
			return nil, err
		}
		return &placeholder{kind: kind, ptr: ptr}, nil
	}
	if arg == "" {
		return nil, fmt.Errorf("placeholder {request.%s} has an empty name", truncate(src))
	}
	return &placeholder{kind: kind, name: arg}, nil
}

// bracketArg extracts the argument of name[...] with every ' removed, as
// Keycloak does.
func bracketArg(src, name string) (string, error) {
	if !strings.HasPrefix(src, name+"[") || !strings.HasSuffix(src, "]") {
		return "", fmt.Errorf("malformed placeholder argument in %s", truncate(src))
	}
	return strings.ReplaceAll(src[len(name)+1:len(src)-1], "'", ""), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// resolve evaluates the template: a static template yields itself; with
// placeholders, the first placeholder (in template order) that yields zero
// or several values makes the template yield exactly those values; otherwise
// each placeholder is replaced by its single value and the result trimmed.
func (t *template) resolve(rc *reqContext) ([]string, error) {
	if !t.dynamic {
		return []string{t.raw}, nil
	}
	if len(t.parts) == 1 { // the whole template is one placeholder
		vals, err := t.parts[0].ph.resolve(rc)
		if err != nil || len(vals) != 1 {
			return vals, err
		}
		return []string{javaTrim(vals[0])}, nil
	}
	var sb strings.Builder
	for _, p := range t.parts {
		if p.ph == nil {
			sb.WriteString(p.text)
			continue
		}
		vals, err := p.ph.resolve(rc)
		if err != nil {
			return nil, err
		}
		if len(vals) != 1 {
			return vals, nil
		}
		sb.WriteString(vals[0])
	}
	return []string{javaTrim(sb.String())}, nil
}

// javaTrim trims like java.lang.String.trim: every char <= ' ' at both ends.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func (ph *placeholder) resolve(rc *reqContext) ([]string, error) {
	r := rc.r
	switch ph.kind {
	case phParam:
		return rc.param(ph.name)
	case phHeader:
		v := r.Header.Values(ph.name)
		if len(v) == 0 {
			return nil, nil
		}
		return append([]string(nil), v...), nil
	case phCookie:
		c, err := r.Cookie(ph.name)
		if err != nil {
			return nil, nil
		}
		return []string{c.Value}, nil
	case phRemoteAddr:
		if r.RemoteAddr == "" {
			return nil, nil
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return []string{host}, nil
	case phMethod:
		return []string{r.Method}, nil
	case phURI:
		return []string{r.URL.EscapedPath()}, nil
	case phRelativePath:
		return []string{r.URL.Path}, nil
	case phSecure:
		return []string{strconv.FormatBool(r.TLS != nil)}, nil
	case phBody:
		body, isJSON, err := rc.jsonBody()
		if err != nil {
			return nil, err
		}
		if isJSON {
			if len(body) == 0 {
				return nil, nil
			}
			return flattenRaw(body)
		}
		body, err = rc.readBody()
		if err != nil || len(body) == 0 {
			return nil, err
		}
		return []string{string(body)}, nil
	case phBodyPointer:
		body, isJSON, err := rc.jsonBody()
		if err != nil || !isJSON || len(body) == 0 {
			return nil, err
		}
		v, found, err := pointerRaw(body, ph.ptr)
		if err != nil || !found {
			return nil, err
		}
		return flattenRaw(v)
	case phToken:
		if rc.rawToken == "" {
			return nil, nil
		}
		return []string{rc.rawToken}, nil
	case phTokenPointer:
		if rc.claims == nil {
			return nil, nil
		}
		v, found := pointerAny(rc.claims, ph.ptr)
		if !found {
			return nil, nil
		}
		return flattenAny(v), nil
	}
	return nil, nil
}

func (t *template) needs() (body, form bool) {
	for _, p := range t.parts {
		if p.ph == nil {
			continue
		}
		switch p.ph.kind {
		case phBody, phBodyPointer:
			body = true
		case phParam:
			form = true
		}
	}
	return body, form
}

// templateList is a config value that is a template or an array of them.
type templateList []*template

func compileTemplateList(raw json.RawMessage, res *cipResolver) (templateList, error) {
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("want a string or an array of strings")
	}
	out := make(templateList, 0, len(list))
	for _, s := range list {
		t, err := parseTemplate(s)
		if err != nil {
			return nil, err
		}
		b, f := t.needs()
		res.needsBody = res.needsBody || b || f
		res.needsForm = res.needsForm || f
		out = append(out, t)
	}
	return out, nil
}

// resolve concatenates the values of every template.
func (l templateList) resolve(rc *reqContext) ([]string, error) {
	var out []string
	for _, t := range l {
		v, err := t.resolve(rc)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

type namedTemplates struct {
	name string
	tpl  templateList
}

func compileNamedTemplates(raw json.RawMessage, res *cipResolver) ([]namedTemplates, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("want an object")
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]namedTemplates, 0, len(names))
	for _, n := range names {
		tl, err := compileTemplateList(m[n], res)
		if err != nil {
			return nil, &ConfigError{Field: n, Err: err}
		}
		out = append(out, namedTemplates{name: n, tpl: tl})
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// claims provider

type claimsProvider struct {
	claims []namedTemplates
}

func compileClaimsProvider(raw json.RawMessage, res *cipResolver) (*claimsProvider, error) {
	claims, err := compileNamedTemplates(raw, res)
	if err != nil {
		return nil, err
	}
	return &claimsProvider{claims: claims}, nil
}

func (p *claimsProvider) name() string { return cipClaimsProvider }

func (p *claimsProvider) resolve(_ context.Context, rc *reqContext) (map[string][]string, error) {
	out := make(map[string][]string, len(p.claims))
	for _, c := range p.claims {
		v, err := c.tpl.resolve(rc)
		if err != nil {
			return nil, fmt.Errorf("enforcer: claims provider, claim %s: %w", quoteTrunc(c.name), err)
		}
		if len(v) > 0 {
			out[c.name] = v
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// http provider

type httpProvider struct {
	url     string
	get     bool
	headers []namedTemplates
	params  []namedTemplates
	claims  []namedPointers // nil: every top-level field
	client  *resty.Client
	timeout time.Duration
	maxResp int64
}

type namedPointers struct {
	name string
	ptrs [][]string
}

func compileHTTPProvider(raw json.RawMessage, res *cipResolver, o cipOptions) (*httpProvider, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg == nil {
		return nil, &ConfigError{Err: errors.New("want an object")}
	}
	p := &httpProvider{timeout: o.httpTimeout, maxResp: o.maxResponseBytes}
	u, ok := cfg["url"]
	if !ok || json.Unmarshal(u, &p.url) != nil || p.url == "" {
		return nil, cfgErr("url", "required string")
	}
	if err := validateURL("url", p.url, o.allowInsecureHTTP); err != nil {
		return nil, err
	}
	if m, ok := cfg["method"]; ok && !isNull(m) {
		var method string
		if err := json.Unmarshal(m, &method); err != nil {
			return nil, cfgErr("method", "want a string")
		}
		p.get = strings.EqualFold(method, http.MethodGet)
	}
	var err error
	if h, ok := cfg["headers"]; ok && !isNull(h) {
		if p.headers, err = compileNamedTemplates(h, res); err != nil {
			return nil, prefixErr("headers", err)
		}
		for _, h := range p.headers {
			if !validHeaderName(h.name) {
				return nil, cfgErr("headers."+h.name, "invalid header name")
			}
		}
	}
	if pr, ok := cfg["parameters"]; ok && !isNull(pr) {
		if p.params, err = compileNamedTemplates(pr, res); err != nil {
			return nil, prefixErr("parameters", err)
		}
	}
	if c, ok := cfg["claims"]; ok && !isNull(c) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c, &m); err != nil {
			return nil, cfgErr("claims", "want an object")
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		p.claims = make([]namedPointers, 0, len(names))
		for _, n := range names {
			var list []string
			var one string
			if err := json.Unmarshal(m[n], &one); err == nil {
				list = []string{one}
			} else if err := json.Unmarshal(m[n], &list); err != nil {
				return nil, cfgErr("claims."+n, "want a JSON pointer or an array of them")
			}
			np := namedPointers{name: n}
			for _, s := range list {
				ptr, err := parsePointer(s)
				if err != nil {
					return nil, &ConfigError{Field: "claims." + n, Err: err}
				}
				np.ptrs = append(np.ptrs, ptr)
			}
			p.claims = append(p.claims, np)
		}
	}
	// httpx copies the client (the caller's is not modified), refuses
	// redirects, drops any cookie jar and keeps resty silent; a nil client
	// gets httpx's secure defaults, never http.DefaultClient.
	p.client = httpx.NewResty(o.httpClient, httpx.WithMaxBody(int(o.maxResponseBytes))).SetHeader("User-Agent", "rptguard")
	return p, nil
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func (p *httpProvider) name() string { return cipHTTPProvider }

func (p *httpProvider) resolve(ctx context.Context, rc *reqContext) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req := p.client.R().SetContext(ctx).SetDoNotParseResponse(true)
	for _, h := range p.headers {
		vals, err := h.tpl.resolve(rc)
		if err != nil {
			return nil, fmt.Errorf("enforcer: http claim provider, header %s: %w", quoteTrunc(h.name), err)
		}
		for _, v := range vals {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("%w: header %s value contains a line break", ErrClaimsRejected, quoteTrunc(h.name))
			}
			req.Header.Add(h.name, v)
		}
	}
	params := url.Values{}
	for _, pr := range p.params {
		vals, err := pr.tpl.resolve(rc)
		if err != nil {
			return nil, fmt.Errorf("enforcer: http claim provider, parameter %s: %w", quoteTrunc(pr.name), err)
		}
		for _, v := range vals {
			params.Add(pr.name, v)
		}
	}
	var (
		resp *resty.Response
		err  error
	)
	if p.get {
		resp, err = req.SetQueryParamsFromValues(params).Get(p.url)
	} else {
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err = req.SetBody(params.Encode()).Post(p.url)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("%w: %w", ErrCIPUnavailable, ctxErr)
		}
		return nil, fmt.Errorf("%w: request failed", ErrCIPUnavailable)
	}
	body := resp.RawBody()
	defer body.Close()
	if resp.StatusCode() < 200 || resp.StatusCode() > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 4096))
		return nil, fmt.Errorf("%w: status %d", ErrCIPUnavailable, resp.StatusCode())
	}
	data, err := io.ReadAll(io.LimitReader(body, p.maxResp+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading response failed", ErrCIPUnavailable)
	}
	if int64(len(data)) > p.maxResp {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrCIPUnavailable, p.maxResp)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: response is not JSON", ErrCIPUnavailable)
	}
	out := map[string][]string{}
	if p.claims == nil {
		err := eachMember(data, func(k string, v json.RawMessage) error {
			vals, err := flattenRaw(v)
			if err != nil {
				return err
			}
			if len(vals) > 0 {
				out[k] = vals
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: response: %w", ErrCIPUnavailable, err)
		}
		return out, nil
	}
	for _, c := range p.claims {
		var vals []string
		for _, ptr := range c.ptrs {
			v, found, err := pointerRaw(data, ptr)
			if err != nil {
				return nil, fmt.Errorf("%w: response: %w", ErrCIPUnavailable, err)
			}
			if !found {
				continue
			}
			fv, err := flattenRaw(v)
			if err != nil {
				return nil, fmt.Errorf("%w: response: %w", ErrCIPUnavailable, err)
			}
			vals = append(vals, fv...)
		}
		if len(vals) > 0 {
			out[c.name] = vals
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// JSON pointers (RFC 6901) and Keycloak's value flattening

var errMalformedPointer = errors.New("malformed JSON pointer")

// parsePointer splits an RFC 6901 pointer into unescaped reference tokens.
// "" is the whole document; otherwise it must start with '/'.
func parsePointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("%w %s: must be empty or start with '/'", errMalformedPointer, quoteTrunc(s))
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if !strings.Contains(p, "~") {
			continue
		}
		var sb strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '~' {
				sb.WriteByte(p[j])
				continue
			}
			if j+1 >= len(p) || (p[j+1] != '0' && p[j+1] != '1') {
				return nil, fmt.Errorf("%w %s: '~' must be followed by 0 or 1", errMalformedPointer, quoteTrunc(s))
			}
			if p[j+1] == '0' {
				sb.WriteByte('~')
			} else {
				sb.WriteByte('/')
			}
			j++
		}
		parts[i] = sb.String()
	}
	return parts, nil
}

// formatPointer is the inverse of parsePointer.
func formatPointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return sb.String()
}

// arrayIndex parses an RFC 6901 array index ("0" or no leading zero).
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
		n = n*10 + int(tok[i]-'0')
	}
	return n, true
}

// pointerRaw resolves ptr in a valid JSON document without decoding more than
// the path. Objects with duplicate member names on the path are an error
// (parser differentials between us and the application).
func pointerRaw(doc json.RawMessage, ptr []string) (json.RawMessage, bool, error) {
	cur := json.RawMessage(bytes.TrimSpace(doc))
	for _, tok := range ptr {
		if len(cur) == 0 {
			return nil, false, nil
		}
		switch cur[0] {
		case '{':
			var next json.RawMessage
			found := false
			err := eachMember(cur, func(k string, v json.RawMessage) error {
				if k == tok {
					next, found = v, true
				}
				return nil
			})
			if err != nil {
				return nil, false, err
			}
			if !found {
				return nil, false, nil
			}
			cur = next
		case '[':
			idx, ok := arrayIndex(tok)
			if !ok {
				return nil, false, nil
			}
			next, found, err := arrayElement(cur, idx)
			if err != nil || !found {
				return nil, false, err
			}
			cur = next
		default:
			return nil, false, nil
		}
	}
	return cur, true, nil
}

// eachMember calls fn for every member of a JSON object, in order, and fails
// on duplicate names.
func eachMember(obj json.RawMessage, fn func(k string, v json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrBodyUnreadable)
	}
	seen := map[string]struct{}{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
		}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%w: duplicate member name", ErrBodyUnreadable)
		}
		seen[k] = struct{}{}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func arrayElement(arr json.RawMessage, idx int) (json.RawMessage, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(arr))
	if _, err := dec.Token(); err != nil {
		return nil, false, fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
	}
	for i := 0; dec.More(); i++ {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false, fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
		}
		if i == idx {
			return v, true, nil
		}
	}
	return nil, false, nil
}

// flattenRaw turns a JSON value into claim values the way Keycloak does: a
// scalar becomes its text (strings unquoted, numbers as written), null
// nothing, an array one value per element, an object its compact JSON.
// Array elements that are objects or arrays become compact JSON.
func flattenRaw(v json.RawMessage) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, nil
	}
	if v[0] != '[' {
		s, ok, err := rawText(v)
		if err != nil || !ok {
			return nil, err
		}
		return []string{s}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(v, &elems); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok, err := rawText(e)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func rawText(v json.RawMessage) (string, bool, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false, nil
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
		}
		return s, true, nil
	case 'n':
		return "", false, nil
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", false, fmt.Errorf("%w: malformed JSON", ErrBodyUnreadable)
		}
		return b.String(), true, nil
	default:
		return string(v), true, nil
	}
}

// pointerAny resolves ptr in decoded claims (maps, slices, scalars).
func pointerAny(v any, ptr []string) (any, bool) {
	for _, tok := range ptr {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, ok := arrayIndex(tok)
			if !ok || i >= len(c) {
				return nil, false
			}
			v = c[i]
		case []string:
			i, ok := arrayIndex(tok)
			if !ok || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// flattenAny is flattenRaw for decoded values. Objects are re-serialized
// with sorted keys (Go maps keep no order; Keycloak keeps the token's order).
func flattenAny(v any) []string {
	switch c := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(c))
		for _, e := range c {
			if s, ok := anyText(e); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return append([]string(nil), c...)
	}
	if s, ok := anyText(v); ok {
		return []string{s}
	}
	return nil
}

func anyText(v any) (string, bool) {
	switch c := v.(type) {
	case nil:
		return "", false
	case string:
		return c, true
	case bool:
		return strconv.FormatBool(c), true
	case json.Number:
		return c.String(), true
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(c), 'f', -1, 32), true
	case int:
		return strconv.Itoa(c), true
	case int64:
		return strconv.FormatInt(c, 10), true
	case int32:
		return strconv.FormatInt(int64(c), 10), true
	case uint64:
		return strconv.FormatUint(c, 10), true
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}
