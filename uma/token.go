package uma

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rptguard/rptguard/rpt"
)

// Grant runs Keycloak's UMA grant (SPEC §5) at the token endpoint with every
// parameter of req and decodes the answer according to req.ResponseMode:
// token mode verifies the RPT with the client's [Verifier] and sets
// GrantResult.Token; decision mode sets Decision (always true: denials are
// errors); permissions mode sets Permissions.
//
// Without req.BearerToken the client authenticates itself (Config.AuthMethod);
// with it, the bearer token is the caller's identity and no client
// authentication is sent.
//
// Errors: an [*Error] for error answers (errors.Is matches ErrAccessDenied,
// ErrRequestSubmitted, ErrInvalidTicket, ErrInvalidGrant, ErrNeedInfo,
// ErrInvalidClient, …), ErrUnavailable for transport failures, 5xx and
// malformed answers, ErrRPTRejected when the issued RPT fails verification,
// ErrInvalidRequest for parameters this package refuses to send. No error
// text contains a token or the server's error_description.
func (c *Client) Grant(ctx context.Context, req GrantRequest) (*GrantResult, error) {
	form, err := req.form(c.cfg.Audience)
	if err != nil {
		return nil, err
	}
	r := request{endpoint: "token", method: http.MethodPost, url: c.ep.Token, form: form}
	if req.BearerToken != "" {
		r.bearer = req.BearerToken
	} else {
		r.clientAuth = true
	}
	issued := c.now()
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, statusError("token", resp)
	}
	res := &GrantResult{Mode: req.ResponseMode}
	switch req.ResponseMode {
	case ResponseModeDecision:
		ok, err := decodeDecision(resp.body)
		if err != nil {
			return nil, malformed("token", "decision response")
		}
		if !ok {
			// Keycloak never answers {"result":false}; fail closed if one does.
			return nil, &Error{Status: resp.status, Code: "access_denied", Endpoint: "token"}
		}
		res.Decision = true
	case ResponseModePermissions:
		if res.Permissions, err = decodePermissions(resp.body); err != nil {
			return nil, malformed("token", "permissions response")
		}
	default:
		t, err := decodeTokenResponse(resp.body, issued)
		if err != nil {
			return nil, malformed("token", "token response")
		}
		claims, err := c.verifier.Verify(ctx, t.AccessToken)
		if err != nil {
			if errors.Is(err, rpt.ErrUnavailable) || errors.Is(err, ErrUnavailable) {
				return nil, unavailable("token", err)
			}
			return nil, fmt.Errorf("%w: %w", ErrRPTRejected, err)
		}
		if claims == nil {
			return nil, fmt.Errorf("%w: verifier returned no claims", ErrRPTRejected)
		}
		t.Claims = claims
		res.Token = t
	}
	return res, nil
}

// RequestRPT runs the UMA grant in token mode and returns the verified RPT.
// req.ResponseMode must be empty. See [Client.Grant] for parameters and errors.
func (c *Client) RequestRPT(ctx context.Context, req GrantRequest) (*TokenResponse, error) {
	if req.ResponseMode != ResponseModeToken {
		return nil, invalidRequest("RequestRPT needs token response mode")
	}
	res, err := c.Grant(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.Token, nil
}

// RequestDecision runs the UMA grant with response_mode=decision. It returns
// nil when the requested permissions are granted and an error matching
// ErrAccessDenied when they are not. See [Client.Grant].
func (c *Client) RequestDecision(ctx context.Context, req GrantRequest) error {
	req.ResponseMode = ResponseModeDecision
	_, err := c.Grant(ctx, req)
	return err
}

// RequestPermissions runs the UMA grant with response_mode=permissions and
// returns the granted permissions. See [Client.Grant].
func (c *Client) RequestPermissions(ctx context.Context, req GrantRequest) ([]rpt.Permission, error) {
	req.ResponseMode = ResponseModePermissions
	res, err := c.Grant(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.Permissions, nil
}

// RequestRPTForChallenge is the client side of a UMA challenge: it checks
// that ch.ASURI is this client's issuer (exact match; otherwise
// ErrForeignAuthorizationServer and nothing is sent), sets req.Ticket =
// ch.Ticket and calls [Client.RequestRPT]. Pass the requesting party's token
// in req.BearerToken (public clients) or req.SubjectToken, and a previous RPT
// in req.RPT to upgrade it.
func (c *Client) RequestRPTForChallenge(ctx context.Context, ch Challenge, req GrantRequest) (*TokenResponse, error) {
	if ch.ASURI != c.ep.Issuer {
		return nil, ErrForeignAuthorizationServer
	}
	if ch.Ticket == "" {
		return nil, invalidRequest("challenge has no ticket")
	}
	req.Ticket = ch.Ticket
	return c.RequestRPT(ctx, req)
}
