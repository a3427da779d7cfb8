package dedupe_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/linkitworks/customers/dedupe"
)

func FuzzNormalizeEmail(f *testing.F) {
	for _, tc := range emailCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := dedupe.NormalizeEmail(raw)
		if err != nil {
			checkErrKind(t, err, "email")
			return
		}
		if strings.IndexFunc(got, unicode.IsSpace) >= 0 {
			t.Fatalf("NormalizeEmail(%q) = %q contains a space", raw, got)
		}
		if strings.Count(got, "@") != 1 || !utf8.ValidString(got) || utf8.RuneCountInString(got) > 254 {
			t.Fatalf("NormalizeEmail(%q) = %q is not a plausible address", raw, got)
		}
		if got != strings.ToLower(got) {
			t.Fatalf("NormalizeEmail(%q) = %q is not lowercase", raw, got)
		}
		again, err := dedupe.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, got, again, err)
		}
		if dedupe.EmailKey(got, false) != got {
			t.Fatalf("EmailKey(%q, false) changed the email", got)
		}
		key := dedupe.EmailKey(got, true)
		if dedupe.EmailKey(key, true) != key || strings.Count(key, "@") != 1 {
			t.Fatalf("EmailKey(%q, true) = %q is not a stable key", got, key)
		}
	})
}

func FuzzNormalizePhone(f *testing.F) {
	for _, tc := range phoneCases {
		region := ""
		if len(tc.regions) > 0 {
			region = tc.regions[0]
		}
		f.Add(tc.raw, region)
	}
	cached := dedupe.NewPhoneNormalizer(1000)
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := dedupe.NormalizePhone(raw, region)
		cachedGot, cachedErr := cached.Normalize(raw, region)
		if cachedGot != got || (err == nil) != (cachedErr == nil) || (err != nil && err.Error() != cachedErr.Error()) {
			t.Fatalf("cached %+v, %v; uncached %+v, %v", cachedGot, cachedErr, got, err)
		}
		if err != nil {
			checkErrKind(t, err, "phone")
			return
		}
		number := strings.TrimPrefix(got.Number, "+")
		if number == "" || strings.Trim(number, "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q, %q).Number = %q: want digits with an optional leading +", raw, region, got.Number)
		}
		if strings.Trim(got.Extension, "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q, %q).Extension = %q: want digits", raw, region, got.Extension)
		}
		if got.Valid && !strings.HasPrefix(got.Number, "+") {
			t.Fatalf("NormalizePhone(%q, %q) = %+v: valid but not E.164", raw, region, got)
		}
		again, err := dedupe.NormalizePhone(got.Number, region)
		if err != nil || again.Number != got.Number || again.Valid != got.Valid || again.Region != got.Region {
			t.Fatalf("not idempotent: %q -> %+v -> %+v, %v", raw, got, again, err)
		}
		if d := dedupe.PhoneDigits(got.Number); d != number {
			t.Fatalf("PhoneDigits(%q) = %q", got.Number, d)
		}
	})
}

// checkErrKind asserts err is ErrEmpty or an *InvalidError for field.
func checkErrKind(t *testing.T, err error, field string) {
	t.Helper()
	if errors.Is(err, dedupe.ErrEmpty) {
		return
	}
	var inv *dedupe.InvalidError
	if !errors.As(err, &inv) || inv.Field != field || inv.Reason == "" {
		t.Fatalf("error %#v is neither ErrEmpty nor an *InvalidError for %s", err, field)
	}
}

// TestPhoneIdempotentAllRegions checks the fuzz invariant for junk that
// phonenumbers treats differently per region (national and international
// prefixes), across every region it knows.
func TestPhoneIdempotentAllRegions(t *testing.T) {
	t.Parallel()
	inputs := []string{"000111111", "0000000000", "1111111", "0011 234 5678", "010 1234 5678", "8 800 123 4567", "99999999999", "+0 123 4567"}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, raw := range inputs {
			got, err := dedupe.NormalizePhone(raw, region)
			if err != nil {
				checkErrKind(t, err, "phone")
				continue
			}
			again, err := dedupe.NormalizePhone(got.Number, region)
			if err != nil || again.Number != got.Number || again.Valid != got.Valid || again.Region != got.Region {
				t.Errorf("%s: not idempotent: %q -> %+v -> %+v, %v", region, raw, got, again, err)
			}
		}
	}
}
