package keycloak_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/policies"
	"github.com/rptguard/rptguard/policies/keycloak"
	"github.com/rptguard/rptguard/rpt"
)

// umaPermissions asks kc for the permissions of resource (id) and scopes
// with the UMA grant, response_mode=permissions, as the subject of token.
// nil: the server issued none (403).
func umaPermissions(tb testing.TB, kc *keycloaktest.Server, token, rsid string, scopes []string, mode string) []rpt.Permission {
	tb.Helper()
	perm := rsid
	if len(scopes) > 0 {
		perm += "#" + strings.Join(scopes, ",")
	}
	form := url.Values{
		"grant_type":    {"urn:ietf:params:oauth:grant-type:uma-ticket"},
		"audience":      {kc.ClientID()},
		"permission":    {perm},
		"response_mode": {mode},
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, kc.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(tb, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := kc.HTTPClient().Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	if resp.StatusCode == http.StatusForbidden {
		return nil
	}
	require.Equal(tb, http.StatusOK, resp.StatusCode, "%s", body)
	if mode != "permissions" {
		return []rpt.Permission{}
	}
	var out []struct {
		RSID   string   `json:"rsid"`
		RSName string   `json:"rsname"`
		Scopes []string `json:"scopes"`
	}
	require.NoError(tb, json.Unmarshal(body, &out))
	perms := []rpt.Permission{}
	for _, p := range out {
		perms = append(perms, rpt.Permission{ResourceID: p.RSID, ResourceName: p.RSName, Scopes: p.Scopes})
	}
	return perms
}

// tokenClaims decodes a test token's payload (issued by kc, so trusted here).
func tokenClaims(tb testing.TB, token string) *rpt.Claims {
	tb.Helper()
	parts := strings.Split(token, ".")
	require.Len(tb, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(tb, err)
	var raw map[string]any
	require.NoError(tb, json.Unmarshal(b, &raw))
	return &rpt.Claims{Raw: raw}
}

type propertyCase struct {
	export   string
	clientID string
	mappings map[string]string
	users    []string
	clients  []string
}

// TestOfflineMatchesKeycloak: for random subjects, resources and scopes, the
// offline permission equals what keycloaktest's independent implementation
// of Keycloak's policy evaluation grants over HTTP (response_mode=permissions).
func TestOfflineMatchesKeycloak(t *testing.T) {
	t.Parallel()
	cases := []propertyCase{
		{export: "rptguard-all-policies-realm.json", clientID: "orders-api",
			users: []string{"alice", "bob", "carol", "dave", "erin"}, clients: []string{"web-app", "cli", "orders-api"}},
		{export: "quickstarts-jakarta-servlet-authz-client-realm-import.json", clientID: "jakarta-servlet-authz-client",
			users: []string{"alice", "jdoe", "admin"}},
		{export: "quickstarts-spring-rest-authz-resource-server-realm-import.json", clientID: "authz-servlet",
			users: []string{"alice", "jdoe"}},
		{export: "quickstarts-uma-photoz-realm.json", clientID: "photoz-restful-api", users: []string{"alice", "jdoe", "admin"},
			mappings: map[string]string{"Only From @keycloak.org or Admin": "deny", "Only Owner Policy": "deny", "Only From a Specific Client Address": "deny"}},
		{export: "http-verbs-settings.json", users: []string{"alice", "bob"}},
	}
	for _, pc := range cases {
		t.Run(pc.export, func(t *testing.T) {
			t.Parallel()
			export := readTestdata(t, pc.export)
			opts := []keycloaktest.Option{
				keycloaktest.WithAuthorizationSettings(export),
				keycloaktest.WithClock(func() time.Time { return fixedNow }),
			}
			var popts []keycloak.ParseOption
			if pc.clientID != "" {
				opts = append(opts, keycloaktest.WithAuthorizationClient(pc.clientID))
				popts = append(popts, keycloak.WithClientID(pc.clientID))
			}
			kc := keycloaktest.New(t, opts...)
			s, err := keycloak.Parse(export, popts...)
			require.NoError(t, err)
			res, err := keycloak.Translate(s, mappingOptions(t, pc.mappings)...)
			require.NoError(t, err)
			e := engine(t, res, policies.FromModule("expect.rego", expectModule))

			rng := rand.New(rand.NewPCG(1, uint64(len(pc.export))))
			scopeClaims := []string{"openid", "orders.read", "profile", "email"}
			nNone, nGrant := 0, 0
			defer func() { t.Logf("granted %d, none %d", nGrant, nNone) }()
			for i := range 80 {
				user := pc.users[rng.IntN(len(pc.users))]
				var topts []keycloaktest.TokenOption
				if len(pc.clients) > 0 {
					topts = append(topts, keycloaktest.WithAuthorizedParty(pc.clients[rng.IntN(len(pc.clients))]))
				}
				var sc []string
				for _, c := range scopeClaims {
					if rng.IntN(2) == 0 {
						sc = append(sc, c)
					}
				}
				topts = append(topts, keycloaktest.WithClaim("scope", strings.Join(sc, " ")))
				token := kc.AccessToken(user, topts...)

				r := s.Resources[rng.IntN(len(s.Resources))]
				var scopes []string
				for _, x := range r.Scopes {
					if rng.IntN(2) == 0 {
						scopes = append(scopes, x)
					}
				}
				rsid := kc.ResourceID(r.Name)
				require.NotEmpty(t, rsid, r.Name)
				got := umaPermissions(t, kc, token, rsid, scopes, "permissions")
				var want []string
				for _, p := range got {
					if p.ResourceID == rsid {
						want = append(want, p.Scopes...)
						if want == nil {
							want = []string{}
						}
					}
				}
				slices.Sort(want)
				name := fmt.Sprintf("#%d %s %s %v (keycloaktest: %v)", i, user, r.Name, scopes, want)
				tok, err := policies.NewTokenValue(tokenClaims(t, token))
				require.NoError(t, err)
				in := policies.Input{
					Resource:          policies.Resource{ID: rsid, Name: r.Name},
					RequiredScopes:    scopes,
					Token:             tok,
					PermissionsSource: policies.PermissionsOffline,
				}
				if want == nil {
					nNone++
				} else {
					nGrant++
				}
				checkGranted(t, e, in, want, name)
			}
		})
	}
}
