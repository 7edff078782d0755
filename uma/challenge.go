package uma

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Limits applied by [ParseChallenge] to hostile input.
const (
	// MaxChallengeLength is the longest WWW-Authenticate value ParseChallenge
	// reads (bytes).
	MaxChallengeLength = 16 << 10
	// maxChallengeParams caps auth-params per header value.
	maxChallengeParams = 64
)

// Challenge is a parsed "WWW-Authenticate: UMA" challenge (UMA 2.0 Grant
// §3.3.1). ASURI is the authorization server's issuer URI and Ticket the
// permission ticket; Realm is optional. Callers MUST check that ASURI is the
// authorization server they trust before sending anything there (see
// [Client.RequestRPTForChallenge]).
type Challenge struct {
	Realm  string
	ASURI  string
	Ticket string
}

// BuildChallenge renders the challenge exactly as Keycloak's enforcer does:
//
//	UMA realm="<realm>",as_uri="<asURI>",ticket="<ticket>"
//
// with no spaces after commas and every value a quoted-string. `"` and `\` are
// escaped as RFC 9110 quoted-pairs; control characters (other than HTAB) and
// DEL cannot be represented and make BuildChallenge fail with an error
// matching [ErrInvalidRequest]. as_uri and ticket must not be empty.
func BuildChallenge(realm, asURI, ticket string) (string, error) {
	if asURI == "" || ticket == "" {
		return "", invalidRequest("challenge needs as_uri and ticket")
	}
	var b strings.Builder
	b.Grow(len(realm) + len(asURI) + len(ticket) + 32)
	b.WriteString(`UMA realm=`)
	if err := writeQuoted(&b, realm); err != nil {
		return "", err
	}
	b.WriteString(`,as_uri=`)
	if err := writeQuoted(&b, asURI); err != nil {
		return "", err
	}
	b.WriteString(`,ticket=`)
	if err := writeQuoted(&b, ticket); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeQuoted(b *strings.Builder, s string) error {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
		default:
			return invalidRequest("challenge value contains a control character")
		}
	}
	b.WriteByte('"')
	return nil
}

// ParseChallenge finds the UMA challenge in a WWW-Authenticate field value
// (which may list several challenges, e.g. `Bearer realm="x", UMA …`) and
// returns its realm, as_uri and ticket.
//
// Parsing follows RFC 9110 §11.6.1 strictly: auth-param names are tokens,
// values are tokens or quoted-strings (with quoted-pair escapes), parameter
// names are case-insensitive and may not repeat within a challenge, the UMA
// challenge must not use token68, must appear once, and must carry a non-empty
// ticket and an absolute http(s) as_uri. Input longer than
// [MaxChallengeLength] or with too many parameters is refused. Every failure
// matches [ErrMalformedChallenge]. Other schemes' challenges (including
// token68 forms such as `Negotiate abc==`) are parsed and ignored.
func ParseChallenge(header string) (Challenge, error) {
	if len(header) > MaxChallengeLength {
		return Challenge{}, fmt.Errorf("%w: too long", ErrMalformedChallenge)
	}
	p := &authParser{s: header}
	challenges, err := p.parse()
	if err != nil {
		return Challenge{}, fmt.Errorf("%w: %s", ErrMalformedChallenge, err.Error())
	}
	var found *parsedChallenge
	for i := range challenges {
		if strings.EqualFold(challenges[i].scheme, "UMA") {
			if found != nil {
				return Challenge{}, fmt.Errorf("%w: more than one UMA challenge", ErrMalformedChallenge)
			}
			found = &challenges[i]
		}
	}
	if found == nil {
		return Challenge{}, fmt.Errorf("%w: no UMA challenge", ErrMalformedChallenge)
	}
	if found.token68 {
		return Challenge{}, fmt.Errorf("%w: UMA challenge uses token68", ErrMalformedChallenge)
	}
	var ch Challenge
	seen := map[string]bool{}
	for _, kv := range found.params {
		name := strings.ToLower(kv[0])
		if seen[name] {
			return Challenge{}, fmt.Errorf("%w: duplicate parameter", ErrMalformedChallenge)
		}
		seen[name] = true
		switch name {
		case "realm":
			ch.Realm = kv[1]
		case "as_uri":
			ch.ASURI = kv[1]
		case "ticket":
			ch.Ticket = kv[1]
		}
	}
	if ch.Ticket == "" {
		return Challenge{}, fmt.Errorf("%w: missing ticket", ErrMalformedChallenge)
	}
	u, err := url.Parse(ch.ASURI)
	if ch.ASURI == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Challenge{}, fmt.Errorf("%w: as_uri is not an absolute http(s) URI", ErrMalformedChallenge)
	}
	return ch, nil
}

type parsedChallenge struct {
	scheme  string
	token68 bool
	params  [][2]string
}

// authParser implements the RFC 9110 grammar:
//
//	WWW-Authenticate = [ challenge *( OWS "," OWS challenge ) ]   (#challenge)
//	challenge  = auth-scheme [ 1*SP ( token68 / [ auth-param *( OWS "," OWS auth-param ) ] ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
type authParser struct {
	s       string
	i       int
	nParams int
}

var errSyntax = errors.New("syntax error")

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

func (p *authParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipCommas consumes OWS and empty list elements; it reports whether at
// least one comma was seen.
func (p *authParser) skipCommas() bool {
	comma := false
	for {
		p.skipOWS()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			comma = true
			p.i++
			continue
		}
		return comma
	}
}

func (p *authParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *authParser) quoted() (string, error) {
	// p.s[p.i] == '"'
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", errSyntax
			}
			n := p.s[p.i+1]
			if n != '\t' && (n < 0x20 || n == 0x7f) {
				return "", errSyntax
			}
			b.WriteByte(n)
			p.i += 2
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
			p.i++
		default:
			return "", errSyntax
		}
	}
	return "", errSyntax
}

// atParam reports whether the input at p.i is `token BWS "="` that is not
// the tail of a token68 (i.e. the "=" run is followed by a value).
func (p *authParser) atParam() bool {
	j := p.i
	for j < len(p.s) && isTchar(p.s[j]) {
		j++
	}
	if j == p.i {
		return false
	}
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j >= len(p.s) || p.s[j] != '=' {
		return false
	}
	j++
	// "a==" or "a=" followed by end/comma is a token68, not a param.
	k := j
	for k < len(p.s) && p.s[k] == '=' {
		k++
	}
	if k > j {
		return false
	}
	for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
		k++
	}
	return k < len(p.s) && p.s[k] != ','
}

func (p *authParser) param() (string, string, error) {
	name := p.token()
	p.skipOWS()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return "", "", errSyntax
	}
	p.i++
	p.skipOWS()
	if p.i >= len(p.s) {
		return "", "", errSyntax
	}
	if p.s[p.i] == '"' {
		v, err := p.quoted()
		return name, v, err
	}
	v := p.token()
	if v == "" {
		return "", "", errSyntax
	}
	return name, v, nil
}

func (p *authParser) parse() ([]parsedChallenge, error) {
	var out []parsedChallenge
	p.skipCommas()
	for p.i < len(p.s) {
		scheme := p.token()
		if scheme == "" {
			return nil, errSyntax
		}
		ch := parsedChallenge{scheme: scheme}
		// auth-scheme [ 1*SP ( token68 / #auth-param ) ]
		sp := p.i
		for p.i < len(p.s) && p.s[p.i] == ' ' {
			p.i++
		}
		hasSP := p.i > sp
		if hasSP && p.i < len(p.s) && p.s[p.i] != ',' {
			if p.atParam() {
				for {
					name, val, err := p.param()
					if err != nil {
						return nil, err
					}
					p.nParams++
					if p.nParams > maxChallengeParams {
						return nil, errors.New("too many parameters")
					}
					ch.params = append(ch.params, [2]string{name, val})
					// after a param: end, or commas then either another
					// param of this challenge or a new challenge.
					p.skipOWS()
					if p.i >= len(p.s) {
						break
					}
					if !p.skipCommas() {
						return nil, errSyntax
					}
					if p.i >= len(p.s) || !p.atParam() {
						break
					}
				}
				out = append(out, ch)
				continue
			}
			// token68
			start := p.i
			for p.i < len(p.s) && isToken68Char(p.s[p.i]) {
				p.i++
			}
			if p.i == start {
				return nil, errSyntax
			}
			for p.i < len(p.s) && p.s[p.i] == '=' {
				p.i++
			}
			ch.token68 = true
		}
		out = append(out, ch)
		if len(out) > maxChallengeParams {
			return nil, errors.New("too many challenges")
		}
		p.skipOWS()
		if p.i >= len(p.s) {
			break
		}
		if !p.skipCommas() {
			return nil, errSyntax
		}
	}
	return out, nil
}
