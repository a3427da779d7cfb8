package dedupe

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Kinds of identifier a Blocklist can block.
const (
	KindEmail = "email"
	KindPhone = "phone"
)

// Blocklist holds an organization's junk identifiers (0000000000,
// test@test.com, the store's own phone) that must never be used to match
// customers. It is read-only after construction and safe for concurrent use.
type Blocklist struct {
	emails map[string]bool // normalized emails and their canonical keys
	phones map[string]bool // digits of entries, raw and normalized
	// national holds digits of entries written without a country code (and
	// without their trunk "0"), so "0000000000" also blocks the E.164 form
	// a default region gives it (+10000000000, +966000000000).
	national map[string]bool
}

// NewBlocklist builds a blocklist from raw identifiers: entries containing
// "@" are emails, the rest phones. Entries that are neither a valid email nor
// contain phone digits are ignored.
func NewBlocklist(entries []string) *Blocklist {
	b := &Blocklist{emails: map[string]bool{}, phones: map[string]bool{}, national: map[string]bool{}}
	for _, e := range entries {
		if strings.Contains(e, "@") {
			if email, err := NormalizeEmail(e); err == nil {
				// Both forms, so callers may check the stored email or the
				// canonical match key.
				b.emails[email] = true
				b.emails[EmailKey(email, true)] = true
			}
			continue
		}
		in, err := cleanPhone(e)
		if err != nil {
			continue
		}
		b.phones[in.digits] = true
		if p, err := NormalizePhone(e); err == nil {
			b.phones[PhoneDigits(p.Number)] = true
		}
		if !in.plus {
			b.national[in.digits] = true
			if len(in.digits) > 1 && in.digits[0] == '0' {
				b.national[in.digits[1:]] = true
			}
		}
	}
	return b
}

// Blocks reports whether the normalized identifier key of the given kind
// (KindEmail or KindPhone) is blocklisted. Phones match on digits, so
// formatting does not matter. A nil Blocklist blocks nothing.
func (b *Blocklist) Blocks(kind, key string) bool {
	if b == nil || key == "" {
		return false
	}
	switch kind {
	case KindEmail:
		return b.emails[key]
	case KindPhone:
		d := PhoneDigits(key)
		if d == "" {
			return false
		}
		if b.phones[d] {
			return true
		}
		if strings.HasPrefix(key, "+") {
			// Try each possible country code length (1–3 digits).
			for i := 1; i <= 3 && i < len(d); i++ {
				if b.national[d[i:]] && isCallingCode(d[:i]) {
					return true
				}
			}
		}
	}
	return false
}

func isCallingCode(s string) bool {
	if s[0] == '0' {
		return false
	}
	cc, err := strconv.Atoi(s)
	return err == nil && phonenumbers.GetSupportedCallingCodes()[cc]
}
