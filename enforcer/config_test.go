package enforcer_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rptguard/rptguard/enforcer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keycloak", name))
	require.NoError(tb, err)
	return b
}

// TestLoadConfig_KeycloakFixtures loads every real Keycloak enforcer config.
func TestLoadConfig_KeycloakFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, c enforcer.Config)
		// strictErr is the field enforcer.ParseConfigStrict reports, if any.
		strictErr string
	}{
		{
			name: "bearer-only with cip", file: "kcclient-enforcer-bearer-only-with-cip.json",
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, "authz-test", c.Realm)
				assert.Equal(t, enforcer.Secret("secret"), c.Credentials.Secret)
				require.Contains(t, c.ClaimInformationPoint, "claims")
				require.Len(t, c.Paths, 1)
				assert.Contains(t, c.Paths[0].ClaimInformationPoint, "my-custom-cip")
			},
			// Keycloak ignores unknown CIP providers; strict mode reports them.
			strictErr: "paths[0].claim-information-point.my-custom-cip",
		},
		{
			name: "claims provider", file: "kcclient-enforcer-config-claims-provider.json",
			check: func(t *testing.T, c enforcer.Config) {
				require.Len(t, c.Paths, 4)
				assert.Equal(t, "/claims-provider", c.Paths[0].Path)
				assert.Equal(t, []enforcer.MethodConfig{{Method: "POST", Scopes: []string{"create"}}}, c.Paths[0].Methods)
				assert.Contains(t, c.Paths[2].ClaimInformationPoint, "http")
			},
		},
		{
			name: "paths same name merged", file: "kcclient-enforcer-config-paths-same-name.json",
			check: func(t *testing.T, c enforcer.Config) {
				require.Len(t, c.Paths, 1)
				assert.Equal(t, "/v1/product/*", c.Paths[0].Path)
				var got []string
				for _, m := range c.Paths[0].Methods {
					got = append(got, m.Method+":"+strings.Join(m.Scopes, ","))
				}
				assert.Equal(t, []string{"POST:create", "GET:view", "PUT:update", "DELETE:delete"}, got)
			},
		},
		{
			name: "disabled path nocache", file: "kcclient-enforcer-disabled-path-nocache.json",
			check: func(t *testing.T, c enforcer.Config) {
				require.NotNil(t, c.PathCache)
				assert.Equal(t, enforcer.PathCacheConfig{MaxEntries: enforcer.DefaultPathCacheMaxEntries, Lifespan: 1}, *c.PathCache)
				require.Len(t, c.Paths, 3)
				assert.Equal(t, enforcer.EnforcementDisabled, c.Paths[0].EnforcementMode)
				assert.Equal(t, "Resource B", c.Paths[0].Name)
				assert.Equal(t, enforcer.EnforcementEnforcing, c.Paths[2].EnforcementMode)
			},
		},
		{
			name: "max entries", file: "kcclient-enforcer-max-entries.json",
			check: func(t *testing.T, c enforcer.Config) {
				assert.True(t, c.LazyLoadPaths)
				assert.False(t, c.HTTPMethodAsScope)
				assert.Equal(t, &enforcer.PathCacheConfig{MaxEntries: 1000, Lifespan: 1000}, c.PathCache)
				ttl, on := c.PathCache.TTL()
				assert.True(t, on)
				assert.Equal(t, time.Second, ttl)
				assert.Equal(t, "/{ver}/tenants/{id}", c.Paths[0].Path)
			},
		},
		{
			name: "method config disabled", file: "kcclient-enforcer-paths-use-method-config.json",
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, enforcer.ScopesDisabled, c.Paths[0].Methods[0].ScopesEnforcementMode)
			},
		},
		{
			name: "paths", file: "kcclient-enforcer-paths.json",
			check: func(t *testing.T, c enforcer.Config) {
				require.Len(t, c.Paths, 2)
				assert.Equal(t, "/*", c.Paths[0].Path)
				assert.Equal(t, enforcer.EnforcementDisabled, c.Paths[0].EnforcementMode)
				assert.Nil(t, c.PathCache)
			},
		},
		{
			name: "uma claims", file: "kcclient-enforcer-uma-claims-test.json",
			check: func(t *testing.T, c enforcer.Config) {
				assert.NotNil(t, c.UserManagedAccess)
				assert.Equal(t, "/api/bank/account/{id}/withdrawal", c.Paths[0].Path)
			},
		},
		{
			name: "legacy keycloak.json", file: "quickstarts-uma-photoz-restful-api-keycloak.json",
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, enforcer.EnforcementPermissive, c.EnforcementMode)
				assert.NotNil(t, c.UserManagedAccess)
				assert.Equal(t, "photoz", c.Realm)
				assert.Equal(t, "http://localhost:8180/auth", c.AuthServerURL)
				assert.Equal(t, "photoz-restful-api", c.Resource)
				assert.True(t, c.BearerOnly)
				assert.Equal(t, "external", c.SSLRequired)
				assert.Equal(t, enforcer.Secret("secret"), c.Credentials.Secret)
				require.Len(t, c.Paths, 4)
				assert.Equal(t, "/album/{id}", c.Paths[0].Path)
				assert.Equal(t, []string{"album:delete"}, c.Paths[0].Methods[0].Scopes)
				assert.Equal(t, enforcer.EnforcementDisabled, c.Paths[1].EnforcementMode)
			},
		},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "keycloak", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every fixture has a test case")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := enforcer.LoadConfig(filepath.Join("testdata", "keycloak", tt.file))
			require.NoError(t, err)
			tt.check(t, c)

			_, err = enforcer.ParseConfigStrict(loadFixture(t, tt.file))
			if tt.strictErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, enforcer.ErrUnknownKey)
				require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
				var ce *enforcer.ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.strictErr, ce.Field)
			}

			// Round trip: what we marshal parses back to the same enforcer.Config.
			out, err := json.Marshal(c)
			require.NoError(t, err)
			again, err := enforcer.ParseConfig(out)
			require.NoError(t, err, "%s", out)
			assert.Equal(t, c, again)
		})
	}
}

func TestParseConfig_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		json      string
		wantField string
		wantText  string
		wantErr   error
	}{
		{name: "malformed", json: `{"paths": [`, wantText: "malformed JSON at offset"},
		{name: "not an object", json: `[]`, wantText: "want an object"},
		{name: "misspelled enforcement mode", json: `{"enforcement-mode":"ENFORCNG"}`, wantField: "enforcement-mode", wantText: `unknown value "ENFORCNG"`},
		{name: "lower-case enforcement mode", json: `{"enforcement-mode":"enforcing"}`, wantField: "enforcement-mode", wantText: `unknown value "enforcing"`},
		{name: "enforcement mode number", json: `{"enforcement-mode":1}`, wantField: "enforcement-mode", wantText: "want a string"},
		{name: "scopes mode", json: `{"paths":[{"path":"/a"},{"path":"/b"},{"path":"/c"},{"path":"/d","methods":[{"method":"GET","scopes-enforcement-mode":"ALLL"}]}]}`,
			wantField: "paths[3].methods[0].scopes-enforcement-mode", wantText: `unknown value "ALLL"`},
		{name: "path required", json: `{"paths":[{"name":"x"}]}`, wantField: "paths[0].path", wantText: "required"},
		{name: "path template", json: `{"paths":[{"path":"/a/{id"}]}`, wantField: "paths[0].path", wantText: "pathmatch"},
		{name: "path not canonical", json: `{"paths":[{"path":"/a/../b"}]}`, wantField: "paths[0].path"},
		{name: "lower-case method", json: `{"paths":[{"path":"/a","methods":[{"method":"get"}]}]}`, wantField: "paths[0].methods[0].method", wantText: "upper-case"},
		{name: "method missing", json: `{"paths":[{"path":"/a","methods":[{"scopes":["x"]}]}]}`, wantField: "paths[0].methods[0].method", wantText: "required"},
		{name: "method with space", json: `{"paths":[{"path":"/a","methods":[{"method":"GET X"}]}]}`, wantField: "paths[0].methods[0].method"},
		{name: "empty scope", json: `{"paths":[{"path":"/a","scopes":[""]}]}`, wantField: "paths[0].scopes[0]"},
		{name: "scopes not strings", json: `{"paths":[{"path":"/a","scopes":[1]}]}`, wantField: "paths[0].scopes", wantText: "array of strings"},
		{name: "duplicate key", json: `{"realm":"a","realm":"b"}`, wantField: "realm", wantText: "duplicate key"},
		{name: "case variant key", json: `{"Enforcement-Mode":"DISABLED"}`, wantField: "Enforcement-Mode", wantText: `did you mean "enforcement-mode"`},
		{name: "case variant path key", json: `{"paths":[{"path":"/a","Enforcement-Mode":"DISABLED"}]}`, wantField: "paths[0].Enforcement-Mode"},
		{name: "lifespan range", json: `{"path-cache":{"lifespan":-5}}`, wantField: "path-cache.lifespan"},
		{name: "max entries zero", json: `{"path-cache":{"max-entries":0}}`, wantField: "path-cache.max-entries"},
		{name: "max entries float", json: `{"path-cache":{"max-entries":1.5}}`, wantField: "path-cache.max-entries", wantText: "want an integer"},
		{name: "redirect absolute", json: `{"on-deny-redirect-to":"https://evil.example/"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect protocol relative", json: `{"on-deny-redirect-to":"//evil.example/"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect backslash", json: `{"on-deny-redirect-to":"/\\evil.example"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect tab", json: `{"on-deny-redirect-to":"/\t/evil.example"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect relative", json: `{"on-deny-redirect-to":"denied"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect dot segment", json: `{"on-deny-redirect-to":"/app/../denied"}`, wantField: "on-deny-redirect-to"},
		{name: "redirect javascript", json: `{"on-deny-redirect-to":"javascript:alert(1)"}`, wantField: "on-deny-redirect-to"},
		{name: "auth server http remote", json: `{"auth-server-url":"http://kc.example.com"}`, wantField: "auth-server-url", wantText: "loopback"},
		{name: "auth server not url", json: `{"auth-server-url":"kc.example.com"}`, wantField: "auth-server-url"},
		{name: "auth server userinfo", json: `{"auth-server-url":"https://u:p@kc.example.com"}`, wantField: "auth-server-url"},
		{name: "ssl required", json: `{"ssl-required":"sometimes"}`, wantField: "ssl-required"},
		{name: "timeout range", json: `{"socket-timeout-millis":-7}`, wantField: "socket-timeout-millis"},
		{name: "credentials secret type", json: `{"credentials":{"secret":42}}`, wantField: "credentials.secret", wantText: "want a string"},
		{name: "credentials case duplicate", json: `{"credentials":{"secret":"a","Secret":"b"}}`, wantField: "credentials.Secret"},
		{name: "rptguard unknown key", json: `{"rptguard":{"leway":"1s"}}`, wantField: "rptguard.leway", wantErr: enforcer.ErrUnknownKey},
		{name: "rptguard case variant", json: `{"rptguard":{"Leeway":"1s"}}`, wantField: "rptguard.Leeway", wantErr: enforcer.ErrUnknownKey},
		{name: "rptguard path unknown key", json: `{"paths":[{"path":"/a","rptguard":{"rule":"x"}}]}`, wantField: "paths[0].rptguard.rule", wantErr: enforcer.ErrUnknownKey},
		{name: "leeway too large", json: `{"rptguard":{"leeway":"301s"}}`, wantField: "rptguard.leeway"},
		{name: "leeway negative", json: `{"rptguard":{"leeway":"-1s"}}`, wantField: "rptguard.leeway", wantText: "negative"},
		{name: "leeway number", json: `{"rptguard":{"leeway":30}}`, wantField: "rptguard.leeway", wantText: "duration string"},
		{name: "canonicalization", json: `{"rptguard":{"path-canonicalization":"loose"}}`, wantField: "rptguard.path-canonicalization"},
		{name: "token verification", json: `{"rptguard":{"token-verification":"none"}}`, wantField: "rptguard.token-verification"},
		{name: "interval without hybrid", json: `{"rptguard":{"introspection-interval":"1m"}}`, wantField: "rptguard.introspection-interval"},
		{name: "alg none", json: `{"rptguard":{"allowed-algorithms":["RS256","none"]}}`, wantField: "rptguard.allowed-algorithms[1]"},
		{name: "alg hs256", json: `{"rptguard":{"allowed-algorithms":["HS256"]}}`, wantField: "rptguard.allowed-algorithms[0]"},
		{name: "max token size", json: `{"rptguard":{"max-token-size":10}}`, wantField: "rptguard.max-token-size"},
		{name: "cache entries", json: `{"rptguard":{"token-cache":{"max-entries":-2}}}`, wantField: "rptguard.token-cache.max-entries"},
		{name: "cache ttl", json: `{"rptguard":{"uma-cache":{"max-ttl":"48h"}}}`, wantField: "rptguard.uma-cache.max-ttl"},
		{name: "cache unknown key", json: `{"rptguard":{"uma-cache":{"ttl":"1h"}}}`, wantField: "rptguard.uma-cache.ttl", wantErr: enforcer.ErrUnknownKey},
		{name: "decision rule", json: `{"rptguard":{"decision-rule":"data..x"}}`, wantField: "rptguard.decision-rule"},
		{name: "permissions source", json: `{"paths":[{"path":"/a","rptguard":{"permissions-source":"magic"}}]}`, wantField: "paths[0].rptguard.permissions-source"},
		{name: "stale-ok needs staleness", json: `{"rptguard":{"on-outage":"stale-ok"}}`, wantField: "rptguard.max-staleness", wantText: "required"},
		{name: "staleness without stale-ok", json: `{"rptguard":{"on-outage":"deny","max-staleness":"1m"}}`, wantField: "rptguard.max-staleness"},
		{name: "outage value", json: `{"rptguard":{"on-outage":"allow"}}`, wantField: "rptguard.on-outage"},
		{name: "max body bytes", json: `{"rptguard":{"max-body-bytes":-1}}`, wantField: "rptguard.max-body-bytes"},
		{name: "cip placeholder without dot", json: `{"claim-information-point":{"claims":{"a":"{nodot}"}}}`, wantField: "claim-information-point.claims.a", wantText: "no resolver name"},
		{name: "cip unknown request attribute", json: `{"paths":[{"path":"/a","claim-information-point":{"claims":{"a":"{request.foo}"}}}]}`, wantField: "paths[0].claim-information-point.claims.a"},
		{name: "cip bad pointer", json: `{"claim-information-point":{"claims":{"a":"{request.body['a/b']}"}}}`, wantField: "claim-information-point.claims.a", wantText: "JSON pointer"},
		{name: "cip claim not string", json: `{"claim-information-point":{"claims":{"a":1}}}`, wantField: "claim-information-point.claims.a"},
		{name: "cip http no url", json: `{"claim-information-point":{"http":{"method":"GET"}}}`, wantField: "claim-information-point.http.url"},
		{name: "cip http remote plain", json: `{"claim-information-point":{"http":{"url":"http://cip.example.com/x"}}}`, wantField: "claim-information-point.http.url"},
		{name: "cip http bad header", json: `{"claim-information-point":{"http":{"url":"https://cip.example.com/x","headers":{"a b":"x"}}}}`, wantField: "claim-information-point.http.headers.a b"},
		{name: "duplicate path conflicting mode", json: `{"paths":[{"path":"/a"},{"path":"/a","enforcement-mode":"DISABLED"}]}`, wantField: "paths[1].enforcement-mode"},
		{name: "legacy rptguard twice", json: `{"rptguard":{"leeway":"1s"},"policy-enforcer":{"rptguard":{"leeway":"2s"}}}`, wantField: "rptguard"},
		{name: "legacy inner not object", json: `{"policy-enforcer":[]}`, wantField: "policy-enforcer", wantText: "want an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := enforcer.ParseConfig([]byte(tt.json))
			require.Error(t, err)
			require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			var ce *enforcer.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantField, ce.Field, "error: %v", err)
			if tt.wantText != "" {
				assert.Contains(t, err.Error(), tt.wantText)
			}
		})
	}
}

func TestParseConfig_Valid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c enforcer.Config)
	}{
		{name: "empty", json: `{}`, check: func(t *testing.T, c enforcer.Config) { assert.Equal(t, enforcer.Config{}, c) }},
		{name: "nulls are absent", json: `{"realm":null,"paths":null,"path-cache":null,"user-managed-access":null,"rptguard":null}`,
			check: func(t *testing.T, c enforcer.Config) { assert.Equal(t, enforcer.Config{}, c) }},
		{name: "path cache defaults", json: `{"path-cache":{}}`, check: func(t *testing.T, c enforcer.Config) {
			assert.Equal(t, &enforcer.PathCacheConfig{MaxEntries: 1000, Lifespan: 30000}, c.PathCache)
			ttl, on := c.PathCache.TTL()
			assert.True(t, on)
			assert.Equal(t, 30*time.Second, ttl)
		}},
		{name: "path cache never expires", json: `{"path-cache":{"lifespan":-1}}`, check: func(t *testing.T, c enforcer.Config) {
			ttl, on := c.PathCache.TTL()
			assert.True(t, on)
			assert.Zero(t, ttl)
		}},
		{name: "path cache disabled", json: `{"path-cache":{"lifespan":0}}`, check: func(t *testing.T, c enforcer.Config) {
			_, on := c.PathCache.TTL()
			assert.False(t, on)
		}},
		{name: "unknown keycloak keys tolerated", json: `{"future-key":1,"paths":[{"path":"/a","invalidated":true,"static":false,"x":1,"methods":[{"method":"GET","y":2}]}]}`,
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, []enforcer.PathConfig{{Path: "/a", Methods: []enforcer.MethodConfig{{Method: "GET"}}}}, c.Paths)
			}},
		{name: "redirect ok", json: `{"on-deny-redirect-to":"/app/accessDenied.jsp?x=1"}`, check: func(t *testing.T, c enforcer.Config) {
			assert.Equal(t, "/app/accessDenied.jsp?x=1", c.OnDenyRedirectTo)
		}},
		{name: "insecure http allowed", json: `{"auth-server-url":"http://kc.internal:8080","rptguard":{"insecure-allow-http":true}}`,
			check: func(t *testing.T, c enforcer.Config) { assert.True(t, c.RPTGuard.InsecureAllowHTTP) }},
		{name: "ipv6 loopback http", json: `{"auth-server-url":"http://[::1]:8080"}`, check: func(t *testing.T, c enforcer.Config) {}},
		{name: "ssl-required case-insensitive", json: `{"ssl-required":"EXTERNAL"}`, check: func(t *testing.T, c enforcer.Config) {
			assert.Equal(t, "external", c.SSLRequired)
		}},
		{name: "credentials", json: `{"credentials":{"Secret-JWT":{"secret":"s3","algorithm":"HS512"},"JWT":{"client-keystore-file":"k.p12","client-key-password":"pw","token-timeout":20},"provider-x":{"a":1}}}`,
			check: func(t *testing.T, c enforcer.Config) {
				require.NotNil(t, c.Credentials.SecretJWT)
				assert.Equal(t, enforcer.Secret("s3"), c.Credentials.SecretJWT.Secret)
				assert.Equal(t, "HS512", c.Credentials.SecretJWT.Algorithm)
				require.NotNil(t, c.Credentials.JWT)
				assert.Equal(t, int64(20), c.Credentials.JWT.TokenExpiration)
				assert.Equal(t, enforcer.Secret("pw"), c.Credentials.JWT.ClientKeyPassword)
				assert.JSONEq(t, `{"a":1}`, string(c.Credentials.Other["provider-x"]))
			}},
		{name: "adapter keys standalone", json: `{"bearer-only":true,"public-client":true,"verify-token-audience":true,"connection-timeout-millis":-1,"socket-timeout-millis":5000,"token-minimum-time-to-live":10}`,
			check: func(t *testing.T, c enforcer.Config) {
				assert.True(t, c.BearerOnly)
				assert.True(t, c.PublicClient)
				assert.True(t, c.VerifyTokenAudience)
				assert.Equal(t, int64(-1), c.ConnectionTimeoutMillis)
				assert.Equal(t, int64(5000), c.SocketTimeoutMillis)
				assert.Equal(t, int64(10), c.TokenMinimumTimeToLive)
			}},
		{name: "legacy outer wins inner fills", json: `{"realm":"outer","resource":"r","policy-enforcer":{"realm":"inner","auth-server-url":"https://kc.example.com","paths":[{"path":"/a"}]}}`,
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, "outer", c.Realm)
				assert.Equal(t, "r", c.Resource)
				assert.Equal(t, "https://kc.example.com", c.AuthServerURL)
				assert.Len(t, c.Paths, 1)
			}},
		{name: "rptguard settings", json: `{
			"rptguard": {
				"path-canonicalization": "keycloak", "token-verification": "hybrid", "introspection-interval": "30s",
				"leeway": "5s", "allowed-algorithms": ["RS256","ES256"], "audience": ["api"], "max-token-size": 8192,
				"token-cache": {"max-entries": 500, "max-ttl": "5m"}, "introspection-cache": {"max-entries": -1},
				"uma-cache": {"max-ttl": "1m"}, "policies": ["policies/", "bundle.tar.gz"], "decision-rule": "data.app.allow",
				"permissions-source": "offline", "on-outage": "stale-ok", "max-staleness": "2m",
				"allow-method-override": true, "max-body-bytes": 2048, "insecure-allow-http": false
			},
			"paths": [{"path": "/a", "rptguard": {"decision-rule": "app.allow_a", "permissions-source": "token",
				"token-verification": "introspection", "on-outage": "deny", "max-body-bytes": 100}}]}`,
			check: func(t *testing.T, c enforcer.Config) {
				assert.Equal(t, enforcer.Settings{
					PathCanonicalization: enforcer.CanonicalizationKeycloak, TokenVerification: enforcer.VerifyHybrid,
					IntrospectionInterval: enforcer.Duration(30 * time.Second), Leeway: enforcer.Duration(5 * time.Second),
					AllowedAlgorithms: []string{"RS256", "ES256"}, Audience: []string{"api"}, MaxTokenSize: 8192,
					TokenCache:         enforcer.CacheConfig{MaxEntries: 500, MaxTTL: enforcer.Duration(5 * time.Minute)},
					IntrospectionCache: enforcer.CacheConfig{MaxEntries: -1},
					UMACache:           enforcer.CacheConfig{MaxTTL: enforcer.Duration(time.Minute)},
					Policies:           []string{"policies/", "bundle.tar.gz"}, DecisionRule: "data.app.allow",
					PermissionsSource: enforcer.PermissionsOffline, OnOutage: enforcer.OutageStaleOK, MaxStaleness: enforcer.Duration(2 * time.Minute),
					AllowMethodOverride: true, MaxBodyBytes: 2048,
				}, c.RPTGuard)
				assert.Equal(t, enforcer.PathSettings{DecisionRule: "app.allow_a", PermissionsSource: enforcer.PermissionsToken,
					TokenVerification: enforcer.VerifyIntrospection, OnOutage: enforcer.OutageDeny, MaxBodyBytes: 100}, c.Paths[0].RPTGuard)
			}},
		{name: "keycloak mode templates", json: `{"rptguard":{"path-canonicalization":"keycloak"},"paths":[{"path":"/a b"}]}`,
			check: func(t *testing.T, c enforcer.Config) { assert.Equal(t, "/a b", c.Paths[0].Path) }},
		{name: "duplicate path same cip merges", json: `{"paths":[{"path":"/a","scopes":["x"],"claim-information-point":{"claims":{"c":"v"}}},{"path":"/a","scopes":["y"]}]}`,
			check: func(t *testing.T, c enforcer.Config) {
				require.Len(t, c.Paths, 1)
				assert.Equal(t, []string{"x", "y"}, c.Paths[0].Scopes)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := enforcer.ParseConfig([]byte(tt.json))
			require.NoError(t, err)
			tt.check(t, c)
			out, err := json.Marshal(c)
			require.NoError(t, err)
			again, err := enforcer.ParseConfig(out)
			require.NoError(t, err, "%s", out)
			assert.Equal(t, c, again)
		})
	}
}

func TestParseConfigStrict_ReportsAll(t *testing.T) {
	t.Parallel()
	_, err := enforcer.ParseConfigStrict([]byte(`{"enforcment-mode":"DISABLED","paths":[{"path":"/a","x":1,"claim-information-point":{"http":{"url":"https://h.example/","header":{}}}}],"path-cache":{"ttl":1}}`))
	require.ErrorIs(t, err, enforcer.ErrUnknownKey)
	for _, f := range []string{"enforcment-mode", "paths[0].x", "paths[0].claim-information-point.http.header", "path-cache.ttl"} {
		assert.Contains(t, err.Error(), f+": unknown key")
	}
	// The lenient parser accepts the same document.
	c, err := enforcer.ParseConfig([]byte(`{"enforcment-mode":"DISABLED"}`))
	require.NoError(t, err)
	assert.Equal(t, enforcer.EnforcementEnforcing, c.EnforcementMode, "a misspelled key never disables enforcement")
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       enforcer.Config
		wantField string
	}{
		{name: "ok", cfg: enforcer.Config{Paths: []enforcer.PathConfig{{Path: "/a", Methods: []enforcer.MethodConfig{{Method: "GET"}}}}}},
		{name: "duplicate path", cfg: enforcer.Config{Paths: []enforcer.PathConfig{{Path: "/a"}, {Path: "/a"}}}, wantField: "paths[1].path"},
		{name: "bad enum", cfg: enforcer.Config{EnforcementMode: 7}, wantField: "enforcement-mode"},
		{name: "bad scopes enum", cfg: enforcer.Config{Paths: []enforcer.PathConfig{{Path: "/a", Methods: []enforcer.MethodConfig{{Method: "GET", ScopesEnforcementMode: -1}}}}}, wantField: "paths[0].methods[0].scopes-enforcement-mode"},
		{name: "zero path cache disabled but valid range", cfg: enforcer.Config{PathCache: &enforcer.PathCacheConfig{}}, wantField: "path-cache.max-entries"},
		{name: "control char in name", cfg: enforcer.Config{Paths: []enforcer.PathConfig{{Path: "/a", Name: "x\ny"}}}, wantField: "paths[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
			var ce *enforcer.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wantField, ce.Field)
		})
	}
}

func TestConfig_ValidateReportsAll(t *testing.T) {
	t.Parallel()
	c := enforcer.Config{
		OnDenyRedirectTo: "//evil",
		Paths:            []enforcer.PathConfig{{Path: "/a", Methods: []enforcer.MethodConfig{{Method: "get"}}}, {Path: ""}},
	}
	err := c.Validate()
	require.Error(t, err)
	for _, f := range []string{"on-deny-redirect-to", "paths[0].methods[0].method", "paths[1].path"} {
		assert.Contains(t, err.Error(), f+":")
	}
}

func TestSecretRedaction(t *testing.T) {
	t.Parallel()
	c, err := enforcer.ParseConfig(loadFixture(t, "kcclient-enforcer-paths.json"))
	require.NoError(t, err)
	c.Credentials.SecretJWT = &enforcer.SecretJWTCredentials{Secret: "hunter2"}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Credentials.Secret)} {
		assert.NotContains(t, s, "hunter2")
		assert.NotContains(t, s, `"secret"`)
	}
	out, err := json.Marshal(c.Credentials)
	require.NoError(t, err)
	assert.JSONEq(t, `{"secret":"secret","secret-jwt":{"secret":"hunter2"}}`, string(out))

	// Errors never echo a credential.
	_, err = enforcer.ParseConfig([]byte(`{"credentials":{"jwt":{"client-key-password":123}}}`))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "123")
}

func TestEnumJSON(t *testing.T) {
	t.Parallel()
	for _, m := range []enforcer.EnforcementMode{enforcer.EnforcementEnforcing, enforcer.EnforcementPermissive, enforcer.EnforcementDisabled} {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var got enforcer.EnforcementMode
		require.NoError(t, json.Unmarshal(b, &got))
		assert.Equal(t, m, got)
		assert.Equal(t, `"`+m.String()+`"`, string(b))
	}
	for _, m := range []enforcer.ScopesEnforcementMode{enforcer.ScopesAll, enforcer.ScopesAny, enforcer.ScopesDisabled} {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var got enforcer.ScopesEnforcementMode
		require.NoError(t, json.Unmarshal(b, &got))
		assert.Equal(t, m, got)
	}
	_, err := json.Marshal(enforcer.EnforcementMode(9))
	require.Error(t, err)
	assert.Equal(t, "EnforcementMode(9)", enforcer.EnforcementMode(9).String())
	assert.Equal(t, "ScopesEnforcementMode(-1)", enforcer.ScopesEnforcementMode(-1).String())
}

func TestLoadConfig_Errors(t *testing.T) {
	t.Parallel()
	_, err := enforcer.LoadConfig(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	p := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"enforcement-mode":"NOPE"}`), 0o600))
	_, err = enforcer.LoadConfig(p)
	require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "bad.json")

	_, err = enforcer.ParseConfig(make([]byte, enforcer.MaxConfigSize+1))
	require.ErrorIs(t, err, enforcer.ErrInvalidConfig)
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "keycloak", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"paths":[{"path":"/a","methods":[{"method":"GET","scopes":["s"],"scopes-enforcement-mode":"ANY"}]}],"rptguard":{"leeway":"1s"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := enforcer.ParseConfig(data)
		if err != nil {
			if !errors.Is(err, enforcer.ErrInvalidConfig) {
				t.Fatalf("error does not match ErrInvalidConfig: %v", err)
			}
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		again, err := enforcer.ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !assert.ObjectsAreEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%#v\n%#v", c, again)
		}
	})
}

func ExampleParseConfig() {
	cfg, err := enforcer.ParseConfig([]byte(`{
		"realm": "shop",
		"auth-server-url": "https://kc.example.com",
		"resource": "orders-api",
		"paths": [
			{"path": "/orders/{id}", "methods": [{"method": "GET", "scopes": ["orders:read"]}]},
			{"path": "/orders/{id}", "methods": [{"method": "DELETE", "scopes": ["orders:delete"]}]},
			{"path": "/health", "enforcement-mode": "DISABLED"}
		],
		"rptguard": {"leeway": "5s"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range cfg.Paths {
		fmt.Println(p.Path, p.EnforcementMode, len(p.Methods))
	}
	fmt.Println(time.Duration(cfg.RPTGuard.Leeway))
	// Output:
	// /orders/{id} ENFORCING 2
	// /health DISABLED 0
	// 5s
}

func ExampleParseConfig_errorChecking() {
	_, err := enforcer.ParseConfig([]byte(`{"paths": [{"path": "/a", "methods": [{"method": "GET", "scopes-enforcement-mode": "ALLL"}]}]}`))
	var ce *enforcer.ConfigError
	if errors.Is(err, enforcer.ErrInvalidConfig) && errors.As(err, &ce) {
		fmt.Println(ce.Field)
		fmt.Println(err)
	}
	// Output:
	// paths[0].methods[0].scopes-enforcement-mode
	// enforcer: invalid config: paths[0].methods[0].scopes-enforcement-mode: unknown value "ALLL" (want ALL, ANY or DISABLED)
}
