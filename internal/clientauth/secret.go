package clientauth

import (
	"fmt"
	"log/slog"
)

// Redacted is what a non-empty [Secret] prints as.
const Redacted = "[REDACTED]"

// Secret is a secret-bearing string (client secret, HMAC key, prepared
// Authorization header) that never prints itself: fmt verbs, %#v and slog
// all show [Redacted] ("" for an empty Secret). Use string(s) to get the
// value where it must be sent.
type Secret string

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer (%#v) without revealing the secret.
func (s Secret) GoString() string { return `clientauth.Secret("` + s.String() + `")` }

// Format implements fmt.Formatter: every verb (%s, %v, %q, %x, …) prints
// String, so no verb reveals the bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// LogValue implements slog.LogValuer without revealing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText makes encoding/json and friends write the redacted form: a
// Secret is never serialized by accident.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
