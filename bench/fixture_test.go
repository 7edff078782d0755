package bench

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

// tokenPool is the number of distinct tokens a cold benchmark cycles
// through one-entry caches: every request misses.
const tokenPool = 32

// epoch is the fixed clock of every benchmark: tokens never expire during a
// run and no cache entry ages out.
var epoch = time.Unix(1767268800, 0)

func clock() time.Time { return epoch }

// baselineRego is the decision a careful user writes by hand: Keycloak's
// isAuthorized for one resource and its required scopes (ALL), on the
// permissions of the decoded token.
const baselineRego = `package baseline

default allow := false

allow if {
	some p in input.token.authorization.permissions
	p.rsid == input.resource_id
	scopes_ok(p)
}

scopes_ok(p) if count(object.get(p, "scopes", [])) == 0

scopes_ok(p) if {
	every s in input.required_scopes {
		s in p.scopes
	}
}
`

// fixture is a Keycloak-compatible server with n resources R0..R{n-1}
// (scopes view, edit), user alice, and RPTs granting all of them.
type fixture struct {
	kc       *keycloaktest.Server
	perms    []rpt.Permission
	targetID string // the last resource: the worst case for a scan
	key      *rsa.PublicKey
}

func newFixture(tb testing.TB, n int, kcOpts ...keycloaktest.Option) *fixture {
	tb.Helper()
	opts := []keycloaktest.Option{keycloaktest.WithClock(clock), keycloaktest.WithTokenLifetime(time.Hour)}
	for i := range n {
		opts = append(opts, keycloaktest.WithResource(keycloaktest.Resource{
			Name: fmt.Sprintf("R%d", i), URIs: []string{fmt.Sprintf("/r/%d", i)}, Scopes: []string{"view", "edit"},
		}))
	}
	kc := keycloaktest.New(tb, append(opts, kcOpts...)...)
	f := &fixture{kc: kc, perms: make([]rpt.Permission, n)}
	for i := range f.perms {
		name := fmt.Sprintf("R%d", i)
		f.perms[i] = rpt.Permission{ResourceID: kc.ResourceID(name), ResourceName: name, Scopes: []string{"view", "edit"}}
	}
	f.targetID = f.perms[n-1].ResourceID
	f.key = realmKey(tb, kc)
	return f
}

// rpts issues count distinct RPTs for alice with every permission.
func (f *fixture) rpts(count int) []string {
	out := make([]string, count)
	for i := range out {
		out[i] = f.kc.IssueRPT("alice", f.perms...)
	}
	return out
}

// realmKey reads the realm's signing key from its JWKS, for golang-jwt.
func realmKey(tb testing.TB, kc *keycloaktest.Server) *rsa.PublicKey {
	tb.Helper()
	res, err := kc.HTTPClient().Get(kc.JWKSURL())
	require.NoError(tb, err)
	defer res.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	require.NoError(tb, json.NewDecoder(res.Body).Decode(&set))
	for _, k := range set.Keys {
		if k.Kid == kc.SigningKeyID() {
			n, err := base64.RawURLEncoding.DecodeString(k.N)
			require.NoError(tb, err)
			e, err := base64.RawURLEncoding.DecodeString(k.E)
			require.NoError(tb, err)
			return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	tb.Fatal("signing key not in the JWKS")
	return nil
}

// config is a policy-enforcer document pointed at the fixture's server:
// GET /api/orders/{id} is bound to the target resource and requires
// "view". settings is the body of the "rptguard" object.
func (f *fixture) config(tb testing.TB, settings string) enforcer.Config {
	tb.Helper()
	cfg, err := enforcer.ParseConfig(fmt.Appendf(nil, `{"paths":[{"path":"/api/orders/{id}","name":"R%d","id":%q,
		"methods":[{"method":"GET","scopes":["view"]}]}],"rptguard":{%s}}`, len(f.perms)-1, f.targetID, settings))
	require.NoError(tb, err)
	cfg.Realm = f.kc.Realm()
	cfg.AuthServerURL = f.kc.URL()
	cfg.Resource = f.kc.ClientID()
	cfg.Credentials.Secret = enforcer.Secret(f.kc.ClientSecret())
	return cfg
}

// enforcer builds an enforcer from the configuration (its own verifier,
// introspection and UMA clients, as in production) with the fixed clock.
func (f *fixture) enforcer(tb testing.TB, cfg enforcer.Config) *enforcer.Enforcer {
	tb.Helper()
	e, err := enforcer.New(context.Background(), cfg, enforcer.WithHTTPClient(f.kc.HTTPClient()), enforcer.WithClock(clock))
	require.NoError(tb, err)
	tb.Cleanup(e.Close)
	return e
}

// ok is the protected handler.
var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

// baseline is the hand-written middleware: golang-jwt Parse with the realm
// key and the same claim checks, then a prepared Rego query evaluated with
// rego.EvalInput(map), on every request.
type baseline struct {
	parser *jwt.Parser
	key    *rsa.PublicKey
	pq     rego.PreparedEvalQuery
	id     string
	// resolve, when set, finds the resource id for the request path
	// (BenchmarkMatch); otherwise every request is for id.
	resolve func(path string) (string, bool)
	next    http.Handler
}

func newBaseline(tb testing.TB, f *fixture) *baseline {
	tb.Helper()
	pq, err := rego.New(rego.Query("data.baseline.allow"), rego.Module("baseline.rego", baselineRego)).PrepareForEval(context.Background())
	require.NoError(tb, err)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.kc.Issuer()),
		jwt.WithAudience(f.kc.ClientID()), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(clock))
	return &baseline{parser: p, key: f.key, pq: pq, id: f.targetID, next: ok}
}

// verify is the token part: Parse with full validation and the typ check.
func (bl *baseline) verify(raw string) (jwt.MapClaims, bool) {
	claims := jwt.MapClaims{}
	if _, err := bl.parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return bl.key, nil }); err != nil {
		return nil, false
	}
	if typ, _ := claims["typ"].(string); typ != "Bearer" {
		return nil, false
	}
	return claims, true
}

// allow is the policy part.
func (bl *baseline) allow(ctx context.Context, claims map[string]any, id string) bool {
	rs, err := bl.pq.Eval(ctx, rego.EvalInput(map[string]any{
		"token": claims, "resource_id": id, "required_scopes": []any{"view"},
	}))
	if err != nil || len(rs) == 0 {
		return false
	}
	allow, _ := rs[0].Expressions[0].Value.(bool)
	return allow
}

func (bl *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := bl.id
	if bl.resolve != nil {
		var ok bool
		if id, ok = bl.resolve(r.URL.Path); !ok {
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}
	claims, valid := bl.verify(raw)
	if !valid {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !bl.allow(r.Context(), claims, id) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	bl.next.ServeHTTP(w, r)
}

// caller sends requests through a handler with a reused recorder (reset
// between requests, so the recorder itself allocates nothing) and checks
// the status.
type caller struct {
	h      http.Handler
	req    *http.Request
	rec    *httptest.ResponseRecorder
	header http.Header
}

func newCaller(h http.Handler, target string) *caller {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = "10.0.0.7:51234"
	return &caller{h: h, req: req, rec: httptest.NewRecorder(), header: http.Header{}}
}

// bearer turns tokens into Authorization header values, built once so the
// loop does not pay for the concatenation.
func bearer(tokens ...string) [][]string {
	out := make([][]string, len(tokens))
	for i, t := range tokens {
		out[i] = []string{"Bearer " + t}
	}
	return out
}

// do serves one request with the Authorization value auth and reports
// whether it got the status want.
func (c *caller) do(auth []string, want int) bool {
	c.req.Header["Authorization"] = auth
	clear(c.header)
	c.rec.Body.Reset()
	*c.rec = httptest.ResponseRecorder{HeaderMap: c.header, Body: c.rec.Body, Code: http.StatusOK}
	c.h.ServeHTTP(c.rec, c.req)
	return c.rec.Code == want
}
