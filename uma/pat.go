package uma

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rptguard/rptguard/internal/clientauth"
)

// patSource caches the resource server's Protection API token (SPEC §6.2).
// It is reused while now < expiry − margin, fetched once for any number of
// concurrent callers, and dropped when a Protection API call answers 401.
type patSource struct {
	c  *Client
	mu sync.Mutex
	// token and refreshAt are guarded by mu.
	token     string
	refreshAt time.Time
	sf        singleflight.Group
}

// defaultTokenMinTTL is the reuse margin when Config.TokenMinimumTimeToLive is 0.
const defaultTokenMinTTL = 10 * time.Second

func (p *patSource) cached() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token != "" && p.c.now().Before(p.refreshAt) {
		return p.token, true
	}
	return "", false
}

// get returns a valid PAT. Each caller waits for the shared fetch under its
// own ctx; the fetch itself is detached from any single caller.
func (p *patSource) get(ctx context.Context) (string, error) {
	if tok, ok := p.cached(); ok {
		return tok, nil
	}
	fetchCtx := context.WithoutCancel(ctx)
	ch := p.sf.DoChan("pat", func() (any, error) {
		if tok, ok := p.cached(); ok {
			return tok, nil
		}
		ctx, cancel := context.WithTimeout(fetchCtx, callTimeout)
		defer cancel()
		return p.fetch(ctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", unavailable("pat", ctx.Err())
	}
}

func (p *patSource) fetch(ctx context.Context) (string, error) {
	c := p.c
	if c.auth.Method() == clientauth.None {
		return "", invalidRequest("a public client cannot obtain a PAT")
	}
	issued := c.now()
	resp, err := c.do(ctx, request{
		endpoint: "token", method: http.MethodPost, url: c.ep.Token,
		form: url.Values{"grant_type": {"client_credentials"}}, clientAuth: true,
	})
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		return "", statusError("token", resp)
	}
	t, err := decodeTokenResponse(resp.body, issued)
	if err != nil {
		return "", malformed("token", "PAT response")
	}
	margin := defaultTokenMinTTL
	switch ttl := c.cfg.TokenMinimumTimeToLive; {
	case ttl < 0:
		margin = 0
	case ttl > 0:
		margin = time.Duration(ttl) * time.Second
	}
	life := time.Duration(t.ExpiresIn) * time.Second
	if margin > life/2 {
		margin = life / 2
	}
	p.mu.Lock()
	p.token = t.AccessToken
	p.refreshAt = issued.Add(life - margin)
	p.mu.Unlock()
	c.log.DebugContext(ctx, "uma: PAT obtained", slog.Int64("expires_in", t.ExpiresIn))
	return t.AccessToken, nil
}

// invalidate drops tok if it is still the cached PAT.
func (p *patSource) invalidate(tok string) {
	p.mu.Lock()
	if p.token == tok {
		p.token = ""
	}
	p.mu.Unlock()
}

// protected sends a Protection API call with the PAT; when the PAT is
// rejected it drops it, fetches a new one and retries once.
func (c *Client) protected(ctx context.Context, r request) (*response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.pat.get(ctx)
		if err != nil {
			return nil, err
		}
		r.bearer = tok
		resp, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		if attempt == 0 && patRejected(resp) {
			c.pat.invalidate(tok)
			c.log.DebugContext(ctx, "uma: PAT rejected, refreshing", slog.String("endpoint", r.endpoint))
			continue
		}
		return resp, nil
	}
}

// patRejected reports an answer meaning "this PAT is not (any more) valid":
// 401, or Keycloak's 403 {"error":"invalid_bearer_token"} (what its
// Protection API sends for an expired or unknown bearer token). Other 403s
// (invalid_scope: no uma_protection role) are not retried.
func patRejected(resp *response) bool {
	switch resp.status {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		e := decodeError("", resp.status, resp.body)
		return e.Code == "invalid_bearer_token" || e.Code == "invalid_token"
	}
	return false
}
