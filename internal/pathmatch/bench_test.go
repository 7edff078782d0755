package pathmatch

import (
	"fmt"
	"strings"
	"testing"
)

// benchTemplates builds n templates shaped like a real configuration:
// per service a literal root, an item template, a nested wildcard and a
// catch-all, plus a few suffix patterns.
func benchTemplates(n int) []string {
	out := []string{"/*.css", "/*.js"}
	for i := 0; len(out) < n; i++ {
		svc := fmt.Sprintf("/svc%d", i)
		out = append(out,
			svc+"/items",
			svc+"/items/{id}",
			svc+"/items/{id}/parts/{part}/*",
			svc+"/*",
		)
	}
	return out[:n]
}

// BenchmarkMatch compares the compiled trie with the linear port of
// Keycloak's PathMatcher loop (both on an already normalized path, so only
// matching is measured), for 10 and 10,000 templates.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 10000} {
		templates := benchTemplates(n)
		m, err := Compile(templates)
		if err != nil {
			b.Fatal(err)
		}
		kc := newKCPathMatcher(templates)
		// A hit on the last service (the worst case for the linear loop).
		last := (n - 2) / 4
		if (n-2)%4 < 2 {
			last--
		}
		path := fmt.Sprintf("/svc%d/items/12345", last)
		if r, ok := m.Match(path); !ok || r.Kind != KindTemplate {
			b.Fatalf("setup: %s not matched as a template", path)
		}
		if got, _ := kc.match(path); got != m.Template(mustMatch(m, path)) {
			b.Fatalf("setup: disagreement on %s", path)
		}
		b.Run(fmt.Sprintf("templates=%d/rptguard", n), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, ok := m.Match(path); !ok {
					b.Fatal("no match")
				}
			}
		})
		b.Run(fmt.Sprintf("templates=%d/baseline", n), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, ok := kc.match(path); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func mustMatch(m *Matcher, p string) int {
	r, _ := m.Match(p)
	return r.Index
}

// BenchmarkMatchPathLength shows the cost growing with the path, not the
// configuration.
func BenchmarkMatchPathLength(b *testing.B) {
	m, err := Compile([]string{"/a/*", "/a/{x}/*"})
	if err != nil {
		b.Fatal(err)
	}
	for _, segs := range []int{4, 16, 64} {
		path := "/a" + strings.Repeat("/seg", segs-1)
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Match(path)
			}
		})
	}
}

// BenchmarkCanonicalize: rptguard's strict and Keycloak modes against the
// baseline, the straightforward port of Keycloak's normalizeUri.
func BenchmarkCanonicalize(b *testing.B) {
	for _, in := range []struct{ name, target string }{
		{"canonical", "/api/v1/orders/12345/items?expand=true"},
		{"encoded", "/api/v1/%6Frders/12345/it%65ms/a%3fb/"},
	} {
		b.Run(in.name+"/rptguard", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(in.target, ModeStrict, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/rptguard-keycloak", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(in.target, ModeKeycloak, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := kcNormalize(in.target); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
