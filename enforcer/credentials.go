package enforcer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rptguard/rptguard/internal/clientauth"
	"github.com/rptguard/rptguard/introspection"
	"github.com/rptguard/rptguard/uma"
)

// Client authentication from Keycloak's "credentials" (SPEC §1.2):
//
//   - {"secret": "…"} → client_secret_basic;
//   - {"jwt": {…}} → private_key_jwt with the key in client-keystore-file;
//   - {"secret-jwt": {"secret": "…", "algorithm": "HS256"}} → client_secret_jwt.
//
// Several entries need Keycloak's "provider" key naming the one to use.
//
// Keystores: Keycloak reads a JKS or PKCS#12 keystore. rptguard reads PEM
// only (an rptguard extension of "client-keystore-type": "PEM"; a PEM file
// is also accepted when the type is empty, Keycloak's JKS default): an
// unencrypted PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY") key, optionally followed by certificates.
// client-key-alias and the passwords are not used for PEM. Convert a
// keystore with, for example:
//
//	keytool -importkeystore -srckeystore client.jks -destkeystore client.p12 -deststoretype PKCS12
//	openssl pkcs12 -in client.p12 -nocerts -nodes -out client-key.pem

// Defaults of Keycloak's client credential providers.
const (
	// defaultAssertionTTL is Keycloak's "token-expiration" default (10 s).
	defaultAssertionTTL = 10 * time.Second
	// maxKeyFileBytes bounds the key file read.
	maxKeyFileBytes = 1 << 20
)

// clientCredentials is the resolved client authentication of a Config. It
// holds secrets: never format or log it.
type clientCredentials struct {
	method string // a token_endpoint_auth_method value; "" = public client
	secret string
	key    crypto.Signer
	keyID  string
	alg    string
	ttl    time.Duration
}

// credentialProvider returns which credentials entry is in use ("secret",
// "jwt", "secret-jwt", or "" for none) following Keycloak's
// ClientCredentialsProviderUtils: the only entry, or the one named by
// "provider" when there are several.
func credentialProvider(c *Credentials) (string, error) {
	var present []string
	if c.Secret != "" {
		present = append(present, "secret")
	}
	if c.JWT != nil {
		present = append(present, "jwt")
	}
	if c.SecretJWT != nil {
		present = append(present, "secret-jwt")
	}
	if raw, ok := c.Other["provider"]; ok {
		var p string
		if json.Unmarshal(raw, &p) != nil {
			return "", cfgErr("credentials.provider", "want a string")
		}
		p = strings.ToLower(p)
		for _, x := range present {
			if x == p {
				return p, nil
			}
		}
		return "", cfgErr("credentials.provider", "names %s, which is not configured (secret, jwt or secret-jwt)", quoteTrunc(p))
	}
	switch len(present) {
	case 0:
		return "", nil
	case 1:
		return present[0], nil
	}
	return "", cfgErr("credentials", "several client authenticators (%s) and no \"provider\" naming the one to use", strings.Join(present, ", "))
}

// validateCredentials runs the checks that need no file access. It runs
// when the enforcer connects (not in Config.Validate): a Keycloak file with
// credentials rptguard cannot use still parses, and offline enforcers never
// need them.
func validateCredentials(c *Credentials) error {
	p, err := credentialProvider(c)
	if err != nil {
		return err
	}
	switch p {
	case "jwt":
		j := c.JWT
		if j.ClientKeystoreFile == "" {
			return cfgErr("credentials.jwt.client-keystore-file", "required")
		}
		if strings.HasPrefix(j.ClientKeystoreFile, "classpath:") {
			return cfgErr("credentials.jwt.client-keystore-file", "classpath: locations are not supported; give a file path")
		}
		switch strings.ToUpper(j.ClientKeystoreType) {
		case "", "PEM":
		default:
			return cfgErr("credentials.jwt.client-keystore-type",
				"%s keystores are not supported; convert the key to a PEM file (PKCS#8) and set \"PEM\"", quoteTrunc(j.ClientKeystoreType))
		}
	case "secret-jwt":
		if c.SecretJWT.Secret == "" {
			return cfgErr("credentials.secret-jwt.secret", "required")
		}
		switch strings.ToUpper(c.SecretJWT.Algorithm) {
		case "", "HS256", "HS384", "HS512":
		default:
			return cfgErr("credentials.secret-jwt.algorithm", "unsupported %s (HS256, HS384 or HS512)", quoteTrunc(c.SecretJWT.Algorithm))
		}
	}
	return nil
}

// loadClientCredentials resolves cfg's client authentication, reading the
// private key file for "jwt". A public client (public-client, or no
// credentials) gets method "". Errors are *ConfigError naming the field;
// they never contain key material or secrets.
func loadClientCredentials(cfg *Config) (clientCredentials, error) {
	if cfg.PublicClient {
		return clientCredentials{}, nil
	}
	c := &cfg.Credentials
	if err := validateCredentials(c); err != nil {
		return clientCredentials{}, err
	}
	p, _ := credentialProvider(c)
	switch p {
	case "secret":
		return clientCredentials{method: "client_secret_basic", secret: string(c.Secret)}, nil
	case "secret-jwt":
		return clientCredentials{method: "client_secret_jwt", secret: string(c.SecretJWT.Secret),
			alg: strings.ToUpper(c.SecretJWT.Algorithm), ttl: defaultAssertionTTL}, nil
	case "jwt":
		key, err := loadPEMKey(c.JWT.ClientKeystoreFile)
		if err != nil {
			return clientCredentials{}, &ConfigError{Field: "credentials.jwt.client-keystore-file", Err: err}
		}
		kid, err := keycloakKeyID(key.Public())
		if err != nil {
			return clientCredentials{}, &ConfigError{Field: "credentials.jwt.client-keystore-file", Err: err}
		}
		ttl := defaultAssertionTTL
		if c.JWT.TokenExpiration > 0 {
			ttl = time.Duration(c.JWT.TokenExpiration) * time.Second
		}
		cc := clientCredentials{method: "private_key_jwt", key: key, keyID: kid, alg: c.JWT.Algorithm, ttl: ttl}
		// Check the algorithm against the key now, naming the field.
		if _, err := clientauth.New(clientauth.Config{Method: clientauth.PrivateKeyJWT, ClientID: "check",
			PrivateKey: key, Algorithm: cc.alg, Audience: "check"}); err != nil {
			return clientCredentials{}, &ConfigError{Field: "credentials.jwt.algorithm", Err: err}
		}
		return cc, nil
	}
	return clientCredentials{}, nil
}

// loadPEMKey reads an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1)
// from path. Certificates in the file are skipped; exactly one private key
// must be present.
func loadPEMKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the key file: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file: %w", err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, errors.New("key file larger than 1 MiB")
	}
	if !strings.Contains(string(data), "-----BEGIN ") {
		return nil, errors.New("not a PEM file: JKS and PKCS#12 keystores are not supported; convert the key to PEM (PKCS#8)")
	}
	var key crypto.Signer
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var k any
		switch b.Type {
		case "CERTIFICATE", "TRUSTED CERTIFICATE", "PUBLIC KEY":
			continue
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM keys are not supported; decrypt it (openssl pkey -in key.pem -out plain.pem)")
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			if _, enc := b.Headers["Proc-Type"]; enc {
				return nil, errors.New("encrypted PEM keys are not supported; decrypt it (openssl pkey -in key.pem -out plain.pem)")
			}
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			if _, enc := b.Headers["Proc-Type"]; enc {
				return nil, errors.New("encrypted PEM keys are not supported; decrypt it (openssl pkey -in key.pem -out plain.pem)")
			}
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			return nil, fmt.Errorf("unsupported PEM block %s", quoteTrunc(b.Type))
		}
		if err != nil {
			// x509 parse errors describe the structure, not the key bytes.
			return nil, fmt.Errorf("invalid %s block", b.Type)
		}
		if key != nil {
			return nil, errors.New("more than one private key in the file")
		}
		switch s := k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			key = s.(crypto.Signer)
		default:
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
	}
	if key == nil {
		return nil, errors.New("no private key in the PEM file")
	}
	return key, nil
}

// keycloakKeyID is the "kid" Keycloak adapters put on client assertions
// (KeyUtils.createKeyId): base64url(SHA-256(SubjectPublicKeyInfo DER)), the
// id under which an adapter-published JWKS lists the key.
func keycloakKeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", errors.New("cannot encode the public key")
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// introspectionMethod maps the method for introspection.Config.
func (cc *clientCredentials) introspectionMethod() introspection.AuthMethod {
	return introspection.AuthMethod(cc.method)
}

// umaMethod maps the method for uma.Config ("" for a public client, which
// uma treats as client_secret_basic without a secret: client_id only).
func (cc *clientCredentials) umaMethod() uma.AuthMethod { return uma.AuthMethod(cc.method) }

// credentialsKey identifies the credentials for reload comparison. It
// contains secrets: compare it, never print it.
func credentialsKey(c *Credentials) string {
	b, err := json.Marshal(c)
	if err != nil {
		return string(c.Secret)
	}
	return string(b)
}
