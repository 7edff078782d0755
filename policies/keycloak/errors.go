package keycloak

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels callers branch on with [errors.Is].
var (
	// ErrInvalidSettings: the document is not a Keycloak authorization
	// settings export (ResourceServerRepresentation), a client with
	// authorizationSettings, or a realm export with such a client; or it is
	// malformed (bad JSON, a config value that does not parse, a reference
	// to a policy, resource or scope that does not exist). A [*PolicyError]
	// names the policy when one is at fault.
	ErrInvalidSettings = errors.New("keycloak: invalid authorization settings")
	// ErrUnsupportedPolicy: the settings use policies that cannot be
	// evaluated offline (JavaScript "js", deployed "script-*", "uma") and the
	// caller did not map them with [WithPolicyMapping]. An
	// [*UnsupportedError] lists them by name.
	ErrUnsupportedPolicy = errors.New("keycloak: unsupported policy")
	// ErrUnsupportedRegex: a regex policy's Java pattern uses a construct
	// RE2 (Go, OPA) cannot express: backreferences, lookaround, atomic
	// groups, possessive quantifiers, class intersections… Wrapped in a
	// [*PolicyError].
	ErrUnsupportedRegex = errors.New("keycloak: regex not expressible in RE2")
)

// PolicyError is a problem with one policy (or permission) of the settings.
// It matches [ErrInvalidSettings] or [ErrUnsupportedRegex] through Unwrap.
type PolicyError struct {
	// Policy is the policy's name as in the export.
	Policy string
	// Type is the policy's type ("role", "scope", …).
	Type string
	// Err describes the problem; it wraps a sentinel of this package.
	Err error
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("keycloak: policy %q (%s): %v", e.Policy, e.Type, e.Err)
}

// Unwrap returns the underlying error.
func (e *PolicyError) Unwrap() error { return e.Err }

// UnsupportedError lists the policies that cannot be evaluated offline and
// were not mapped with [WithPolicyMapping]. It matches [ErrUnsupportedPolicy].
type UnsupportedError struct {
	// Policies are "name (type)" entries, in export order.
	Policies []string
}

func (e *UnsupportedError) Error() string {
	return "keycloak: unsupported policies (map each with WithPolicyMapping to allow, deny or a Rego rule): " +
		strings.Join(e.Policies, ", ")
}

// Is makes an *UnsupportedError match [ErrUnsupportedPolicy].
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupportedPolicy }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSettings}, args...)...)
}

func policyErr(name, typ string, err error) error {
	return &PolicyError{Policy: name, Type: typ, Err: err}
}
