package clientauth

import (
	"crypto"
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
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Method is an OAuth token_endpoint_auth_method value.
type Method string

// The supported methods.
const (
	// None: a public client; only client_id is sent, as a form parameter.
	None Method = "none"
	// ClientSecretBasic: Authorization: Basic base64(urlencode(id) ":" urlencode(secret)).
	ClientSecretBasic Method = "client_secret_basic"
	// ClientSecretPost: client_id and client_secret form parameters.
	ClientSecretPost Method = "client_secret_post"
	// PrivateKeyJWT: an RFC 7523 client assertion signed with Config.PrivateKey.
	PrivateKeyJWT Method = "private_key_jwt"
	// ClientSecretJWT: an RFC 7523 client assertion MACed with Config.Secret.
	ClientSecretJWT Method = "client_secret_jwt"
)

// AssertionType is the RFC 7523 §2.2 client_assertion_type value.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultAssertionTTL is the assertion lifetime when Config.TTL is zero.
const DefaultAssertionTTL = 60 * time.Second

// Config describes how one client authenticates. The zero Method is
// ClientSecretBasic.
type Config struct {
	// Method selects the authentication. If empty, ClientSecretBasic.
	Method Method
	// ClientID is the client's id. Required; it must not contain control
	// characters.
	ClientID string
	// Secret is the client secret (ClientSecretBasic, ClientSecretPost) or
	// the HMAC key (ClientSecretJWT). Required for those methods.
	Secret Secret
	// PrivateKey signs PrivateKeyJWT assertions: an *rsa.PrivateKey,
	// *ecdsa.PrivateKey (P-256, P-384, P-521) or ed25519.PrivateKey.
	PrivateKey crypto.Signer
	// KeyID is the assertion's "kid" header. If empty, none is sent.
	KeyID string
	// Algorithm is the assertion's JWS algorithm. If empty: HS256 for
	// ClientSecretJWT; RS256, ES256/ES384/ES512 (by curve) or EdDSA for
	// PrivateKeyJWT, by key type. RSA keys also take PS256/384/512 and
	// RS384/512; HMAC takes HS384/512.
	Algorithm string
	// Audience is the assertion's "aud" (Keycloak accepts the realm issuer or
	// the token endpoint URL). Required for the assertion methods.
	Audience string
	// TTL is the assertion lifetime. If zero or negative, DefaultAssertionTTL.
	TTL time.Duration
}

// Authenticator adds client authentication to form requests. It is
// immutable after New and safe for concurrent use.
type Authenticator struct {
	method   Method
	clientID string
	// basic is the whole Authorization header value for ClientSecretBasic.
	basic  Secret
	secret Secret
	// Assertion signing (PrivateKeyJWT, ClientSecretJWT).
	signMethod jwt.SigningMethod
	signKey    any
	keyID      string
	audience   string
	ttl        time.Duration
}

// BasicAuthorization builds the RFC 6749 §2.3.1 Authorization header value:
// id and secret are application/x-www-form-urlencoded before they are joined
// with ':' and base64-encoded, so ':', '%', '+' and non-ASCII survive.
func BasicAuthorization(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// New validates cfg and returns an Authenticator. Error texts name the
// method, the algorithm or the key type, never key material or secrets;
// they carry no package prefix (callers add theirs).
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		method:   cfg.Method,
		clientID: cfg.ClientID,
		keyID:    cfg.KeyID,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
	}
	if a.method == "" {
		a.method = ClientSecretBasic
	}
	if a.ttl <= 0 {
		a.ttl = DefaultAssertionTTL
	}
	if cfg.ClientID == "" {
		return nil, errors.New("client authentication needs a client id")
	}
	if strings.ContainsFunc(cfg.ClientID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("client id contains control characters")
	}
	switch a.method {
	case None:
	case ClientSecretBasic, ClientSecretPost:
		if cfg.Secret == "" {
			return nil, fmt.Errorf("%s needs a client secret", a.method)
		}
		a.secret = cfg.Secret
		a.basic = Secret(BasicAuthorization(cfg.ClientID, string(cfg.Secret)))
	case ClientSecretJWT:
		if cfg.Secret == "" {
			return nil, errors.New("client_secret_jwt needs a client secret")
		}
		alg := cfg.Algorithm
		if alg == "" {
			alg = "HS256"
		}
		m, ok := jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC)
		if !ok {
			return nil, fmt.Errorf("client_secret_jwt: unsupported algorithm %q (HS256, HS384, HS512)", truncate(alg))
		}
		a.signMethod, a.signKey = m, []byte(cfg.Secret)
	case PrivateKeyJWT:
		m, err := keySigningMethod(cfg.PrivateKey, cfg.Algorithm)
		if err != nil {
			return nil, err
		}
		a.signMethod, a.signKey = m, cfg.PrivateKey
	default:
		return nil, fmt.Errorf("unsupported client authentication method %q", truncate(string(a.method)))
	}
	if a.signMethod != nil && a.audience == "" {
		return nil, errors.New("client assertion needs an audience")
	}
	return a, nil
}

// truncate bounds a configuration value quoted in an error.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// keySigningMethod picks and checks the assertion algorithm for key.
func keySigningMethod(key crypto.Signer, alg string) (jwt.SigningMethod, error) {
	var def string
	switch k := key.(type) {
	case nil:
		return nil, errors.New("private_key_jwt needs a private key")
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
			return nil, errors.New("private_key_jwt: unsupported elliptic curve")
		}
	case ed25519.PrivateKey:
		def = "EdDSA"
	default:
		return nil, fmt.Errorf("private_key_jwt: unsupported key type %T", key)
	}
	if alg == "" {
		alg = def
	}
	m := jwt.GetSigningMethod(alg)
	ok := false
	switch key.(type) {
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
		return nil, fmt.Errorf("private_key_jwt: algorithm %q does not fit the key", truncate(alg))
	}
	return m, nil
}

// Method returns the effective method (never empty).
func (a *Authenticator) Method() Method { return a.method }

// ClientID returns the client id.
func (a *Authenticator) ClientID() string { return a.clientID }

// String describes a without credentials.
func (a *Authenticator) String() string {
	return fmt.Sprintf("clientauth.Authenticator{method:%s client_id:%q}", a.method, a.clientID)
}

// GoString is String, so %#v never prints credentials.
func (a *Authenticator) GoString() string { return a.String() }

// Format implements fmt.Formatter: every verb prints String.
func (a *Authenticator) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

// Apply adds the credentials to form and returns the Authorization header
// value to send ("" for none). An assertion is built afresh for every call
// (new jti, iat = now). Errors never contain key material.
func (a *Authenticator) Apply(form url.Values, now time.Time) (authorization string, err error) {
	switch a.method {
	case None:
		form.Set("client_id", a.clientID)
		return "", nil
	case ClientSecretBasic:
		return string(a.basic), nil
	case ClientSecretPost:
		form.Set("client_id", a.clientID)
		form.Set("client_secret", string(a.secret))
		return "", nil
	default:
		assertion, err := a.Assertion(now)
		if err != nil {
			return "", err
		}
		form.Set("client_id", a.clientID)
		form.Set("client_assertion_type", AssertionType)
		form.Set("client_assertion", assertion)
		return "", nil
	}
}

// Assertion builds a fresh RFC 7523 §3 client assertion: iss = sub = client
// id, aud, a random jti, iat = now and exp = now + TTL. It fails for methods
// that do not use assertions.
func (a *Authenticator) Assertion(now time.Time) (string, error) {
	if a.signMethod == nil {
		return "", fmt.Errorf("%s does not use client assertions", a.method)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", errors.New("cannot generate client assertion id")
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
		// golang-jwt's signing errors may describe the key; name the algorithm only.
		return "", fmt.Errorf("cannot sign client assertion (%s)", a.signMethod.Alg())
	}
	return s, nil
}
