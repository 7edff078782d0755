package policies

import (
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/rptguard/rptguard/rpt"
)

// ScopesEnforcementMode is a method's scopes-enforcement-mode in Keycloak's
// policy-enforcer configuration: how input.required_scopes are checked
// against a permission's scopes.
type ScopesEnforcementMode string

// Scopes enforcement modes (SPEC §1.4, §3.3).
const (
	// ScopesAll: the permission must grant every required scope. The default.
	ScopesAll ScopesEnforcementMode = "ALL"
	// ScopesAny: the permission must grant one of the required scopes.
	ScopesAny ScopesEnforcementMode = "ANY"
	// ScopesDisabled: scopes are not checked for the method; a scoped
	// permission then satisfies only a request that requires no scope.
	ScopesDisabled ScopesEnforcementMode = "DISABLED"
)

// EnforcementMode is a path's enforcement-mode in Keycloak's policy-enforcer
// configuration.
type EnforcementMode string

// Enforcement modes (SPEC §1.2, §1.3).
const (
	// Enforcing: deny unless a permission grants access. The default.
	Enforcing EnforcementMode = "ENFORCING"
	// Permissive: grant when the token holds no permission at all for the
	// path's resource (Keycloak's isAuthorized fallback).
	Permissive EnforcementMode = "PERMISSIVE"
	// Disabled: the enforcer does not evaluate policies for such paths; the
	// built-in decision treats it like Enforcing.
	Disabled EnforcementMode = "DISABLED"
)

// PermissionsSource says where the built-in decision takes permissions
// from (input.permissions_source).
type PermissionsSource string

// Permission sources.
const (
	// PermissionsToken: the token's permissions (an RPT). The default.
	PermissionsToken PermissionsSource = "token"
	// PermissionsOffline: the permission that Keycloak's own policies,
	// translated to Rego by policies/keycloak and loaded as a source,
	// grant for the request (data.rptguard.offline.permission), computed
	// from the token's roles, groups and claims; no RPT is needed. Without
	// those modules loaded, nothing is granted.
	PermissionsOffline PermissionsSource = "offline"
)

// Request is the HTTP request part of the input (input.request). Every field
// is optional; nil maps and slices become empty objects and arrays.
type Request struct {
	Method string
	// Path is the canonical path, the one that was matched and authorized.
	Path string
	// RawPath is the path as received, before canonicalization.
	RawPath string
	// PathParams are the {param} values the matched template captured.
	PathParams map[string]string
	// Query is the request's query parameters.
	Query map[string][]string
	// Headers are the headers selected for policies; names are lower-cased
	// in the input. Do not pass Authorization or Cookie headers.
	Headers map[string][]string
	// RemoteAddr is the client address ("ip:port" or "ip").
	RemoteAddr string
}

// Resource is the protected resource the path resolved to (input.resource).
type Resource struct {
	ID    string
	Name  string
	Type  string
	URIs  []string
	Owner string
	// Template is the path pattern that matched ("/orders/{id}").
	Template string
	// ParentID is set for an instance path: the id of the template (parent)
	// resource. A permission on the parent does not grant the instance, but
	// it does turn off the Permissive fallback (SPEC §3.3).
	ParentID string
}

// Input is everything a decision depends on. Build one per request; the
// token part is prebuilt ([TokenValue]) and shared. Input values are not
// modified by [Engine.Evaluate].
//
// The JSON shape policies see is documented in the package doc and in
// schema/input.json ([InputSchema]).
type Input struct {
	Request  Request
	Resource Resource
	// RequiredScopes are the scopes the method requires (input.required_scopes).
	RequiredScopes []string
	// ScopesMode is how RequiredScopes are checked. Empty means [ScopesAll].
	ScopesMode ScopesEnforcementMode
	// EnforcementMode is the path's mode. Empty means [Enforcing].
	EnforcementMode EnforcementMode
	// Token is the verified token's policy form. Nil means anonymous:
	// input.token is {}, there are no permissions, and the built-in decision
	// denies.
	Token *TokenValue
	// Claims are the claims resolved by claim information points
	// (input.claims), checked against permissions' claims.
	Claims map[string][]string
	// Rule optionally names a user rule that must also hold: "rules.<name>"
	// (data.rptguard.rules.<name>) or "rules.<pkg>.<name>". Empty for none.
	Rule string
	// PermissionsSource selects the permissions the built-in decision
	// checks. Empty means [PermissionsToken].
	PermissionsSource PermissionsSource
}

// Keys of the input document, built once.
var (
	keyRequest         = ast.StringTerm("request")
	keyResource        = ast.StringTerm("resource")
	keyRequiredScopes  = ast.StringTerm("required_scopes")
	keyScopesMode      = ast.StringTerm("scopes_mode")
	keyEnforcementMode = ast.StringTerm("enforcement_mode")
	keyToken           = ast.StringTerm("token")
	keyHasAuthz        = ast.StringTerm("has_authorization")
	keyPermissions     = ast.StringTerm("permissions")
	keyPermsByResource = ast.StringTerm("permissions_by_resource")
	keyScopePerms      = ast.StringTerm("scope_permissions")
	keyClaims          = ast.StringTerm("claims")
	keyRule            = ast.StringTerm("rule")
	keyPermsSource     = ast.StringTerm("permissions_source")

	keyMethod     = ast.StringTerm("method")
	keyPath       = ast.StringTerm("path")
	keyRawPath    = ast.StringTerm("raw_path")
	keyPathParams = ast.StringTerm("path_params")
	keyQuery      = ast.StringTerm("query")
	keyHeaders    = ast.StringTerm("headers")
	keyRemoteAddr = ast.StringTerm("remote_addr")

	keyID       = ast.StringTerm("id")
	keyName     = ast.StringTerm("name")
	keyType     = ast.StringTerm("type")
	keyURIs     = ast.StringTerm("uris")
	keyOwner    = ast.StringTerm("owner")
	keyTemplate = ast.StringTerm("template")
	keyParentID = ast.StringTerm("parent_id")

	keyIndex  = ast.StringTerm("index")
	keyRSID   = ast.StringTerm("rsid")
	keyRSName = ast.StringTerm("rsname")
	keyScopes = ast.StringTerm("scopes")

	termALL        = ast.StringTerm(string(ScopesAll))
	termANY        = ast.StringTerm(string(ScopesAny))
	termDISABLED   = ast.StringTerm(string(ScopesDisabled))
	termENFORCING  = ast.StringTerm(string(Enforcing))
	termPERMISSIVE = ast.StringTerm(string(Permissive))
	termToken      = ast.StringTerm(string(PermissionsToken))
	termOffline    = ast.StringTerm(string(PermissionsOffline))
)

// value builds the input document. clock is read only when the token has
// permissions with their own exp, to drop expired ones. sc, when not nil,
// supplies the parts that depend only on the path and method.
// It returns the permissions in the order (and with the indexes) the policy
// sees them.
func (in *Input) value(clock func() time.Time, sc *staticCache) (ast.Value, []rpt.Permission, error) {
	var smTerm, emTerm *ast.Term
	switch in.ScopesMode {
	case "", ScopesAll:
		smTerm = termALL
	case ScopesAny:
		smTerm = termANY
	case ScopesDisabled:
		smTerm = termDISABLED
	default:
		return nil, nil, fmt.Errorf("%w: unknown scopes enforcement mode", ErrInvalidInput)
	}
	switch in.EnforcementMode {
	case "", Enforcing:
		emTerm = termENFORCING
	case Permissive:
		emTerm = termPERMISSIVE
	case Disabled:
		emTerm = termDISABLED
	default:
		return nil, nil, fmt.Errorf("%w: unknown enforcement mode", ErrInvalidInput)
	}
	psTerm := termToken
	switch in.PermissionsSource {
	case "", PermissionsToken:
	case PermissionsOffline:
		psTerm = termOffline
	default:
		return nil, nil, fmt.Errorf("%w: unknown permissions source", ErrInvalidInput)
	}
	if in.Rule != "" && !validRuleName(in.Rule) {
		return nil, nil, fmt.Errorf("%w: rule name must be rules.<name> or rules.<package>.<name>", ErrInvalidInput)
	}

	var tokTerm, all, byRes, scoped, hasAuthz *ast.Term
	var perms []rpt.Permission
	if t := in.Token; t != nil {
		var err error
		if tokTerm, all, byRes, scoped, err = t.terms(); err != nil {
			return nil, nil, err
		}
		hasAuthz = ast.InternedTerm(t.hasAuthz)
		perms = t.perms
		if !t.earliestExp.IsZero() && !clock().Before(t.earliestExp) {
			now := clock()
			keep := func(p *rpt.Permission) bool { return p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt) }
			all, byRes, scoped = permissionTerms(t.perms, keep)
			perms = make([]rpt.Permission, 0, len(t.perms))
			for i := range t.perms {
				if keep(&t.perms[i]) {
					perms = append(perms, t.perms[i])
				}
			}
		}
	} else {
		tokTerm, all, byRes, scoped = ast.InternedEmptyObject, ast.InternedEmptyArray, ast.InternedEmptyObject, ast.InternedEmptyArray
		hasAuthz = ast.InternedTerm(false)
	}

	r := &in.Request
	pathTerm, rawTerm := stringTerm(r.Path), stringTerm(r.RawPath)
	if r.RawPath == r.Path {
		rawTerm = pathTerm
	}
	req := ast.NewObject(
		[2]*ast.Term{keyMethod, methodTerm(r.Method)},
		[2]*ast.Term{keyPath, pathTerm},
		[2]*ast.Term{keyRawPath, rawTerm},
		[2]*ast.Term{keyPathParams, stringMapTerm(r.PathParams)},
		[2]*ast.Term{keyQuery, stringListMapTerm(r.Query, false)},
		[2]*ast.Term{keyHeaders, stringListMapTerm(r.Headers, true)},
		[2]*ast.Term{keyRemoteAddr, stringTerm(r.RemoteAddr)},
	)
	resTerm, required, rule := sc.terms(in)
	v := ast.NewObject(
		[2]*ast.Term{keyRequest, ast.NewTerm(req)},
		[2]*ast.Term{keyResource, resTerm},
		[2]*ast.Term{keyRequiredScopes, required},
		[2]*ast.Term{keyScopesMode, smTerm},
		[2]*ast.Term{keyEnforcementMode, emTerm},
		[2]*ast.Term{keyToken, tokTerm},
		[2]*ast.Term{keyHasAuthz, hasAuthz},
		[2]*ast.Term{keyPermissions, all},
		[2]*ast.Term{keyPermsByResource, byRes},
		[2]*ast.Term{keyScopePerms, scoped},
		[2]*ast.Term{keyClaims, stringListMapTerm(in.Claims, false)},
		[2]*ast.Term{keyRule, rule},
		[2]*ast.Term{keyPermsSource, psTerm},
	)
	return v, perms, nil
}

// validRuleName accepts "rules.<ident>" and "rules.<ident>.<ident>".
func validRuleName(s string) bool {
	rest, ok := strings.CutPrefix(s, "rules.")
	if !ok {
		return false
	}
	first, second, two := strings.Cut(rest, ".")
	if !validIdent(first) {
		return false
	}
	return !two || validIdent(second)
}

// validIdent reports whether p is a non-empty [A-Za-z_][A-Za-z0-9_]*.
func validIdent(p string) bool {
	if p == "" {
		return false
	}
	for i, c := range p {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func stringsTerm(ss []string) *ast.Term {
	if len(ss) == 0 {
		return ast.InternedEmptyArray
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

func stringMapTerm(m map[string]string) *ast.Term {
	if len(m) == 0 {
		return ast.InternedEmptyObject
	}
	// One allocation for all the terms and one for the pairs.
	terms := make([]ast.Term, 2*len(m))
	pairs := make([][2]*ast.Term, 0, len(m))
	for k, v := range m {
		kt, vt := &terms[2*len(pairs)], &terms[2*len(pairs)+1]
		kt.Value, vt.Value = ast.String(k), ast.String(v)
		pairs = append(pairs, [2]*ast.Term{kt, vt})
	}
	return ast.ObjectTerm(pairs...)
}

// stringListMapTerm converts a map of string lists. With lowerKeys, keys are
// lower-cased and lists under keys that fold together are concatenated.
func stringListMapTerm(m map[string][]string, lowerKeys bool) *ast.Term {
	if len(m) == 0 {
		return ast.InternedEmptyObject
	}
	obj := ast.NewObjectWithCapacity(len(m))
	for k, vs := range m {
		if lowerKeys {
			k = strings.ToLower(k)
			if prev := obj.Get(ast.StringTerm(k)); prev != nil {
				arr := prev.Value.(*ast.Array)
				for _, s := range vs {
					arr = arr.Append(ast.StringTerm(s))
				}
				obj.Insert(ast.StringTerm(k), ast.NewTerm(arr))
				continue
			}
		}
		obj.Insert(ast.StringTerm(k), stringsTerm(vs))
	}
	return ast.NewTerm(obj)
}
