package keycloak_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
)

// fixedNow is the clock of every engine in these tests (a Wednesday).
var fixedNow = time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC)

func readFile(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err)
	return b
}

// translate parses and translates a document.
func translate(tb testing.TB, data []byte, popts []keycloak.ParseOption, opts ...keycloak.Option) *keycloak.Result {
	tb.Helper()
	s, err := keycloak.Parse(data, popts...)
	require.NoError(tb, err)
	res, err := keycloak.Translate(s, opts...)
	require.NoError(tb, err)
	return res
}

// engine compiles a translation with the built-in library.
func engine(tb testing.TB, res *keycloak.Result, extra ...policies.Source) *policies.Engine {
	tb.Helper()
	e, err := policies.New(context.Background(),
		policies.WithSources(append([]policies.Source{res.Source()}, extra...)...),
		policies.WithClock(func() time.Time { return fixedNow }))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// subject describes a token's identity facts.
type subject struct {
	Username    string              `json:"username"`
	Sub         string              `json:"sub,omitempty"`
	RealmRoles  []string            `json:"realm_roles,omitempty"`
	ClientRoles map[string][]string `json:"client_roles,omitempty"`
	Groups      []string            `json:"groups,omitempty"`
	AZP         string              `json:"azp,omitempty"`
	Scope       string              `json:"scope,omitempty"`
	Claims      map[string]any      `json:"claims,omitempty"`
}

func (s subject) claims() *rpt.Claims {
	raw := map[string]any{
		"sub":                s.Sub,
		"preferred_username": s.Username,
		"realm_access":       map[string]any{"roles": toAny(s.RealmRoles)},
	}
	if s.Sub == "" {
		raw["sub"] = "id-" + s.Username
	}
	ra := map[string]any{}
	for c, rs := range s.ClientRoles {
		ra[c] = map[string]any{"roles": toAny(rs)}
	}
	raw["resource_access"] = ra
	if s.Groups != nil {
		raw["groups"] = toAny(s.Groups)
	}
	if s.AZP != "" {
		raw["azp"] = s.AZP
	}
	if s.Scope != "" {
		raw["scope"] = s.Scope
	}
	for k, v := range s.Claims {
		raw[k] = v
	}
	return &rpt.Claims{Raw: raw}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
