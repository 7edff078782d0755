package introspection

import (
	"fmt"

	"github.com/rptguard/rptguard/internal/clientauth"
)

// clientAssertionType is the RFC 7523 §2.2 client_assertion_type.
const clientAssertionType = clientauth.AssertionType

// newAuthenticator maps cfg onto the shared client authentication (package
// internal/clientauth, also used by uma). audience is the assertion "aud".
func newAuthenticator(cfg *Config, audience string) (*clientauth.Authenticator, error) {
	a, err := clientauth.New(clientauth.Config{
		Method:     clientauth.Method(cfg.AuthMethod),
		ClientID:   cfg.ClientID,
		Secret:     clientauth.Secret(cfg.ClientSecret),
		PrivateKey: cfg.PrivateKey,
		KeyID:      cfg.KeyID,
		Algorithm:  cfg.AssertionAlgorithm,
		Audience:   audience,
		TTL:        cfg.AssertionTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	if a.Method() == clientauth.None {
		// RFC 7662 §2.1: the introspection caller must authenticate.
		return nil, fmt.Errorf("introspection: unsupported client authentication method %q", cfg.AuthMethod)
	}
	return a, nil
}
