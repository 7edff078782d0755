package enforcer_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/rpt"
)

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

type benchFixture struct {
	kc       *keycloaktest.Server
	token    string
	targetID string
	now      time.Time
	key      *rsa.PublicKey
}

func newBenchFixture(b *testing.B, nperms int) *benchFixture {
	b.Helper()
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	opts := []keycloaktest.Option{keycloaktest.WithClock(clock), keycloaktest.WithTokenLifetime(time.Hour)}
	for i := range nperms {
		opts = append(opts, keycloaktest.WithResource(keycloaktest.Resource{Name: fmt.Sprintf("R%d", i), URIs: []string{fmt.Sprintf("/r/%d", i)}, Scopes: []string{"view", "edit"}}))
	}
	kc := keycloaktest.New(b, opts...)
	perms := make([]rpt.Permission, nperms)
	for i := range perms {
		perms[i] = rpt.Permission{ResourceID: kc.ResourceID(fmt.Sprintf("R%d", i)), ResourceName: fmt.Sprintf("R%d", i), Scopes: []string{"view", "edit"}}
	}
	f := &benchFixture{kc: kc, token: kc.IssueRPT("alice", perms...), targetID: perms[nperms-1].ResourceID, now: now}
	// The realm key, for golang-jwt.
	res, err := kc.HTTPClient().Get(kc.JWKSURL())
	require.NoError(b, err)
	defer res.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	require.NoError(b, json.NewDecoder(res.Body).Decode(&set))
	for _, k := range set.Keys {
		if k.Kid == kc.SigningKeyID() {
			n, _ := base64.RawURLEncoding.DecodeString(k.N)
			e, _ := base64.RawURLEncoding.DecodeString(k.E)
			f.key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	require.NotNil(b, f.key)
	return f
}

func (f *benchFixture) enforcer(b *testing.B, cacheSize int) *enforcer.Enforcer {
	b.Helper()
	clock := func() time.Time { return f.now }
	v, err := rpt.New(b.Context(), rpt.Config{
		ClaimRules: rpt.ClaimRules{Issuer: f.kc.Issuer(), Audience: []string{f.kc.ClientID()}},
		JWKSURL:    f.kc.JWKSURL(), InsecureAllowHTTP: true, CacheSize: cacheSize,
	}, rpt.WithHTTPClient(f.kc.HTTPClient()), rpt.WithClock(clock))
	require.NoError(b, err)
	b.Cleanup(v.Close)
	cfg, err := enforcer.ParseConfig(fmt.Appendf(nil, `{"paths":[{"path":"/api/orders","id":%q,
		"methods":[{"method":"GET","scopes":["view"]}]}],"rptguard":{"permissions-source":"token","token-cache":{"max-entries":%d}}}`, f.targetID, max(cacheSize, -1)))
	require.NoError(b, err)
	e, err := enforcer.New(b.Context(), cfg, enforcer.WithoutServer(), enforcer.WithVerifier(v), enforcer.WithClock(clock))
	require.NoError(b, err)
	b.Cleanup(e.Close)
	return e
}

// baseline is golang-jwt Parse with the same key and claim checks plus a
// prepared Rego query evaluated with rego.EvalInput(map), on every request.
type baseline struct {
	parser *jwt.Parser
	key    *rsa.PublicKey
	pq     rego.PreparedEvalQuery
	id     string
}

func newBaseline(b *testing.B, f *benchFixture) *baseline {
	b.Helper()
	pq, err := rego.New(rego.Query("data.baseline.allow"), rego.Module("baseline.rego", baselineRego)).PrepareForEval(b.Context())
	require.NoError(b, err)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.kc.Issuer()),
		jwt.WithAudience(f.kc.ClientID()), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return f.now }))
	return &baseline{parser: p, key: f.key, pq: pq, id: f.targetID}
}

func (bl *baseline) decide(ctx context.Context, raw string) (bool, error) {
	claims := jwt.MapClaims{}
	if _, err := bl.parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return bl.key, nil }); err != nil {
		return false, err
	}
	if typ, _ := claims["typ"].(string); typ != "Bearer" {
		return false, fmt.Errorf("typ")
	}
	rs, err := bl.pq.Eval(ctx, rego.EvalInput(map[string]any{
		"token": map[string]any(claims), "resource_id": bl.id, "required_scopes": []any{"view"},
	}))
	if err != nil || len(rs) == 0 {
		return false, err
	}
	allow, _ := rs[0].Expressions[0].Value.(bool)
	return allow, nil
}

// BenchmarkDecide compares Enforcer.Decide with the hand-written baseline
// for an RPT with 5 and 50 permissions, warm (token seen before) and cold
// (verification and policy value computed every time). The "engine"
// sub-benchmark is the bare prepared policy evaluation on a prebuilt input.
func BenchmarkDecide(b *testing.B) {
	for _, temp := range []string{"warm", "cold"} {
		for _, n := range []int{5, 50} {
			b.Run(fmt.Sprintf("%s/p%d", temp, n), func(b *testing.B) {
				f := newBenchFixture(b, n)
				cache := 0
				if temp == "cold" {
					cache = -1
				}
				e := f.enforcer(b, cache)
				req := enforcer.Request{Method: http.MethodGet, Path: "/api/orders", Token: f.token}
				ctx := context.Background()
				b.Run("rptguard", func(b *testing.B) {
					d, err := e.Decide(ctx, req)
					require.NoError(b, err)
					require.True(b, d.Allowed, d.Reason)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						d, _ := e.Decide(ctx, req)
						if !d.Allowed {
							b.Fatal(d.Reason)
						}
					}
				})
				bl := newBaseline(b, f)
				b.Run("baseline", func(b *testing.B) {
					ok, err := bl.decide(ctx, f.token)
					require.NoError(b, err)
					require.True(b, ok)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if ok, _ := bl.decide(ctx, f.token); !ok {
							b.Fatal("baseline denied")
						}
					}
				})
				if temp == "warm" {
					b.Run("engine", func(b *testing.B) {
						eng, err := policies.New(ctx)
						require.NoError(b, err)
						claims, err := rpt.ParseClaims(payload(b, f.token))
						require.NoError(b, err)
						tv, err := policies.NewTokenValue(claims)
						require.NoError(b, err)
						in := policies.Input{
							Request:        policies.Request{Method: "GET", Path: "/api/orders", RawPath: "/api/orders"},
							Resource:       policies.Resource{ID: f.targetID, Template: "/api/orders"},
							RequiredScopes: []string{"view"}, ScopesMode: policies.ScopesAll,
							EnforcementMode: policies.Enforcing, Token: tv,
						}
						b.ReportAllocs()
						b.ResetTimer()
						for b.Loop() {
							if d, _ := eng.Evaluate(ctx, in); !d.Allow {
								b.Fatal("engine denied")
							}
						}
					})
				}
			})
		}
	}
}

func payload(b *testing.B, tok string) []byte {
	b.Helper()
	var parts [3]string
	i, j := 0, 0
	for k := 0; k < len(tok) && j < 3; k++ {
		if tok[k] == '.' {
			parts[j] = tok[i:k]
			j++
			i = k + 1
		}
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(b, err)
	return p
}
