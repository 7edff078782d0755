package keycloaktest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clientAssertionType is the RFC 7523 §2.2 client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionNoExpLifetime is how long Keycloak accepts an assertion without
// exp after its iat (JWTClientValidator: iat + 10 s).
const assertionNoExpLifetime = 10 * time.Second

// maxAssertionBytes bounds the client_assertion this server parses.
const maxAssertionBytes = 16 << 10

// jwtAuthFailure is Keycloak's answer when the "Signed JWT" or "Signed JWT
// with client secret" authenticator rejects an assertion: 400 invalid_client
// with the reason in error_description (Keycloak's JWTClientAuthenticator
// and JWTClientSecretAuthenticator).
func jwtAuthFailure(hmac bool, reason string) *oauthError {
	prefix := "Client authentication with signed JWT failed: "
	if hmac {
		prefix = "Client authentication with client secret signed JWT failed: "
	}
	return oerr(http.StatusBadRequest, "invalid_client", prefix+reason)
}

// assertionClient authenticates a request carrying client_assertion_type
// (RFC 7523 §2.2): private_key_jwt with the client's PublicKey, or
// client_secret_jwt (HS256/384/512) with its Secret. It checks the
// signature, iss = sub = client id, client_id (if sent) = sub, aud (the
// realm issuer or the token endpoint), exp/nbf (or iat within 10 s when exp
// is absent) and a single use of jti, as Keycloak does.
func (s *Server) assertionClient(r *http.Request) (*Client, *oauthError) {
	if typ := r.PostForm.Get("client_assertion_type"); typ != clientAssertionType {
		return nil, jwtAuthFailure(false, "Parameter client_assertion_type has value '"+truncate(typ, 64)+
			"' but expected is '"+clientAssertionType+"'")
	}
	raw := r.PostForm.Get("client_assertion")
	if raw == "" {
		return nil, jwtAuthFailure(false, "client_assertion parameter missing")
	}
	if len(raw) > maxAssertionBytes {
		return nil, jwtAuthFailure(false, "client_assertion too large")
	}
	unverified := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, unverified)
	if err != nil {
		return nil, jwtAuthFailure(false, "Invalid client assertion")
	}
	sub, _ := unverified["sub"].(string)
	if sub == "" {
		return nil, jwtAuthFailure(false, "Can't identify client. Subject missing on JWT token")
	}
	if id := r.PostForm.Get("client_id"); id != "" && id != sub {
		return nil, jwtAuthFailure(false, "client_id parameter does not match sub claim")
	}
	s.mu.RLock()
	cl := s.clients[sub]
	s.mu.RUnlock()
	if cl == nil {
		return nil, oerr(http.StatusUnauthorized, "invalid_client", invalidClientMsg)
	}
	_, hmac := tok.Method.(*jwt.SigningMethodHMAC)
	if cl.Public {
		return nil, jwtAuthFailure(hmac, "Public client not allowed to use authentication with signed JWT")
	}
	key, algs := assertionKey(cl, hmac)
	if key == nil {
		return nil, jwtAuthFailure(hmac, "Unable to load public key")
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithoutClaimsValidation()).
		ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return nil, jwtAuthFailure(hmac, "Signature on JWT token failed validation")
	}
	if iss, _ := claims["iss"].(string); iss != cl.ID {
		return nil, jwtAuthFailure(hmac, "Issuer mismatch. The issuer should match the subject")
	}
	if sub, _ := claims["sub"].(string); sub != cl.ID {
		return nil, jwtAuthFailure(hmac, "Subject mismatch")
	}
	aud, err := claims.GetAudience()
	expected := []string{s.Issuer(), s.TokenURL()}
	if err != nil || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(expected, a) }) {
		return nil, jwtAuthFailure(hmac, "Token audience doesn't match domain. Expected audiences are any of "+
			"["+s.Issuer()+", "+s.TokenURL()+"]")
	}
	now := s.cfg.now()
	until, ok := assertionActiveUntil(claims, now)
	if !ok {
		return nil, jwtAuthFailure(hmac, "Token is not active")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return nil, jwtAuthFailure(hmac, "Missing ID on the token")
	}
	if !s.useJTI(cl.ID, jti, until, now) {
		return nil, jwtAuthFailure(hmac, "Token reuse detected")
	}
	return cl, nil
}

// assertionKey returns the verification key and the algorithms it allows.
func assertionKey(cl *Client, hmac bool) (any, []string) {
	if hmac {
		if cl.Secret == "" {
			return nil, nil
		}
		return []byte(cl.Secret), []string{"HS256", "HS384", "HS512"}
	}
	switch k := cl.PublicKey.(type) {
	case *rsa.PublicKey:
		return k, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		return k, []string{"ES256", "ES384", "ES512"}
	case ed25519.PublicKey:
		return k, []string{"EdDSA"}
	}
	return nil, nil
}

// assertionActiveUntil applies Keycloak's activity check: with exp, now must
// be before exp (and not before nbf); without exp, iat must be within the
// last 10 seconds. It returns until when the assertion's jti must be kept.
func assertionActiveUntil(claims jwt.MapClaims, now time.Time) (time.Time, bool) {
	if nbf, err := claims.GetNotBefore(); err != nil || (nbf != nil && now.Before(nbf.Time)) {
		return time.Time{}, false
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return time.Time{}, false
	}
	if exp != nil {
		return exp.Time, now.Before(exp.Time)
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return time.Time{}, false
	}
	until := iat.Add(assertionNoExpLifetime)
	return until, now.Before(until)
}

// useJTI records jti for client id until the given time and reports whether
// it was unused (Keycloak's single-use store). Expired entries are pruned.
func (s *Server) useJTI(clientID, jti string, until, now time.Time) bool {
	key := clientID + "\x00" + jti
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.usedJTIs {
		if !now.Before(t) {
			delete(s.usedJTIs, k)
		}
	}
	if _, used := s.usedJTIs[key]; used {
		return false
	}
	s.usedJTIs[key] = until
	return true
}

// SetClientPublicKey replaces the private_key_jwt verification key of a
// registered client (the resource server included), for key rotation tests.
// A nil key disables private_key_jwt for it. It reports whether the client
// exists.
func (s *Server) SetClientPublicKey(clientID string, key crypto.PublicKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clients[clientID]
	if cl == nil {
		return false
	}
	cp := *cl
	cp.PublicKey = key
	s.clients[clientID] = &cp
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
