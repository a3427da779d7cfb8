package dedupe_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

// emailCases is shared with the fuzz seeds.
var emailCases = []struct {
	name string
	raw  string
	want string // "" when an error is expected
	err  string // "" ok, "empty", or the expected InvalidError reason
}{
	{"plain", "john@example.com", "john@example.com", ""},
	{"trim and lowercase", "  John.Doe@Example.COM ", "john.doe@example.com", ""},
	{"tabs and newline", "\tjane@example.org\r\n", "jane@example.org", ""},
	{"no-break space trimmed", "\u00a0jane@example.org\u00a0", "jane@example.org", ""},
	{"unicode domain", "user@bücher.de", "user@bücher.de", ""},
	{"unicode domain uppercase", "USER@BÜCHER.DE", "user@bücher.de", ""},
	{"unicode local", "ÄLICE@exämple.org", "älice@exämple.org", ""},
	{"punycode domain", "user@xn--bcher-kva.de", "user@xn--bcher-kva.de", ""},
	{"cjk domain", "user@例え.jp", "user@例え.jp", ""},
	{"plus tag kept", "User+Shop@Gmail.com", "user+shop@gmail.com", ""},
	{"dots kept", "j.o.h.n@gmail.com", "j.o.h.n@gmail.com", ""},
	{"apostrophe", "o'brien@example.ie", "o'brien@example.ie", ""},
	{"subdomains", "a@mail.sub.domain-name.co.uk", "a@mail.sub.domain-name.co.uk", ""},
	{"underscore domain", "a@b_c.com", "a@b_c.com", ""},
	{"shortest", "a@b.c", "a@b.c", ""},
	{"exactly 254", strings.Repeat("a", 248) + "@x.com", strings.Repeat("a", 248) + "@x.com", ""},
	{"254 runes", strings.Repeat("é", 248) + "@x.com", strings.Repeat("é", 248) + "@x.com", ""},
	{"empty", "", "", "empty"},
	{"blank", " \t\n ", "", "empty"},
	{"no dot in domain", "a@b", "", "must be a valid email address"},
	{"no local", "@x.com", "", "must be a valid email address"},
	{"double at", "a@@b.com", "", "must be a valid email address"},
	{"two ats", "a@b.com@c.com", "", "must be a valid email address"},
	{"space in local", "a b@c.com", "", "must be a valid email address"},
	{"tab in local", "a\tb@c.com", "", "must be a valid email address"},
	{"space in domain", "a@b .com", "", "must be a valid email address"},
	{"no at", "plain.example.com", "", "must be a valid email address"},
	{"no domain", "a@", "", "must be a valid email address"},
	{"leading dot domain", "a@.b.com", "", "must be a valid email address"},
	{"trailing dot domain", "a@b.com.", "", "must be a valid email address"},
	{"empty label", "a@b..com", "", "must be a valid email address"},
	{"display name", "John <john@x.com>", "", "must be a valid email address"},
	{"comma list", "a@x.com,b@y.com", "", "must be a valid email address"},
	{"slash in domain", "a@x.com/path", "", "must be a valid email address"},
	{"invalid utf8", "a\xff@b.com", "", "must be a valid email address"},
	{"too long", strings.Repeat("a", 249) + "@x.com", "", "must be at most 254 characters"},
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range emailCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := dedupe.NormalizeEmail(tc.raw)
			checkErr(t, err, "email", tc.err)
			if got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestEmailKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email     string
		plain     string // canonicalize off
		canonical string // canonicalize on
	}{
		{"john.doe@gmail.com", "john.doe@gmail.com", "johndoe@gmail.com"},
		{"john.doe+shop@gmail.com", "john.doe+shop@gmail.com", "johndoe@gmail.com"},
		{"j.o.h.n.doe+a+b@googlemail.com", "j.o.h.n.doe+a+b@googlemail.com", "johndoe@gmail.com"},
		{"john.doe+news@example.com", "john.doe+news@example.com", "john.doe@example.com"},
		{"john.doe@example.com", "john.doe@example.com", "john.doe@example.com"},
		{"+tag@example.com", "+tag@example.com", "+tag@example.com"}, // nothing left to keep
		{"...@gmail.com", "...@gmail.com", "...@gmail.com"},
		{"user@bücher.de", "user@bücher.de", "user@bücher.de"},
		{"notanemail", "notanemail", "notanemail"},
	}
	for _, tc := range tests {
		if got := dedupe.EmailKey(tc.email, false); got != tc.plain {
			t.Errorf("EmailKey(%q, false) = %q, want %q", tc.email, got, tc.plain)
		}
		got := dedupe.EmailKey(tc.email, true)
		if got != tc.canonical {
			t.Errorf("EmailKey(%q, true) = %q, want %q", tc.email, got, tc.canonical)
		}
		if again := dedupe.EmailKey(got, true); again != got {
			t.Errorf("EmailKey not idempotent: %q -> %q -> %q", tc.email, got, again)
		}
	}
}

// checkErr asserts err matches want: "" none, "empty" ErrEmpty, otherwise an
// *InvalidError for field with that reason.
func checkErr(t *testing.T, err error, field, want string) {
	t.Helper()
	switch want {
	case "":
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
	case "empty":
		if !errors.Is(err, dedupe.ErrEmpty) {
			t.Fatalf("error = %v, want ErrEmpty", err)
		}
	default:
		var inv *dedupe.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("error = %v, want *InvalidError", err)
		}
		if inv.Field != field || inv.Reason != want {
			t.Fatalf("error = %+v, want {Field:%s Reason:%s}", inv, field, want)
		}
	}
}
