package introspection

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clientAssertionType is the RFC 7523 §2.2 client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// credential is a secret-bearing value that never prints itself.
type credential string

func (credential) String() string   { return redacted }
func (credential) GoString() string { return redacted }

// authenticator adds client authentication to one introspection request.
// Implementations are safe for concurrent use.
type authenticator struct {
	method   AuthMethod
	clientID string
	// basic is the whole Authorization header value for ClientSecretBasic.
	basic  credential
	secret credential
	// assertion signing (private_key_jwt, client_secret_jwt)
	signMethod jwt.SigningMethod
	signKey    any
	keyID      string
	audience   string
	ttl        time.Duration
}

// basicAuthorization builds the RFC 6749 §2.3.1 header: id and secret are
// application/x-www-form-urlencoded before they are joined and base64-encoded,
// so ':' '%' '+' and non-ASCII survive.
func basicAuthorization(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

func newAuthenticator(cfg *Config, audience string) (*authenticator, error) {
	a := &authenticator{
		method:   cfg.AuthMethod,
		clientID: cfg.ClientID,
		keyID:    cfg.KeyID,
		audience: audience,
		ttl:      cfg.AssertionTTL,
	}
	if a.method == "" {
		a.method = ClientSecretBasic
	}
	if a.ttl <= 0 {
		a.ttl = DefaultAssertionTTL
	}
	switch a.method {
	case ClientSecretBasic, ClientSecretPost:
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("introspection: %s needs a client secret", a.method)
		}
		a.secret = credential(cfg.ClientSecret)
		a.basic = credential(basicAuthorization(cfg.ClientID, cfg.ClientSecret))
	case ClientSecretJWT:
		if cfg.ClientSecret == "" {
			return nil, errors.New("introspection: client_secret_jwt needs a client secret")
		}
		alg := cfg.AssertionAlgorithm
		if alg == "" {
			alg = "HS256"
		}
		m, ok := jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC)
		if !ok {
			return nil, fmt.Errorf("introspection: client_secret_jwt: unsupported algorithm %q (HS256, HS384, HS512)", alg)
		}
		a.signMethod, a.signKey = m, []byte(cfg.ClientSecret)
	case PrivateKeyJWT:
		m, err := keySigningMethod(cfg)
		if err != nil {
			return nil, err
		}
		a.signMethod, a.signKey = m, cfg.PrivateKey
	default:
		return nil, fmt.Errorf("introspection: unsupported client authentication method %q", a.method)
	}
	if a.signMethod != nil && a.audience == "" {
		return nil, errors.New("introspection: client assertion needs an audience")
	}
	return a, nil
}

// keySigningMethod picks and checks the assertion algorithm for PrivateKey.
func keySigningMethod(cfg *Config) (jwt.SigningMethod, error) {
	var def string
	switch k := cfg.PrivateKey.(type) {
	case nil:
		return nil, errors.New("introspection: private_key_jwt needs a private key")
	case *rsa.PrivateKey:
		def = "RS256"
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			def = "ES256"
		case elliptic.P384():
			def = "ES384"
		case elliptic.P521():
			def = "ES512"
		default:
			return nil, errors.New("introspection: private_key_jwt: unsupported elliptic curve")
		}
	case ed25519.PrivateKey:
		def = "EdDSA"
	default:
		return nil, fmt.Errorf("introspection: private_key_jwt: unsupported key type %T", cfg.PrivateKey)
	}
	alg := cfg.AssertionAlgorithm
	if alg == "" {
		alg = def
	}
	m := jwt.GetSigningMethod(alg)
	ok := false
	switch cfg.PrivateKey.(type) {
	case *rsa.PrivateKey:
		_, rs := m.(*jwt.SigningMethodRSA)
		_, ps := m.(*jwt.SigningMethodRSAPSS)
		ok = rs || ps
	case *ecdsa.PrivateKey:
		ok = alg == def
	case ed25519.PrivateKey:
		_, ok = m.(*jwt.SigningMethodEd25519)
	}
	if !ok {
		return nil, fmt.Errorf("introspection: private_key_jwt: algorithm %q does not fit the key", alg)
	}
	return m, nil
}

// apply adds the credentials to the form or returns the Authorization
// header value ("" for none). Errors never contain key material.
func (a *authenticator) apply(form url.Values, now time.Time) (authorization string, err error) {
	switch a.method {
	case ClientSecretBasic:
		return string(a.basic), nil
	case ClientSecretPost:
		form.Set("client_id", a.clientID)
		form.Set("client_secret", string(a.secret))
		return "", nil
	default:
		assertion, err := a.assertion(now)
		if err != nil {
			return "", err
		}
		form.Set("client_id", a.clientID)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", assertion)
		return "", nil
	}
}

// assertion builds a fresh RFC 7523 §3 client assertion: iss = sub = client
// id, aud, a random jti, iat and exp.
func (a *authenticator) assertion(now time.Time) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", errors.New("introspection: cannot generate client assertion id")
	}
	claims := jwt.MapClaims{
		"iss": a.clientID,
		"sub": a.clientID,
		"aud": a.audience,
		"jti": hex.EncodeToString(jti[:]),
		"iat": now.Unix(),
		"exp": now.Add(a.ttl).Unix(),
	}
	t := jwt.NewWithClaims(a.signMethod, claims)
	if a.keyID != "" {
		t.Header["kid"] = a.keyID
	}
	s, err := t.SignedString(a.signKey)
	if err != nil {
		// golang-jwt's signing errors name the algorithm or key type only.
		return "", fmt.Errorf("introspection: cannot sign client assertion (%s)", a.signMethod.Alg())
	}
	return s, nil
}
