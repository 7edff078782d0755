package keycloaktest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7517 §4.8)
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// keyPoolPEM holds pre-generated RSA-2048 test keys. Generating an RSA key
// costs 100–300 ms under -race; each pooled key is handed out at most once
// per process (so two servers never share a key), then fresh keys are
// generated.
//
//go:embed keypool.pem
var keyPoolPEM []byte

var keyPool struct {
	once   sync.Once
	blocks [][]byte
	next   atomic.Int64
}

func rsaKey() (*rsa.PrivateKey, error) {
	keyPool.once.Do(func() {
		rest := keyPoolPEM
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			keyPool.blocks = append(keyPool.blocks, b.Bytes)
		}
	})
	if i := keyPool.next.Add(1) - 1; i < int64(len(keyPool.blocks)) {
		k, err := x509.ParsePKCS8PrivateKey(keyPool.blocks[i])
		if err == nil {
			if rk, ok := k.(*rsa.PrivateKey); ok {
				return rk, nil
			}
		}
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

type signingKey struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
	pub    crypto.PublicKey
	cert   []byte // self-signed certificate (DER), published as x5c
}

func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case "RS256":
		return jwt.SigningMethodRS256, nil
	case "PS256":
		return jwt.SigningMethodPS256, nil
	case "ES256":
		return jwt.SigningMethodES256, nil
	case "EdDSA":
		return jwt.SigningMethodEdDSA, nil
	}
	return nil, fmt.Errorf("keycloaktest: unsupported signing algorithm %q (want RS256, PS256, ES256 or EdDSA)", alg)
}

func newSigningKey(alg, realm string) (*signingKey, error) {
	m, err := methodFor(alg)
	if err != nil {
		return nil, err
	}
	var priv crypto.Signer
	switch alg {
	case "RS256", "PS256":
		priv, err = rsaKey()
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("keycloaktest: generate key: %w", err)
	}
	k := &signingKey{alg: alg, method: m, priv: priv, pub: priv.Public()}
	k.kid = thumbprint(k.pub)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: realm},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
	}
	if k.cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.pub, priv); err != nil {
		return nil, fmt.Errorf("keycloaktest: self-signed certificate: %w", err)
	}
	return k, nil
}

var b64 = base64.RawURLEncoding

// thumbprint is the RFC 7638 JWK thumbprint, base64url.
func thumbprint(pub crypto.PublicKey) string {
	var s string
	switch p := pub.(type) {
	case *rsa.PublicKey:
		s = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64.EncodeToString(big.NewInt(int64(p.E)).Bytes()),
			b64.EncodeToString(p.N.Bytes()))
	case *ecdsa.PublicKey:
		x, y := ecXY(p)
		s = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, x, y)
	case ed25519.PublicKey:
		s = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":%q}`, b64.EncodeToString(p))
	}
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

func ecXY(p *ecdsa.PublicKey) (string, string) {
	raw, err := p.Bytes() // 0x04 || X || Y
	if err != nil || len(raw) != 65 {
		return "", ""
	}
	return b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:])
}

// jwk renders the key as Keycloak publishes it.
func (k *signingKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64.EncodeToString(p.N.Bytes())
		m["e"] = b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = "P-256"
		m["x"], m["y"] = ecXY(p)
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64.EncodeToString(p)
	}
	s1 := sha1.Sum(k.cert) //nolint:gosec // see import
	s256 := sha256.Sum256(k.cert)
	m["x5c"] = []string{base64.StdEncoding.EncodeToString(k.cert)}
	m["x5t"] = b64.EncodeToString(s1[:])
	m["x5t#S256"] = b64.EncodeToString(s256[:])
	return m
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	s.mu.RLock()
	override := s.jwksOverride
	keys := make([]map[string]any, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, k.jwk())
	}
	s.mu.RUnlock()
	if override != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(override)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// SigningKeyID returns the kid of the key signing tokens now.
func (s *Server) SigningKeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.signKID
}

// RotateKey adds a new key of the realm's algorithm and signs with it from
// now on; the old key stays published. It returns the new kid ("" if key
// generation failed).
func (s *Server) RotateKey() string {
	k, err := newSigningKey(s.cfg.alg, s.cfg.realm)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	s.signKID = k.kid
	s.retired = nil
	return k.kid
}

// AddKey publishes another key of algorithm alg ("RS256", "PS256", "ES256",
// "EdDSA") that is not used to sign, and returns its kid ("" for an
// unsupported alg). Sign with it through [WithKeyID].
func (s *Server) AddKey(alg string) string {
	k, err := newSigningKey(alg, s.cfg.realm)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k.kid
}

// RetireKey removes a key from the JWKS; tokens signed with it no longer
// verify here either. Retiring the signing key is allowed: tokens are then
// still signed with it but fail verification everywhere (until RotateKey).
func (s *Server) RetireKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.kid == kid {
			s.keys = append(s.keys[:i:i], s.keys[i+1:]...)
			if s.signKID == kid {
				s.retired = k
			}
			return
		}
	}
}

// SetJWKS serves body verbatim (Content-Type application/json) at the certs
// endpoint instead of the real key set; nil restores the real key set. The
// server itself keeps verifying with its real keys.
func (s *Server) SetJWKS(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == nil {
		s.jwksOverride = nil
		return
	}
	s.jwksOverride = append([]byte{}, body...)
}

// signingKeyLocked returns the key that signs now.
func (s *Server) signingKeyLocked() *signingKey {
	for _, k := range s.keys {
		if k.kid == s.signKID {
			return k
		}
	}
	return s.retired
}

// SignOption changes how [Server.SignToken] (and the token helpers) sign.
type SignOption func(*signOptions)

type signOptions struct {
	kid        *string
	noKID      bool
	headers    map[string]any
	foreign    bool
	none       bool
	hmacPublic bool
}

// WithKeyID sets the header kid (it may name an unknown kid). When the kid
// names a published key, that key signs.
func WithKeyID(kid string) SignOption { return func(o *signOptions) { o.kid = &kid } }

// WithoutKeyID omits the kid header.
func WithoutKeyID() SignOption { return func(o *signOptions) { o.noKID = true } }

// WithHeader sets an extra or overridden JOSE header field (alg, typ, crit,
// jku, jwk, x5u…). Overriding alg changes only the header: the signature is
// still made with the key's real algorithm.
func WithHeader(name string, v any) SignOption {
	return func(o *signOptions) {
		if o.headers == nil {
			o.headers = map[string]any{}
		}
		o.headers[name] = v
	}
}

// WithForeignKey signs with a key that is NOT in the JWKS (same alg, and the
// kid of the current signing key), as an attacker would.
func WithForeignKey() SignOption { return func(o *signOptions) { o.foreign = true } }

// WithAlgNone produces an unsecured JWS: header alg "none", empty signature.
func WithAlgNone() SignOption { return func(o *signOptions) { o.none = true } }

// WithHMACPublicKey signs with HS256 using the signing key's public key
// (PKIX DER, PEM-encoded) as the HMAC secret: the classic algorithm
// confusion attack.
func WithHMACPublicKey() SignOption { return func(o *signOptions) { o.hmacPublic = true } }

// sign signs claims. Errors cannot come from the input (the claims are
// marshalled as JSON values) except for unmarshalable values.
func (s *Server) sign(claims map[string]any, opts ...SignOption) (string, error) {
	var o signOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s.mu.RLock()
	key := s.signingKeyLocked()
	if o.kid != nil {
		for _, k := range s.keys {
			if k.kid == *o.kid {
				key = k
			}
		}
	}
	s.mu.RUnlock()
	kid := key.kid
	if o.kid != nil {
		kid = *o.kid
	}
	if o.foreign {
		fk, err := s.foreignKey(key.alg)
		if err != nil {
			return "", err
		}
		key = fk
	}
	var tok *jwt.Token
	var signKey any = key.priv
	switch {
	case o.none:
		tok = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims))
		signKey = jwt.UnsafeAllowNoneSignatureType
	case o.hmacPublic:
		der, err := x509.MarshalPKIXPublicKey(key.pub)
		if err != nil {
			return "", fmt.Errorf("keycloaktest: marshal public key: %w", err)
		}
		tok = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
		signKey = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	default:
		tok = jwt.NewWithClaims(key.method, jwt.MapClaims(claims))
	}
	if !o.noKID {
		tok.Header["kid"] = kid
	}
	for k, v := range o.headers {
		tok.Header[k] = v
	}
	out, err := tok.SignedString(signKey)
	if err != nil {
		return "", fmt.Errorf("keycloaktest: sign: %w", err)
	}
	return out, nil
}

func (s *Server) foreignKey(alg string) (*signingKey, error) {
	s.mu.RLock()
	k := s.foreign[alg]
	s.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	k, err := newSigningKey(alg, s.cfg.realm)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.foreign[alg]; prev != nil {
		return prev, nil
	}
	s.foreign[alg] = k
	return k, nil
}

// SignToken signs arbitrary claims with the current key (header alg, typ
// "JWT", kid). Use it, with SignOptions, to build defective tokens. It
// returns "" only if a claim value cannot be marshalled as JSON.
func (s *Server) SignToken(claims map[string]any, opts ...SignOption) string {
	out, err := s.sign(claims, opts...)
	if err != nil {
		return ""
	}
	return out
}

// Token verification errors (internal).
var (
	errTokenInvalid = errors.New("keycloaktest: token invalid")
	errTokenExpired = errors.New("keycloaktest: token expired")
)

// parseToken verifies raw with the published keys (by kid) and checks exp
// and nbf, and iss (which must be present when requireIssuer; permission
// tickets have none). The returned claims keep numbers as json.Number.
func (s *Server) parseToken(raw string, requireIssuer bool) (map[string]any, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "EdDSA"}),
		jwt.WithTimeFunc(s.cfg.now),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, k := range s.keys {
			if k.kid == kid && k.alg == t.Method.Alg() {
				return k.pub, nil
			}
		}
		return nil, errTokenInvalid
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) && len(claims) > 0 {
			return claims, errTokenExpired
		}
		return nil, errTokenInvalid
	}
	iss, hasIss := claims["iss"]
	if (requireIssuer || hasIss) && iss != s.Issuer() {
		return nil, errTokenInvalid
	}
	return claims, nil
}

// decodeUnverified decodes the payload of a compact JWS without checking it.
func decodeUnverified(raw string) map[string]any {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(raw, claims); err != nil {
		return nil
	}
	return claims
}
