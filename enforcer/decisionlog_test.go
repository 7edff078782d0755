package enforcer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/rptguard/rptguard/keycloaktest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func decodeEvents(tb testing.TB, out string) []map[string]any {
	tb.Helper()
	var evs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		require.NoError(tb, json.Unmarshal([]byte(line), &ev), line)
		evs = append(evs, ev)
	}
	return evs
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestDecisionLogMasking: events follow OPA's EventV1 field names and never
// carry the token, the Authorization header, the query string or claims
// outside the allow-list.
func TestDecisionLogMasking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []enforcer.DecisionLogOption
		wantClaims []string
	}{
		{name: "default claims", wantClaims: []string{"azp", "iss", "jti", "sub"}},
		{name: "allow-list", opts: []enforcer.DecisionLogOption{enforcer.WithLoggedClaims("sub", "email"), enforcer.WithLogLabels(map[string]string{"tenant": "shop"})}, wantClaims: []string{"sub"}},
		{name: "no claims", opts: []enforcer.DecisionLogOption{enforcer.WithLoggedClaims()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			v := newEnv(t, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`,
				shopServer(), enforcer.WithDecisionLog(enforcer.NewJSONLinesSink(&buf), tt.opts...))
			tok := v.kc.IssueRPT("alice", perm(v.kc, "Orders", "view"))
			require.Equal(t, 200, v.do(t, "GET", "/api/orders?secret=hunter2", tok).status)
			require.Equal(t, 401, v.do(t, "GET", "/api/orders", tok+"x").status)
			require.Equal(t, 401, v.do(t, "GET", "/api/orders", "").status)

			out := buf.String()
			assert.NotContains(t, out, tok[:40], "no token bytes")
			assert.NotContains(t, strings.ToLower(out), "authorization")
			assert.NotContains(t, out, "hunter2", "no query string")
			assert.NotContains(t, out, "preferred_username")
			evs := decodeEvents(t, out)
			require.Len(t, evs, 3)

			allow := evs[0]
			assert.Regexp(t, uuidRE, allow["decision_id"])
			assert.Equal(t, enforcer.DecisionLogPath, allow["path"])
			assert.Equal(t, true, allow["result"])
			assert.NotEmpty(t, allow["timestamp"])
			assert.Equal(t, []any{"/input/token"}, allow["masked"])
			labels := allow["labels"].(map[string]any)
			assert.Equal(t, "rptguard", labels["type"])
			assert.NotEmpty(t, labels["id"])
			assert.Contains(t, allow["metrics"], "timer_rptguard_decision_ns")
			assert.Equal(t, map[string]any{"status": 200.0, "reason": "allowed"}, allow["custom"])
			in := allow["input"].(map[string]any)
			assert.Equal(t, map[string]any{"method": "GET", "path": "/api/orders", "remote_addr": in["request"].(map[string]any)["remote_addr"]}, in["request"])
			assert.Equal(t, "Orders", in["resource"].(map[string]any)["name"])
			if len(tt.wantClaims) == 0 {
				assert.NotContains(t, in, "token")
			} else {
				tc := in["token"].(map[string]any)
				keys := make([]string, 0, len(tc))
				for k := range tc {
					keys = append(keys, k)
				}
				assert.ElementsMatch(t, tt.wantClaims, keys)
				if slices.Contains(tt.wantClaims, "iss") {
					assert.Equal(t, v.kc.Issuer(), tc["iss"])
				}
				assert.NotEmpty(t, tc["sub"])
			}

			bad := evs[1]
			assert.Equal(t, false, bad["result"])
			assert.NotContains(t, bad["input"], "token", "claims of an unverified token are never logged")
			assert.Equal(t, "invalid_token", bad["custom"].(map[string]any)["reason"])
			assert.NotEqual(t, allow["decision_id"], bad["decision_id"])
			assert.Equal(t, "no_token", evs[2]["custom"].(map[string]any)["reason"])
		})
	}
}

// TestDecisionLogSinkError: a failing sink never changes the decision.
func TestDecisionLogSinkError(t *testing.T) {
	t.Parallel()
	var n int
	var mu sync.Mutex
	sink := enforcer.DecisionLogSinkFunc(func(_ context.Context, ev *enforcer.DecisionLogEvent) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		return errors.New("disk full")
	})
	kc := keycloaktest.New(t, shopServer()...)
	cfg := parseConfig(t, kc, `{"paths":[{"path":"/api/orders","name":"Orders"}],"rptguard":{"permissions-source":"token"}}`)
	e, err := enforcer.New(t.Context(), cfg, enforcer.WithHTTPClient(kc.HTTPClient()), enforcer.WithDecisionLog(sink))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	d, err := e.Decide(t.Context(), enforcer.Request{Method: "GET", Path: "/api/orders", Token: kc.IssueRPT("alice", perm(kc, "Orders"))})
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	mu.Lock()
	assert.Equal(t, 1, n)
	mu.Unlock()
}
