package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/enforcer"
)

// matchTemplates builds n path templates shaped like a real configuration:
// per service a literal root, an item template, a nested wildcard and a
// catch-all, plus two suffix patterns. It returns them with the index of
// the item template of the last complete service and a path it matches.
func matchTemplates(n int) (templates []string, hit int, path string) {
	templates = []string{"/*.css", "/*.js"}
	for i := 0; len(templates)+4 <= n; i++ {
		svc := fmt.Sprintf("/svc%d", i)
		hit = len(templates) + 1
		path = svc + "/items/12345"
		templates = append(templates, svc+"/items", svc+"/items/{id}", svc+"/items/{id}/parts/{part}/*", svc+"/*")
	}
	return templates, hit, path
}

// linearMatch is the hand-written matcher: Keycloak's PathMatcher loop
// (an exact match wins at once, else the best template or wildcard after
// looking at every entry).
type linearMatch struct {
	templates []string
	ids       []string
}

func (m *linearMatch) resolve(path string) (string, bool) {
	best, bestScore := -1, -1
	for i, t := range m.templates {
		if t == path {
			return m.ids[i], true
		}
		if s := templateScore(t, path); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return "", false
	}
	return m.ids[best], true
}

// templateScore is -1 when t does not match path, else a preference:
// {param} templates over prefix wildcards over suffix patterns.
func templateScore(t, path string) int {
	if suffix, ok := strings.CutPrefix(t, "/*."); ok {
		if strings.HasSuffix(path, "."+suffix) {
			return 0
		}
		return -1
	}
	if prefix, ok := strings.CutSuffix(t, "/*"); ok && !strings.Contains(prefix, "{") {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return 1 + len(prefix)
		}
		return -1
	}
	ts, ps := strings.Split(t, "/"), strings.Split(path, "/")
	wild := ts[len(ts)-1] == "*"
	if wild {
		ts = ts[:len(ts)-1]
		if len(ps) <= len(ts) {
			return -1
		}
	} else if len(ts) != len(ps) {
		return -1
	}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && ps[i] != "" {
			continue
		}
		if seg != ps[i] {
			return -1
		}
	}
	if wild {
		return 1 << 20
	}
	return 1 << 30
}

// BenchmarkMatch is a warm allowed GET (5 permissions) through the full
// middleware with 10 and 10,000 configured paths, the request hitting a
// template near the end of the list. rptguard's compiled matcher keeps the
// time independent of the number of templates; the baseline resolves the
// path with Keycloak's linear loop before the same hand-written decision.
func BenchmarkMatch(b *testing.B) {
	f := newFixture(b, 5)
	auth := bearer(f.rpts(tokenPool)...)
	for _, n := range []int{10, 10000} {
		templates, hit, path := matchTemplates(n)
		b.Run(fmt.Sprintf("t%d", n), func(b *testing.B) {
			type pathDoc struct {
				Path    string           `json:"path"`
				ID      string           `json:"id"`
				Methods []map[string]any `json:"methods,omitempty"`
			}
			docs := make([]pathDoc, len(templates))
			ids := make([]string, len(templates))
			for i, t := range templates {
				ids[i] = fmt.Sprintf("unrelated-%d", i)
				if i == hit {
					ids[i] = f.targetID
				}
				docs[i] = pathDoc{Path: t, ID: ids[i], Methods: []map[string]any{{"method": "GET", "scopes": []string{"view"}}}}
			}
			doc, err := json.Marshal(map[string]any{"paths": docs, "rptguard": map[string]any{"permissions-source": "token"}})
			require.NoError(b, err)
			cfg, err := enforcer.ParseConfig(doc)
			require.NoError(b, err)
			cfg.Realm, cfg.AuthServerURL, cfg.Resource = f.kc.Realm(), f.kc.URL(), f.kc.ClientID()
			cfg.Credentials.Secret = enforcer.Secret(f.kc.ClientSecret())
			e := f.enforcer(b, cfg)
			bl := newBaseline(b, f)
			lm := &linearMatch{templates: templates, ids: ids}
			bl.resolve = lm.resolve
			if id, ok := lm.resolve(path); !ok || id != f.targetID {
				b.Fatalf("setup: baseline resolved %s to %q", path, id)
			}
			for _, side := range []struct {
				name string
				h    http.Handler
			}{{"rptguard", e.Middleware(ok)}, {"baseline", bl}} {
				b.Run(side.name, func(b *testing.B) {
					c := newCaller(side.h, path)
					for _, a := range auth {
						if !c.do(a, http.StatusOK) {
							b.Fatalf("warm-up: status %d", c.rec.Code)
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; b.Loop(); i++ {
						if !c.do(auth[i%len(auth)], http.StatusOK) {
							b.Fatalf("status %d", c.rec.Code)
						}
					}
				})
			}
		})
	}
}
