package keycloaktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// adapterPaths is the servlet-policy-enforcer test app configuration of
// SPEC §2.5 (AbstractServletPolicyEnforcerTest), in configuration order.
var adapterPaths = []string{
	"/index.jsp",
	"/resource/{pattern}/{sub-resource}",
	"/{pattern}/resource-a",
	"/{pattern}/resource-b",
	"/resource-c",
	"/a/{pattern}/resource-d",
	"/resource/{pattern}",
	"/resource/{pattern}/f/{resource}",
	"/resource",
	"/file/*.suffix",
	"/resource/{pattern}/i/{resource}/*",
	"/api/{version}/{resource}",
	"/keycloak_json_uri",
	"/keycloak-6623/*",
	"/keycloak-6623/sub-resource/*",
	"/keycloak-7148/{id}/*",
	"/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix",
	"/keycloak-7269/sub-resource2/*",
	"/keycloak-8823/resource/v1/subresource/{id}/entities",
	"/keycloak-8823/resource/v1/subresource/{id}/{other}",
}

func TestMatchPathAdapterTable(t *testing.T) {
	t.Parallel()
	reversed17 := append([]string{}, adapterPaths...)
	n := len(reversed17)
	reversed17[n-1], reversed17[n-2] = reversed17[n-2], reversed17[n-1]
	tests := []struct {
		request string
		want    string // "" = no match
	}{
		{"/resource/a/b", "/resource/{pattern}/{sub-resource}"},
		{"/a/resource-a", "/{pattern}/resource-a"},
		{"/b/resource-a", "/{pattern}/resource-a"},
		{"/resource-c", "/resource-c"},
		{"/a/b/resource-d", "/a/{pattern}/resource-d"},
		{"/resource/b/resource-d", "/resource/{pattern}/{sub-resource}"},
		{"/resource/a", "/resource/{pattern}"},
		{"/resource/a/f/b", "/resource/{pattern}/f/{resource}"},
		{"/resource", "/resource"},
		{"/file/*.suffix", "/file/*.suffix"},
		{"/other/x.suffix", "/file/*.suffix"},
		{"/resource/a/i/b/c/d/e", "/resource/{pattern}/i/{resource}/*"},
		{"/resource/a/i/b/c/", "/resource/{pattern}/i/{resource}/*"},
		{"/api/v1/resource-a", "/api/{version}/{resource}"},
		{"/api/v1", ""},
		{"/api/v1/", ""},
		{"/api", ""},
		{"/api/", ""},
		{"/keycloak-6623", "/keycloak-6623/*"},
		{"/keycloak-6623/sub-resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-6623/sub-resource/resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-7148/1", "/keycloak-7148/{id}/*"},
		{"/keycloak-7148/1/sub-a/2/sub-b", "/keycloak-7148/{id}/*"},
		{"/keycloak-7148", ""},
		{"/keycloak-7269/sub-resource1/whatever/specialSuffix", "/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix"},
		{"/keycloak-7269/sub-resource2/w/h/a/t", "/keycloak-7269/sub-resource2/*"},
		{"/keycloak-8823/resource/v1/subresource/123/entities", "/keycloak-8823/resource/v1/subresource/{id}/entities"},
		{"/keycloak-8823/resource/v1/subresource/123/someother", "/keycloak-8823/resource/v1/subresource/{id}/{other}"},
		{"/realm_uri", ""},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			t.Parallel()
			for _, paths := range [][]string{adapterPaths, reversed17} {
				got := ""
				if i := matchPath(paths, tt.request); i >= 0 {
					got = paths[i]
				}
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestMatchPathRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		patterns []string
		request  string
		want     string
	}{
		{"wildcard does not match a longer sibling", []string{"/api/*"}, "/apix", ""},
		{"wildcard matches its base", []string{"/api/*"}, "/api", "/api/*"},
		{"more segments wins among wildcards", []string{"/api/*", "/api/v1/*"}, "/api/v1/x", "/api/v1/*"},
		{"more segments wins, reversed", []string{"/api/v1/*", "/api/*"}, "/api/v1/x", "/api/v1/*"},
		{"exact over template", []string{"/a/{id}", "/a/b"}, "/a/b", "/a/b"},
		{"template over suffix", []string{"/*.json", "/x/{id}"}, "/x/1.json", "/x/{id}"},
		{"suffix over wildcard", []string{"/*", "/*.json"}, "/x/1.json", "/*.json"},
		{"order dependence 1", []string{"/a/{x}/*", "/{p}/{q}/c"}, "/a/b/c", "/a/{x}/*"},
		{"order dependence 2", []string{"/{p}/{q}/c", "/a/{x}/*"}, "/a/b/c", "/{p}/{q}/c"},
		{"placeholder is a whole segment", []string{"/api/{id}.json"}, "/api/5.json", ""},
		{"two placeholders in a segment", []string{"/api/{a}-{b}"}, "/api/x-y", ""},
		{"empty braces still match", []string{"/api/{}/foo"}, "/api/1/foo", "/api/{}/foo"},
		{"unclosed brace", []string{"/api/{id"}, "/api/1", ""},
		{"empty pattern skipped", []string{"", "/x"}, "/x", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			if i := matchPath(tt.patterns, tt.request); i >= 0 {
				got = tt.patterns[i]
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"/api/admin;x=1", "/api/admin", true},
		{"/api/admin;jsessionid=abc123", "/api/admin", true},
		{"/api/admin/", "/api/admin", true},
		{"/api//admin", "/api/admin", true},
		{"//api///admin", "/api/admin", true},
		{"/api/foo/../admin", "/api/admin", true},
		{"/api/./admin", "/api/admin", true},
		{"/api/%61dmin", "/api/admin", true},
		{"/%61pi/%61dmin", "/api/admin", true},
		{"/api/%2Fadmin", "/api/admin", true},
		{"//api/foo/../admin;y=2/", "/api/admin", true},
		{"/api/admin?x=1", "/api/admin", true},
		{"/api/admin#section", "/api/admin", true},
		{"/api/admin;x=1?redirect=/evil", "/api/admin", true},
		{"/api/search%3Ffoo", "/api/search?foo", true},
		{"/api/admin%20area", "/api/admin area", true},
		{"/", "/", true},
		{"/api/redirect-to-https://x", "/api/redirect-to-https:/x", true},
		{"https://kc.example.com/api//admin/", "https://kc.example.com/api/admin", true},
		{"/api/admin%", "", false},
		{"/api/foo/../admin%", "", false},
		{"foo:bar", "", false},
		{"https:///api/admin", "", false},
		{"https://[not-ipv6]/api/admin", "", false},
		{"/api/a b", "", false},
		{"/api/<x>", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := normalizePath(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	// Through the matcher (PathMatcherTest: patterns /api/admin + /*).
	for _, in := range []string{"/api/admin;x=1", "/api/%61dmin", "/api/admin/", "/api/x/../admin"} {
		assert.Equal(t, 0, matchPath([]string{"/api/admin", "/*"}, in), in)
	}
	for _, in := range []string{"/api/admin%", "foo:bar", "https:///api/admin"} {
		assert.Equal(t, -1, matchPath([]string{"/api/admin", "/*"}, in), in)
	}
}

func FuzzNormalizeAndMatch(f *testing.F) {
	for _, s := range []string{"/api/admin;x=1", "/a/{x}/*", "//x/../y%2F", "https://[::1]/a", "/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, ok := normalizePath(p)
		if !ok {
			return
		}
		n2, ok2 := normalizePath(n)
		_ = n2
		_ = ok2
		_ = matchPath(append([]string{p}, adapterPaths...), n)
	})
}

func FuzzDecodeClaimToken(f *testing.F) {
	for _, s := range []string{"eyJhIjpbImIiXX0=", "eyJhIjoiYiJ9", "W10", "%%%", "eyJhIjp7fX0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, ok := decodeClaimToken(tok)
		if !ok {
			if claims != nil {
				t.Fatal("claims returned with failure")
			}
			return
		}
		for k, v := range claims {
			if v == nil {
				t.Fatalf("claim %q decoded to nil", k)
			}
		}
	})
}
