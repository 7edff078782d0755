package keycloaktest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

func TestFailRespondHeal(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	tests := []struct {
		name   string
		set    func()
		status int
		ctype  string
		body   string
	}{
		{"fail 502", func() { kc.Fail(keycloaktest.EndpointJWKS, http.StatusBadGateway) }, 502, "application/json", `{"error":"server_error","error_description":"Bad Gateway"}`},
		{"fail 401", func() { kc.Fail(keycloaktest.EndpointJWKS, http.StatusUnauthorized) }, 401, "application/json", `{"error":"invalid_client","error_description":"Unauthorized"}`},
		{"respond malformed", func() { kc.Respond(keycloaktest.EndpointJWKS, 200, "application/json", `{"keys":[`) }, 200, "application/json", `{"keys":[`},
		{"respond html", func() { kc.Respond(keycloaktest.EndpointJWKS, 500, "text/html", "<html>") }, 500, "text/html", "<html>"},
	}
	for _, tt := range tests { // sequential: they share the JWKS knob
		t.Run(tt.name, func(t *testing.T) {
			tt.set()
			r := get(t, kc, kc.JWKSURL())
			assert.Equal(t, tt.status, r.Status)
			assert.Equal(t, tt.ctype, r.Header.Get("Content-Type"))
			assert.Equal(t, tt.body, string(r.Body))
			assert.Equal(t, http.StatusOK, get(t, kc, kc.Issuer()+"/.well-known/uma2-configuration").Status, "other endpoints unaffected")
			kc.Heal(keycloaktest.EndpointJWKS)
			assert.Equal(t, http.StatusOK, get(t, kc, kc.JWKSURL()).Status)
		})
	}
	kc.Fail(keycloaktest.EndpointToken, 500)
	kc.Fail(keycloaktest.EndpointIntrospection, 500)
	kc.Heal("")
	assert.Equal(t, http.StatusOK, postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basicAuth(kc.ClientID(), kc.ClientSecret())).Status)
}

func TestSetReady(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	kc.SetReady(false)
	for _, u := range []string{kc.JWKSURL(), kc.Issuer() + "/.well-known/openid-configuration", kc.ResourceSetURL(), kc.URL() + "/unknown"} {
		r := get(t, kc, u)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, u)
	}
	r := postForm(t, kc, kc.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basicAuth(kc.ClientID(), kc.ClientSecret()))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	code, _ := oauthErr(t, r)
	assert.Equal(t, "temporarily_unavailable", code)
	kc.SetReady(true)
	assert.Equal(t, http.StatusOK, get(t, kc, kc.JWKSURL()).Status)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t)
	kc.SetLatency(keycloaktest.EndpointJWKS, 150*time.Millisecond)
	start := time.Now()
	assert.Equal(t, http.StatusOK, get(t, kc, kc.JWKSURL()).Status)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, kc.JWKSURL(), nil)
	require.NoError(t, err)
	_, err = kc.HTTPClient().Do(req) //nolint:bodyclose // the request fails
	require.ErrorIs(t, err, context.DeadlineExceeded)

	kc.Heal(keycloaktest.EndpointJWKS)
	start = time.Now()
	get(t, kc, kc.JWKSURL())
	assert.Less(t, time.Since(start), 150*time.Millisecond)
}

func TestHang(t *testing.T) {
	t.Parallel()
	t.Run("until the request context ends", func(t *testing.T) {
		t.Parallel()
		kc := keycloaktest.New(t)
		kc.Hang(keycloaktest.EndpointIntrospection)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, kc.IntrospectionURL(), nil)
		require.NoError(t, err)
		_, err = kc.HTTPClient().Do(req) //nolint:bodyclose // the request fails
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointIntrospection))
	})
	t.Run("until the server closes", func(t *testing.T) {
		t.Parallel()
		kc, err := keycloaktest.Start()
		require.NoError(t, err)
		kc.Hang(keycloaktest.EndpointJWKS)
		errc := make(chan error, 1)
		go func() {
			resp, err := kc.HTTPClient().Get(kc.JWKSURL())
			if err == nil {
				resp.Body.Close()
				err = errors.New("unexpected answer")
			}
			errc <- err
		}()
		require.Eventually(t, func() bool { return kc.Requests(keycloaktest.EndpointJWKS) == 1 }, 2*time.Second, 5*time.Millisecond)
		done := make(chan struct{})
		go func() { kc.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("Close blocked on a hanging request")
		}
		assert.Error(t, <-errc)
	})
	t.Run("until healed", func(t *testing.T) {
		t.Parallel()
		kc := keycloaktest.New(t)
		kc.Hang(keycloaktest.EndpointJWKS)
		var wg sync.WaitGroup
		statuses := make(chan int, 3)
		for range 3 {
			wg.Go(func() {
				resp, err := kc.HTTPClient().Get(kc.JWKSURL())
				if err == nil {
					resp.Body.Close()
					statuses <- resp.StatusCode
				}
			})
		}
		require.Eventually(t, func() bool { return kc.Requests(keycloaktest.EndpointJWKS) == 3 }, 2*time.Second, 5*time.Millisecond)
		kc.Heal(keycloaktest.EndpointJWKS)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			assert.Equal(t, http.StatusOK, s)
		}
	})
}

func TestCountersAndLastRequest(t *testing.T) {
	t.Parallel()
	kc := keycloaktest.New(t, keycloaktest.WithResource(keycloaktest.Resource{Name: "R", Scopes: []string{"s"}}),
		keycloaktest.WithGrant(keycloaktest.Grant{User: "*", Resource: "R"}))
	for _, e := range []keycloaktest.Endpoint{keycloaktest.EndpointOIDCDiscovery, keycloaktest.EndpointUMADiscovery, keycloaktest.EndpointJWKS,
		keycloaktest.EndpointToken, keycloaktest.EndpointIntrospection, keycloaktest.EndpointPermission, keycloaktest.EndpointResourceSet} {
		assert.Zero(t, kc.Requests(e))
		assert.Nil(t, kc.LastRequest(e))
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { get(t, kc, kc.JWKSURL()) })
	}
	wg.Wait()
	assert.Equal(t, 10, kc.Requests(keycloaktest.EndpointJWKS))

	alice := kc.AccessToken("alice")
	form := url.Values{"grant_type": {umaGrant}, "audience": {kc.ClientID()}, "subject_token": {alice}, "permission": {"R#s", "#s"}}
	postForm(t, kc, kc.TokenURL(), form, basicAuth(kc.ClientID(), kc.ClientSecret()))
	lr := kc.LastRequest(keycloaktest.EndpointToken)
	require.NotNil(t, lr)
	assert.Equal(t, http.MethodPost, lr.Method)
	assert.Equal(t, "/realms/rptguard/protocol/openid-connect/token", lr.URL.Path)
	assert.Equal(t, []string{"R#s", "#s"}, lr.Form["permission"])
	assert.Equal(t, alice, lr.Form.Get("subject_token"))
	assert.Contains(t, lr.Header.Get("Authorization"), "Basic ")
	assert.Equal(t, form.Encode(), string(lr.Body))
	lr.Form.Set("grant_type", "mutated")
	assert.Equal(t, umaGrant, kc.LastRequest(keycloaktest.EndpointToken).Form.Get("grant_type"), "LastRequest returns a copy")

	postJSON(t, kc, http.MethodPost, kc.PermissionURL(), `[{"resource_id":"R"}]`, bearer(kc.PAT()))
	assert.JSONEq(t, `[{"resource_id":"R"}]`, string(kc.LastRequest(keycloaktest.EndpointPermission).Body))
	get(t, kc, kc.ResourceSetURL()+"?name=R", bearer(kc.PAT()))
	assert.Equal(t, "R", kc.LastRequest(keycloaktest.EndpointResourceSet).Form.Get("name"))
	assert.Equal(t, 1, kc.Requests(keycloaktest.EndpointResourceSet))
	assert.Zero(t, kc.Requests(keycloaktest.EndpointIntrospection), "no introspection happened")
	assert.Zero(t, kc.Requests("bogus"))

	kc.ResetCounters()
	assert.Zero(t, kc.Requests(keycloaktest.EndpointJWKS))
	assert.Nil(t, kc.LastRequest(keycloaktest.EndpointToken))
}
