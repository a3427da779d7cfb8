package dedupe_test

import (
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

func TestBlocklist(t *testing.T) {
	t.Parallel()
	b := dedupe.NewBlocklist([]string{
		"  Test@Test.com ",
		"john.doe+pos@gmail.com",
		"0000000000",
		"1111111",
		"+1 (415) 555-0123",
		"050 123 4567", // the store's own phone, written nationally
		"00966 11 234 5678",
		"not an email@",
		"garbage",
		"",
	})
	tests := []struct {
		kind, key string
		want      bool
	}{
		{dedupe.KindEmail, "test@test.com", true},
		{dedupe.KindEmail, "john.doe+pos@gmail.com", true},
		{dedupe.KindEmail, "johndoe@gmail.com", true}, // the canonical match key
		{dedupe.KindEmail, "john.doe@gmail.com", false},
		{dedupe.KindEmail, "other@test.com", false},
		{dedupe.KindEmail, "", false},
		{dedupe.KindPhone, "0000000000", true},   // digit fallback without region
		{dedupe.KindPhone, "+10000000000", true}, // 0000000000 with region US
		{dedupe.KindPhone, "+966000000000", true},
		{dedupe.KindPhone, "1111111", true},
		{dedupe.KindPhone, "+14155550123", true},
		{dedupe.KindPhone, "4155550123", false}, // different digits: not the same identity
		{dedupe.KindPhone, "+966501234567", true},
		{dedupe.KindPhone, "0501234567", true},
		{dedupe.KindPhone, "+966112345678", true},
		{dedupe.KindPhone, "+966501234568", false},
		{dedupe.KindPhone, "+9999501234567", false}, // 9999 is no country code
		{dedupe.KindPhone, "", false},
		{dedupe.KindPhone, "test@test.com", false},
		{"address", "test@test.com", false},
		{dedupe.KindEmail, "0000000000", false},
	}
	for _, tc := range tests {
		if got := b.Blocks(tc.kind, tc.key); got != tc.want {
			t.Errorf("Blocks(%q, %q) = %v, want %v", tc.kind, tc.key, got, tc.want)
		}
	}
}

func TestBlocklistNormalizedPhones(t *testing.T) {
	t.Parallel()
	// Whatever a raw entry normalizes to under a region must be blocked.
	entries := []string{"0000000000", "(415) 555-0123", "050 123 4567", "020 7946 0018"}
	b := dedupe.NewBlocklist(entries)
	for _, e := range entries {
		for _, region := range []string{"", "US", "SA", "GB", "DE"} {
			p, err := dedupe.NormalizePhone(e, region)
			if err != nil {
				continue
			}
			if !b.Blocks(dedupe.KindPhone, p.Number) {
				t.Errorf("entry %q normalized with %q to %q: not blocked", e, region, p.Number)
			}
		}
	}
}

func TestBlocklistNil(t *testing.T) {
	t.Parallel()
	var b *dedupe.Blocklist
	if b.Blocks(dedupe.KindEmail, "test@test.com") || b.Blocks(dedupe.KindPhone, "0000000000") {
		t.Error("nil blocklist blocked something")
	}
	if dedupe.NewBlocklist(nil).Blocks(dedupe.KindPhone, "0000000000") {
		t.Error("empty blocklist blocked something")
	}
}
