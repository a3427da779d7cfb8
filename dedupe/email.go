package dedupe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit);
// counted in characters so it matches a varchar(254) column.
const maxEmailLen = 254

const reasonEmail = "must be a valid email address"

// NormalizeEmail trims and lowercases raw and checks that it looks like a
// deliverable address: exactly one @, a non-empty local part and a dotted
// domain (unicode allowed). The result is the stored form of the email.
// It returns ErrEmpty or an *InvalidError with Field "email".
func NormalizeEmail(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrEmpty
	}
	if !utf8.ValidString(s) {
		return "", invalidEmail(reasonEmail)
	}
	s = strings.ToLower(s)
	if utf8.RuneCountInString(s) > maxEmailLen {
		return "", invalidEmail("must be at most 254 characters")
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", invalidEmail(reasonEmail)
	}
	if !validLocalPart(s[:at]) || !validDomain(s[at+1:]) {
		return "", invalidEmail(reasonEmail)
	}
	return s, nil
}

func invalidEmail(reason string) error {
	return &InvalidError{Field: "email", Reason: reason}
}

// validLocalPart rejects what cannot appear unquoted in a local part; quoted
// local parts are legal but in practice only show up as copy-paste mistakes
// ("John <john@x.com>"), so they are refused too.
func validLocalPart(local string) bool {
	for _, r := range local {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return false
		}
	}
	return true
}

// validDomain accepts dotted host names made of letters (any script), digits,
// hyphens and underscores, with no empty label.
func validDomain(domain string) bool {
	if !strings.Contains(domain, ".") || domain[0] == '.' || domain[len(domain)-1] == '.' ||
		strings.Contains(domain, "..") {
		return false
	}
	for _, r := range domain {
		switch {
		case r == '.', r == '-', r == '_':
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r):
		default:
			return false
		}
	}
	return true
}

// EmailKey returns the identity key used to match customers by email.
// Without canonicalization it is the normalized email itself. With it (an
// org setting) a "+tag" suffix is dropped for every domain, and for Gmail the
// dots in the local part are dropped and googlemail.com becomes gmail.com,
// because those spellings all reach the same mailbox. The stored email is
// never changed; only the key is.
func EmailKey(normalized string, canonicalize bool) string {
	if !canonicalize {
		return normalized
	}
	at := strings.LastIndexByte(normalized, '@')
	if at <= 0 {
		return normalized
	}
	local, domain := normalized[:at], normalized[at+1:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		if l := strings.ReplaceAll(local, ".", ""); l != "" {
			local = l
		}
	}
	return local + "@" + domain
}
