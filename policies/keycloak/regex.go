package keycloak

import (
	"fmt"
	"regexp"
	"strings"
)

// javaToRE2 checks that a java.util.regex pattern means the same in RE2
// (Go's regexp, which OPA's regex builtins use) and returns the RE2 pattern
// anchored for a full match (Java's Matcher.matches). Constructs RE2 lacks
// are refused rather than approximated: backreferences (\1, \k<name>),
// lookahead and lookbehind, atomic groups, possessive quantifiers, class
// intersection (&&), \G, \Z, \R, \X, \h, \H, \v, \V and Java-specific
// character properties (\p{javaLowerCase}…). The error wraps
// [ErrUnsupportedRegex] and never quotes the pattern.
func javaToRE2(pattern string) (string, error) {
	bad := func(what string, at int) error {
		return fmt.Errorf("%w: %s at offset %d", ErrUnsupportedRegex, what, at)
	}
	var b strings.Builder
	inClass := 0
	prevQuant := false // the previous token was a quantifier
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		wasQuant := prevQuant
		prevQuant = false
		switch {
		case c == '\\':
			if i+1 >= len(pattern) {
				return "", bad("trailing backslash", i)
			}
			n := pattern[i+1]
			switch {
			case n >= '1' && n <= '9' && inClass == 0:
				return "", bad("backreference", i)
			case n == 'k' && inClass == 0:
				return "", bad("named backreference", i)
			case strings.IndexByte("GZRXhHvV", n) >= 0:
				return "", bad(`escape \`+string(n), i)
			case n == 'Q':
				// \Q…\E quotes literally, as in RE2.
				end := strings.Index(pattern[i+2:], `\E`)
				if end < 0 {
					b.WriteString(pattern[i:])
					i = len(pattern)
					continue
				}
				b.WriteString(pattern[i : i+2+end+2])
				i += 2 + end + 1
				continue
			case (n == 'p' || n == 'P') && strings.HasPrefix(pattern[i+2:], "{java"):
				return "", bad("Java character property", i)
			case (n == 'p' || n == 'P') && strings.HasPrefix(pattern[i+2:], "{Is"):
				return "", bad("Java Is-property", i)
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
			continue
		case c == '[':
			if inClass > 0 && i > 0 {
				return "", bad("nested character class (union/intersection)", i)
			}
			inClass++
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal in both dialects.
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == ']' && inClass > 0:
			inClass--
		case c == '&' && inClass > 0 && i+1 < len(pattern) && pattern[i+1] == '&':
			return "", bad("character class intersection", i)
		case inClass > 0:
		case c == '(' && strings.HasPrefix(pattern[i:], "(?"):
			rest := pattern[i+2:]
			switch {
			case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "!"):
				return "", bad("lookahead", i)
			case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
				return "", bad("lookbehind", i)
			case strings.HasPrefix(rest, ">"):
				return "", bad("atomic group", i)
			}
		case c == '*' || c == '+' || c == '?':
			if wasQuant && c == '+' {
				return "", bad("possessive quantifier", i)
			}
			// '?' after a quantifier makes it lazy (same in RE2): not a new
			// quantifier; '*'/'+' after one is an error RE2 reports.
			prevQuant = !(wasQuant && c == '?')
		case c == '}':
			prevQuant = true
		}
		b.WriteByte(c)
	}
	re := "^(?:" + b.String() + ")$"
	if _, err := regexp.Compile(re); err != nil {
		return "", fmt.Errorf("%w: pattern does not compile as RE2", ErrUnsupportedRegex)
	}
	return re, nil
}
