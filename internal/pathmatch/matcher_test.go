package pathmatch

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adapterApp is the policy-enforcer "paths" of Keycloak's servlet test app
// (keycloak/keycloak testsuite/integration-arquillian/test-apps/
// servlet-policy-enforcer/src/main/webapp/WEB-INF/keycloak.json), in
// configuration order.
var adapterApp = []string{
	"/index.jsp",
	"/",
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
	"/keycloak-6623/sub-resource/*",
	"/keycloak-6623/*",
	"/keycloak-7148/{id}/*",
	"/keycloak-7269/sub-resource1",
	"/keycloak-7269/sub-resource2/*",
	"/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix",
	"/keycloak-8823/resource/{version}/subresource/{id}/{other}",
	"/keycloak-8823/resource/{version}/subresource/{id}/entities",
}

// serverResources are the resource URIs of keycloak-client's
// ResourceManagementWithAuthzClientTest#testFindMatchingUri, in creation order.
var serverResources = []string{
	"/*",
	"/resources/*",
	"/resources-a/*",
	"/resources-b/{pattern}",
	"/resources-c/{pattern}/*",
	"/resources/{pattern}/{pattern}/*",
	"/resources/{pattern}/sub-resources/{pattern}/*",
	"/resources/{pattern}/sub-resources/{pattern}/*",
	"/rest/{version}/loader/loadTwo",
	"/rest/{version}/loader/load",
	"/rest/{version}/carts/{cartId}/cartactions/{actionId}",
	"/rest/v1/carts/{cartId}/cartactions/123",
	"/dummy/605dc7ff310256017a2ec84f",
	"/dummy/605dc7ff310256017a2ec84f/*",
}

type matchCase struct {
	request string // raw request target
	want    string // winning template, "" = no match
}

func runMatchCases(t *testing.T, mode Mode, templates []string, cases []matchCase) {
	t.Helper()
	m, err := Compile(templates, WithMode(mode))
	require.NoError(t, err)
	kc := newKCPathMatcher(templates)
	for _, tt := range cases {
		t.Run(tt.request, func(t *testing.T) {
			c, err := Canonicalize(tt.request, mode, Limits{})
			require.NoError(t, err)
			res, ok := m.Match(c.Path)
			got := ""
			if ok {
				got = m.Template(res.Index)
			}
			assert.Equal(t, tt.want, got)
			// The linear port agrees (in configuration order).
			kcGot, _ := kc.match(c.Path)
			assert.Equal(t, tt.want, kcGot, "Keycloak port")
		})
	}
}

// TestMatchAdapterApp: SPEC §2.5, first table.
func TestMatchAdapterApp(t *testing.T) {
	t.Parallel()
	const (
		p1  = "/resource/{pattern}/{sub-resource}"
		p10 = "/resource/{pattern}/i/{resource}/*"
		p15 = "/keycloak-7148/{id}/*"
		p17 = "/keycloak-8823/resource/{version}/subresource/{id}/{other}"
	)
	cases := []matchCase{
		{"/resource/a/b", p1},
		{"/a/resource-a", "/{pattern}/resource-a"},
		{"/b/resource-a", "/{pattern}/resource-a"},
		{"/resource-c", "/resource-c"},
		{"/a/b/resource-d", "/a/{pattern}/resource-d"},
		{"/resource/b/resource-d", p1},
		{"/resource/a", "/resource/{pattern}"},
		{"/resource/a/f/b", "/resource/{pattern}/f/{resource}"},
		{"/resource", "/resource"},
		{"/file/*.suffix", "/file/*.suffix"},
		{"/resource/a/i/b/c/d/e", p10},
		{"/resource/a/i/b/c/", p10},
		{"/api/v1/resource-a", "/api/{version}/{resource}"},
		{"/api/v1", ""},
		{"/api/v1/", ""},
		{"/api", ""},
		{"/api/", ""},
		{"/keycloak-6623", "/keycloak-6623/*"},
		{"/keycloak-6623/sub-resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-6623/sub-resource/resource", "/keycloak-6623/sub-resource/*"},
		{"/keycloak-7148/1", p15},
		{"/keycloak-7148/1/sub-a/2/sub-b", p15},
		{"/keycloak-7269/sub-resource1/whatever/specialSuffix", "/keycloak-7269/sub-resource1/{test-pattern}/specialSuffix"},
		{"/keycloak-7269/sub-resource2/w/h/a/t", "/keycloak-7269/sub-resource2/*"},
		{"/keycloak-8823/resource/v1/subresource/123/entities", "/keycloak-8823/resource/{version}/subresource/{id}/entities"},
		{"/keycloak-8823/resource/v1/subresource/123/someother", p17},
		{"/realm_uri", ""},
		{"/", "/"},
		{"/index.jsp", "/index.jsp"},
	}
	runMatchCases(t, ModeStrict, adapterApp, cases)
	runMatchCases(t, ModeKeycloak, adapterApp, cases)
}

// TestMatchServerMatchingURI: SPEC §2.5, second table (Keycloak mode: the
// literal-brace requests arrive percent-encoded and are decoded).
func TestMatchServerMatchingURI(t *testing.T) {
	t.Parallel()
	const (
		carts   = "/rest/{version}/carts/{cartId}/cartactions/{actionId}"
		cartsV1 = "/rest/v1/carts/{cartId}/cartactions/123"
	)
	runMatchCases(t, ModeKeycloak, serverResources, []matchCase{
		{"/test", "/*"},
		{"/resources-a/test", "/resources-a/*"},
		{"/resources", "/resources/*"},
		{"/resources/", "/resources/*"},
		{"/resources-b/a", "/resources-b/{pattern}"},
		{"/resources-c/a/b", "/resources-c/{pattern}/*"},
		{"/resources/a/b/c", "/resources/{pattern}/{pattern}/*"},
		{"/resources/a/sub-resources/c/d", "/resources/{pattern}/sub-resources/{pattern}/*"},
		{"/rest/v1/loader/load", "/rest/{version}/loader/load"},
		{"/rest/v2/carts/123/cartactions/123", carts},
		{"/rest/v2/carts/%7BcartId%7D/cartactions/123", carts},
		{"/rest/%7Bversion%7D/carts/123/cartactions/123", carts},
		{"/rest/%7Bversion%7D/carts/%7BcartId%7D/cartactions/123", carts},
		{"/rest/v1/carts/123/cartactions/123", cartsV1},
		{"/rest/v1/carts/%7BcartId%7D/cartactions/123", cartsV1},
		{"/rest/v1/carts/345/cartactions/123", cartsV1},
		{"/rest/v2/carts/345/cartactions/123", carts},
		{"/dummy/605dc7ff310256017a2ec84f/nestedObject/605dc7fe310256017a2ec84c", "/dummy/605dc7ff310256017a2ec84f/*"},
		{"/dummy/605dc7ff310256017a2ec84f", "/dummy/605dc7ff310256017a2ec84f"},
	})
}

// TestMatchKeycloakNormalization: SPEC §2.5 PathMatcherTest list, patterns
// "/api/admin" and "/*" (plus the two decoded targets it names).
func TestMatchKeycloakNormalization(t *testing.T) {
	t.Parallel()
	templates := []string{"/api/admin", "/*", "/api/search?foo", "/api/admin area"}
	var cases []matchCase
	for _, r := range []string{
		"/api/admin;x=1", "/api/admin;jsessionid=abc123", "/api/admin/", "/api//admin",
		"//api///admin", "/api/foo/../admin", "/api/./admin", "/api/%61dmin", "/%61pi/%61dmin",
		"/api/%2Fadmin", "//api/foo/../admin;y=2/", "/api/admin?x=1", "/api/admin#section",
		"/api/admin;x=1?redirect=/evil",
	} {
		cases = append(cases, matchCase{r, "/api/admin"})
	}
	cases = append(cases,
		matchCase{"/api/search%3Ffoo", "/api/search?foo"},
		matchCase{"/api/admin%20area", "/api/admin area"},
		matchCase{"/api/other", "/*"},
	)
	runMatchCases(t, ModeKeycloak, templates, cases)

	for _, r := range []string{"/api/admin%", "/api/foo/../admin%", "foo:bar", "https:///api/admin", "https://[not-ipv6]/api/admin"} {
		_, err := Canonicalize(r, ModeKeycloak, Limits{})
		require.ErrorIs(t, err, ErrBadRequest, r)
		_, kcOK := kcNormalize(r)
		assert.False(t, kcOK, "Keycloak finds no match for %q", r)
	}
}

// TestMatchSecurityFixture: security.md group (f) rows about matching, with
// its fixture (/public/*, /admin/*, /api/{id}).
func TestMatchSecurityFixture(t *testing.T) {
	t.Parallel()
	fixture := []string{"/public/*", "/admin/*", "/api/{id}"}
	runMatchCases(t, ModeStrict, fixture, []matchCase{
		{"/public", "/public/*"},                // F19: /x/* matches /x
		{"/public/", "/public/*"},               // F6
		{"/public/a/b", "/public/*"},            //
		{"/publicity", ""},                      // F19: segment boundary
		{"/public-leak", ""},                    // F19
		{"/api/1", "/api/{id}"},                 //
		{"/api/1/", "/api/{id}"},                // F6
		{"/api/1/2", ""},                        // F19: {id} is one segment
		{"/api", ""},                            // {id} is non-empty
		{"/admin/x", "/admin/*"},                //
		{"/%61dmin/x", "/admin/*"},              // F14
		{"/Admin/x", ""},                        // F7: case-sensitive
		{"/%EF%BD%81dmin/x", ""},                // F13: no Unicode folding
		{"/public?/../admin", "/public/*"},      // F16
		{"/admin?x=/public/", "/admin/*"},       // F16
		{"/x/access-denied", ""},                // F18
		{"/admin?r=/access-denied", "/admin/*"}, // F18
	})
	// F18: an exempt path is exempt on an exact match only.
	runMatchCases(t, ModeStrict, []string{"/access-denied"}, []matchCase{
		{"/access-denied", "/access-denied"},
		{"/x/access-denied", ""},
		{"/access-denied/x", ""},
		{"/access-denied?r=1", "/access-denied"},
	})
	// F25: the most specific rule wins, whatever the order.
	for _, order := range [][]string{{"/api/*", "/api/admin/*"}, {"/api/admin/*", "/api/*"}} {
		runMatchCases(t, ModeStrict, order, []matchCase{
			{"/api/admin/x", "/api/admin/*"},
			{"/api/admin", "/api/admin/*"},
			{"/api/x", "/api/*"},
			{"/unmapped", ""},
		})
	}
}

func TestMatchPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		templates []string
		path      string
		want      string
		wantKind  Kind
	}{
		{"exact over template", []string{"/{a}/b", "/a/b"}, "/a/b", "/a/b", KindExact},
		{"exact over template reversed", []string{"/a/b", "/{a}/b"}, "/a/b", "/a/b", KindExact},
		{"template over suffix", []string{"/*.json", "/a/{id}"}, "/a/x.json", "/a/{id}", KindTemplate},
		{"suffix over wildcard", []string{"/a/*", "/*.json"}, "/a/x.json", "/*.json", KindSuffix},
		{"template over wildcard", []string{"/a/*", "/a/{id}"}, "/a/1", "/a/{id}", KindTemplate},
		{"wildcard base is exact", []string{"/{p}", "/x/*"}, "/x", "/x/*", KindExact},
		{"wildcard deeper", []string{"/x/*"}, "/x/a/b", "/x/*", KindWildcard},
		{"root wildcard on root", []string{"/*"}, "/", "/*", KindExact},
		{"more segments wins", []string{"/api/*", "/api/v1/*"}, "/api/v1/x", "/api/v1/*", KindWildcard},
		{"literal wildcard over template wildcard", []string{"/a/{x}/*", "/a/b/*"}, "/a/b/c", "/a/b/*", KindWildcard},
		{"fewer placeholders", []string{"/a/{x}/{y}", "/a/{x}/c"}, "/a/b/c", "/a/{x}/c", KindTemplate},
		{"tie: configuration order", []string{"/a/{x}/c", "/{p}/b/c"}, "/a/b/c", "/a/{x}/c", KindTemplate},
		{"tie: configuration order reversed", []string{"/{p}/b/c", "/a/{x}/c"}, "/a/b/c", "/{p}/b/c", KindTemplate},
		{"placeholder wildcard matches prefix", []string{"/x/{id}/*"}, "/x/1", "/x/{id}/*", KindWildcard},
		{"placeholder wildcard needs the segment", []string{"/x/{id}/*"}, "/x", "", KindNone},
		{"suffix ignores directory (quirk)", []string{"/file/*.suffix"}, "/other/x.suffix", "/file/*.suffix", KindSuffix},
		{"suffix: last one wins", []string{"/*.json", "/a/*.json"}, "/x.json", "/a/*.json", KindSuffix},
		{"suffix: longer extension", []string{"/*.min.js", "/*.js"}, "/a.min.js", "/*.js", KindSuffix},
		{"suffix base is exact (quirk)", []string{"/*", "/a.json/*.json"}, "/a.json", "/a.json/*.json", KindExact},
		{"exact: first in configuration order", []string{"/api/*", "/api"}, "/api", "/api/*", KindExact},
		{"duplicate counts once", []string{"/a/*", "/b", "/a/*"}, "/a/x", "/a/*", KindWildcard},
		{"order-dependence quirk (SPEC §2.4)", []string{"/a/{x}/*", "/{p}/{q}/c"}, "/a/b/c", "/{p}/{q}/c", KindTemplate},
		{"order-dependence quirk reversed", []string{"/{p}/{q}/c", "/a/{x}/*"}, "/a/b/c", "/{p}/{q}/c", KindTemplate},
		{"no match", []string{"/a"}, "/b", "", KindNone},
		{"empty configuration", nil, "/b", "", KindNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Compile(tt.templates)
			require.NoError(t, err)
			res, ok := m.Match(tt.path)
			assert.Equal(t, tt.wantKind, res.Kind)
			if tt.want == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, m.Template(res.Index))
		})
	}
}

// TestMatchOrderQuirk pins the one documented divergence: Keycloak's answer
// for SPEC §2.4's example depends on the order; ours does not.
func TestMatchOrderQuirk(t *testing.T) {
	t.Parallel()
	got, _ := newKCPathMatcher([]string{"/a/{x}/*", "/{p}/{q}/c"}).match("/a/b/c")
	assert.Equal(t, "/a/{x}/*", got)
	got, _ = newKCPathMatcher([]string{"/{p}/{q}/c", "/a/{x}/*"}).match("/a/b/c")
	assert.Equal(t, "/{p}/{q}/c", got)
}

func TestMatchParams(t *testing.T) {
	t.Parallel()
	m, err := Compile([]string{"/api/{v}/items/{id}", "/x/{a}/y/{b}/*", "/api/v1/items/{id}"})
	require.NoError(t, err)

	path := "/api/v2/items/42"
	res, ok := m.Match(path)
	require.True(t, ok)
	assert.Equal(t, 0, res.Index)
	require.Equal(t, 2, res.NumParams())
	assert.Equal(t, Span{5, 7}, res.Param(0))
	assert.Equal(t, "v2", res.Value(path, 0))
	assert.Equal(t, "42", res.Value(path, 1))
	assert.Equal(t, []string{"v", "id"}, m.ParamNames(0))

	path = "/x/1/y/22/z/w"
	res, ok = m.Match(path)
	require.True(t, ok)
	assert.Equal(t, KindWildcard, res.Kind)
	assert.Equal(t, "1", res.Value(path, 0))
	assert.Equal(t, "22", res.Value(path, 1))

	res, ok = m.Match("/api/v1/items/7")
	require.True(t, ok)
	assert.Equal(t, 2, res.Index, "fewer placeholders")
	assert.Equal(t, "7", res.Value("/api/v1/items/7", 0))
	assert.Panics(t, func() { res.Param(1) })
}

func TestMatchNonCanonicalInput(t *testing.T) {
	t.Parallel()
	m, err := Compile([]string{"/*", "/a/{x}", "/*.js"})
	require.NoError(t, err)
	for _, p := range []string{"", "a", "//", "/a//", "/a/", "/.", "/a/../b", "\x00"} {
		assert.NotPanics(t, func() { m.Match(p) }, p)
	}
}

func TestMatchZeroAllocs(t *testing.T) {
	m, err := Compile(append(append([]string{"/*.css"}, adapterApp...), serverResources...))
	require.NoError(t, err)
	paths := []string{
		"/resource/a/b", "/keycloak-7148/1/sub-a/2/sub-b", "/resource", "/x/y.suffix",
		"/rest/v1/carts/345/cartactions/123", "/nothing/here", "/a.css",
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, p := range paths {
			res, _ := m.Match(p)
			_ = res
		}
	})
	assert.Zero(t, allocs)
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template string
		mode     Mode
		wantErr  bool
	}{
		{name: "root", template: "/"},
		{name: "literal", template: "/api/orders"},
		{name: "root wildcard", template: "/*"},
		{name: "wildcard", template: "/api/*"},
		{name: "suffix", template: "/*.html"},
		{name: "suffix with directory", template: "/file/*.suffix"},
		{name: "placeholders", template: "/api/{v}/items/{id}"},
		{name: "placeholder wildcard", template: "/api/{v}/items/{id}/*"},
		{name: "reserved kept encoded", template: "/files/a%3Fb"},
		{name: "sub-delims", template: "/a!$&'()+,=:@b"},
		{name: "keycloak decoded", template: "/api/search?foo", mode: ModeKeycloak},
		{name: "keycloak space", template: "/api/admin area", mode: ModeKeycloak},
		{name: "keycloak percent", template: "/a%b", mode: ModeKeycloak},

		{name: "empty", template: "", wantErr: true},
		{name: "relative", template: "api", wantErr: true},
		{name: "nested braces", template: "/{a{b}}", wantErr: true},
		{name: "unbalanced open", template: "/a/{b", wantErr: true},
		{name: "unbalanced close", template: "/a/b}", wantErr: true},
		{name: "empty braces", template: "/api/{}/foo", wantErr: true},
		{name: "slash in braces", template: "/{a/b}", wantErr: true},
		{name: "mid-path star", template: "/api/*/x", wantErr: true},
		{name: "star in segment", template: "/a*b", wantErr: true},
		{name: "double star", template: "/api/**", wantErr: true},
		{name: "empty extension", template: "/*.", wantErr: true},
		{name: "star then star", template: "/*.*", wantErr: true},
		{name: "partial placeholder", template: "/api/{id}.json", wantErr: true},
		{name: "two placeholders in a segment", template: "/api/{a}-{b}", wantErr: true},
		{name: "placeholder in suffix pattern", template: "/{d}/*.json", wantErr: true},
		{name: "double slash", template: "//a", wantErr: true},
		{name: "inner double slash", template: "/a//b", wantErr: true},
		{name: "dot segment", template: "/a/./b", wantErr: true},
		{name: "dot-dot segment", template: "/a/../b", wantErr: true},
		{name: "trailing slash", template: "/a/", wantErr: true},
		{name: "encoded slash", template: "/a%2Fb", wantErr: true},
		{name: "encoded dot", template: "/a%2Eb", wantErr: true},
		{name: "unreserved encoded", template: "/%61dmin", wantErr: true},
		{name: "lower-case hex", template: "/a%3fb", wantErr: true},
		{name: "raw space", template: "/a b", wantErr: true},
		{name: "matrix", template: "/a;x", wantErr: true},
		{name: "backslash", template: "/a\\b", wantErr: true},
		{name: "question mark", template: "/a?b", wantErr: true},
		{name: "too many placeholders", template: "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}", wantErr: true},
		{name: "keycloak matrix", template: "/a;x", mode: ModeKeycloak, wantErr: true},
		{name: "keycloak control", template: "/a\nb", mode: ModeKeycloak, wantErr: true},
		{name: "keycloak dots", template: "/a/..", mode: ModeKeycloak, wantErr: true},
		{name: "keycloak trailing slash", template: "/a/", mode: ModeKeycloak, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateTemplateMode(tt.template, tt.mode)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidTemplate)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.NotEmpty(t, te.Problem)
			if tt.mode == ModeStrict {
				require.Error(t, ValidateTemplate(tt.template))
			}
		})
	}
}

func TestCompileReportsIndex(t *testing.T) {
	t.Parallel()
	_, err := Compile([]string{"/ok", "/also/{ok}", "/bad/{"})
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 2, te.Index)
	assert.Contains(t, err.Error(), "missing closing '}'")
}
