package dedupe_test

import (
	"strings"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

const (
	reasonChars  = "must contain only digits, punctuation and an extension"
	reasonDigits = "must have 7 to 15 digits"
	reasonExt    = "extension must have 1 to 10 digits"
	reasonSci    = "is in scientific notation: a spreadsheet stored the column as numbers and " +
		"rounded its last digits away; format the column as text and export again"
)

// phoneCases is shared by the cache, concurrency and fuzz tests.
var phoneCases = []struct {
	name    string
	raw     string
	regions []string
	want    dedupe.Phone
	err     string // "" ok, "empty", or the expected InvalidError reason
}{
	// The spec's examples.
	{"us national", "(415) 555-0123", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"00 prefix", "00966 50 123 4567", nil, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"test number", "+1-555-0456", nil, dedupe.Phone{Number: "+15550456"}, ""},
	{"test number 0999", "+1-555-0999", []string{"SA"}, dedupe.Phone{Number: "+15550999"}, ""},
	{"sa national", "050 123 4567", []string{"SA"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"sa e164", "+966501234567", []string{"US"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},

	// Datablist US export layouts: possible but not valid (999 area code).
	{"datablist plus", "+1-999-999-9999", nil, dedupe.Phone{Number: "+19999999999"}, ""},
	{"datablist parens ext", "(999)999-9999x9999", []string{"US"}, dedupe.Phone{Number: "+19999999999", Extension: "9999"}, ""},
	{"datablist dots", "999.999.9999", []string{"US"}, dedupe.Phone{Number: "+19999999999"}, ""},
	{"datablist 001 ext", "001-234-567-8901x1234", []string{"US"}, dedupe.Phone{Number: "+12345678901", Valid: true, Region: "US", Extension: "1234"}, ""},
	{"datablist 001 hawaii", "001-808-617-6467x12895", []string{"US"}, dedupe.Phone{Number: "+18086176467", Valid: true, Region: "US", Extension: "12895"}, ""},
	{"datablist plain digits", "5153435776", []string{"US"}, dedupe.Phone{Number: "+15153435776", Valid: true, Region: "US"}, ""},

	// International numbers.
	{"gb e164", "+44 20 7946 0018", nil, dedupe.Phone{Number: "+442079460018", Valid: true, Region: "GB"}, ""},
	{"gb national", "020 7946 0018", []string{"GB"}, dedupe.Phone{Number: "+442079460018", Valid: true, Region: "GB"}, ""},
	{"de e164", "+49 30 901820", nil, dedupe.Phone{Number: "+4930901820", Valid: true, Region: "DE"}, ""},
	{"de national", "030 901820", []string{"DE"}, dedupe.Phone{Number: "+4930901820", Valid: true, Region: "DE"}, ""},
	{"fr national", "01 42 68 53 00", []string{"FR"}, dedupe.Phone{Number: "+33142685300", Valid: true, Region: "FR"}, ""},
	{"jp", "+81 3-1234-5678", nil, dedupe.Phone{Number: "+81312345678", Valid: true, Region: "JP"}, ""},
	{"in", "+91 98765 43210", nil, dedupe.Phone{Number: "+919876543210", Valid: true, Region: "IN"}, ""},
	{"au", "+61 2 9374 4000", nil, dedupe.Phone{Number: "+61293744000", Valid: true, Region: "AU"}, ""},
	{"br mobile", "+55 11 91234-5678", nil, dedupe.Phone{Number: "+5511912345678", Valid: true, Region: "BR"}, ""},
	{"ae", "+971 50 123 4567", nil, dedupe.Phone{Number: "+971501234567", Valid: true, Region: "AE"}, ""},
	{"eg", "+20 10 1234 5678", nil, dedupe.Phone{Number: "+201012345678", Valid: true, Region: "EG"}, ""},
	{"ru", "+7 495 123-45-67", nil, dedupe.Phone{Number: "+74951234567", Valid: true, Region: "RU"}, ""},
	{"cn", "+86 138 0013 8000", nil, dedupe.Phone{Number: "+8613800138000", Valid: true, Region: "CN"}, ""},
	// Italian numbers keep their leading 0; 06 698 is the Vatican's range.
	{"it national", "06 6982 0000", []string{"IT"}, dedupe.Phone{Number: "+390669820000", Valid: true, Region: "VA"}, ""},
	{"mx", "+52 55 1234 5678", nil, dedupe.Phone{Number: "+525512345678", Valid: true, Region: "MX"}, ""},
	{"ng", "+234 803 123 4567", nil, dedupe.Phone{Number: "+2348031234567", Valid: true, Region: "NG"}, ""},
	{"kr", "+82 2-312-3456", nil, dedupe.Phone{Number: "+8223123456", Valid: true, Region: "KR"}, ""},
	{"ca national", "(604) 555-0199", []string{"CA"}, dedupe.Phone{Number: "+16045550199", Valid: true, Region: "CA"}, ""},
	{"non-geographic", "+800 1234 5678", nil, dedupe.Phone{Number: "+80012345678", Valid: true}, ""},
	{"national prefix in parens", "+966 (0) 50 123 4567", nil, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"plus inside parens", "(+966) 50-123-4567", nil, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},

	// Regions: first non-empty known one wins; an explicit prefix beats them.
	{"no region fallback", "4155550123", nil, dedupe.Phone{Number: "4155550123"}, ""},
	{"empty region skipped", "4155550123", []string{"", "US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"unknown region skipped", "4155550123", []string{"XX", "US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"lowercase region", "4155550123", []string{" us "}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	// SPEC §3's order, refined: the first region in which the number is
	// valid (issue 19's Riyadh store importing a US number), else the first.
	{"first region wins when valid there", "050 123 4567", []string{"SA", "US"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"first region it is valid in", "4155550123", []string{"SA", "US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"first region it is valid in, formatted", "(415) 555-0100", []string{"SA", "", "US"}, dedupe.Phone{Number: "+14155550100", Valid: true, Region: "US"}, ""},
	{"valid nowhere: first region", "9995550123", []string{"SA", "US"}, dedupe.Phone{Number: "+9669995550123", Region: "SA"}, ""},
	{"single region keeps its reading", "4155550123", []string{"SA"}, dedupe.Phone{Number: "+9664155550123", Region: "SA"}, ""},
	{"plus ignores region", "+1 415 555 0123", []string{"SA"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"011 from us", "011 44 20 7946 0018", []string{"US"}, dedupe.Phone{Number: "+442079460018", Valid: true, Region: "GB"}, ""},
	{"0115 in gb is national", "0115 496 0123", []string{"GB"}, dedupe.Phone{Number: "+441154960123"}, ""},
	{"local only", "555-0123", []string{"US"}, dedupe.Phone{Number: "+15550123"}, ""},
	{"zeros national", "0000000000", []string{"US"}, dedupe.Phone{Number: "+10000000000"}, ""},
	{"zeros no region", "0000000000", nil, dedupe.Phone{Number: "0000000000"}, ""},
	// phonenumbers reads its E.164 (+6100111111) back as +610111111: keep the digits.
	{"unstable e164", "000111111", []string{"CC"}, dedupe.Phone{Number: "000111111"}, ""},

	// Digit fallback bounds.
	{"unknown country code", "+999 123 4567", nil, dedupe.Phone{Number: "+9991234567"}, ""},
	{"7 digits", "1234567", nil, dedupe.Phone{Number: "1234567"}, ""},
	{"15 digits", "123456789012345", nil, dedupe.Phone{Number: "123456789012345"}, ""},
	{"16 digits", "1234567890123456", nil, dedupe.Phone{}, reasonDigits},
	{"16 digits plus", "+1234567890123456", nil, dedupe.Phone{}, reasonDigits},
	{"20 digits", "12345678901234567890", []string{"US"}, dedupe.Phone{}, reasonDigits},
	{"too few", "12345", []string{"US"}, dedupe.Phone{}, reasonDigits},
	{"six digits", "123456", []string{"US"}, dedupe.Phone{}, reasonDigits},
	{"bare 00", "00", nil, dedupe.Phone{}, reasonDigits},
	{"only punctuation", "---", nil, dedupe.Phone{}, reasonDigits},

	// Extensions.
	{"ext dot", "4155550123 ext. 77", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "77"}, ""},
	{"ext glued", "415-555-0123 ext123", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "123"}, ""},
	{"extension word", "4155550123 Extension: 5", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "5"}, ""},
	{"rfc3966 ext", "415-555-0123;ext=55", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "55"}, ""},
	{"hash ext", "+1 415 555 0123 #12", nil, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "12"}, ""},
	{"uppercase X", "415.555.0123 X 9", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US", Extension: "9"}, ""},
	{"ext on fallback", "+1-555-0456 x12", nil, dedupe.Phone{Number: "+15550456", Extension: "12"}, ""},
	{"empty ext", "415-555-0123 x", []string{"US"}, dedupe.Phone{}, reasonExt},
	{"long ext", "415-555-0123 x12345678901", []string{"US"}, dedupe.Phone{}, reasonExt},
	{"ext only", "x123", nil, dedupe.Phone{}, reasonDigits},

	// Other scripts and separators.
	{"arabic-indic digits", "٠٥٠١٢٣٤٥٦٧", []string{"SA"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"persian digits", "۰۵۰۱۲۳۴۵۶۷", []string{"SA"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"fullwidth", "＋１ ４１５ ５５５ ０１２３", nil, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"en dashes", "+1–415–555–0123", nil, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"no-break spaces", "415\u00a0555\u00a00123", []string{"US"}, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},
	{"trailing newline", "+1 (415) 555-0123\n", nil, dedupe.Phone{Number: "+14155550123", Valid: true, Region: "US"}, ""},

	// A phone column a spreadsheet or data tool stored as numbers.
	{"float zero fraction", "4155550100.0", []string{"US"}, dedupe.Phone{Number: "+14155550100", Valid: true, Region: "US"}, ""},
	{"float plus", "+966501234567.00", nil, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"float international digits", "966501234567.0", []string{"SA"}, dedupe.Phone{Number: "+966501234567", Valid: true, Region: "SA"}, ""},
	{"dotted groups keep their dots", "555.0100.0", []string{"US"}, dedupe.Phone{Number: "55501000"}, ""},
	{"nonzero fraction", "4155550100.5", []string{"US"}, dedupe.Phone{Number: "41555501005"}, ""},
	{"scientific", "9.66501E+11", []string{"SA"}, dedupe.Phone{}, reasonSci},
	{"scientific lowercase", "4.15555e+9", []string{"US"}, dedupe.Phone{}, reasonSci},
	{"scientific whole", "4E+9", []string{"US"}, dedupe.Phone{}, reasonSci},

	// Garbage.
	{"empty", "", nil, dedupe.Phone{}, "empty"},
	{"blank", " \t ", []string{"US"}, dedupe.Phone{}, "empty"},
	{"letters", "abc", []string{"US"}, dedupe.Phone{}, reasonChars},
	{"vanity number", "1-800-FLOWERS", []string{"US"}, dedupe.Phone{}, reasonChars},
	{"tel uri", "tel:+14155550123", nil, dedupe.Phone{}, reasonChars},
	{"plus in middle", "1+2345678", nil, dedupe.Phone{}, reasonChars},
	{"double plus", "++14155550123", nil, dedupe.Phone{}, reasonChars},
	{"email in phone", "john@example.com", nil, dedupe.Phone{}, reasonChars},
	{"star", "*4155550123", []string{"US"}, dedupe.Phone{}, reasonChars},
	{"invalid utf8", "415\xff5550123", []string{"US"}, dedupe.Phone{}, reasonChars},
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range phoneCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := dedupe.NormalizePhone(tc.raw, tc.regions...)
			checkErr(t, err, "phone", tc.err)
			if got != tc.want {
				t.Errorf("NormalizePhone(%q, %q) = %+v, want %+v", tc.raw, tc.regions, got, tc.want)
			}
		})
	}
}

func TestTableSize(t *testing.T) {
	t.Parallel()
	if n := len(phoneCases) + len(emailCases); n < 60 {
		t.Errorf("only %d phone+email cases", n)
	}
}

func TestPhoneKey(t *testing.T) {
	t.Parallel()
	a, _ := dedupe.NormalizePhone("(415) 555-0123", "US")
	b, _ := dedupe.NormalizePhone("+1 415.555.0123 x9")
	if dedupe.PhoneKey(a.Number) != dedupe.PhoneKey(b.Number) || dedupe.PhoneKey(a.Number) != "+14155550123" {
		t.Errorf("PhoneKey(%q) = %q, PhoneKey(%q) = %q", a.Number, dedupe.PhoneKey(a.Number), b.Number, dedupe.PhoneKey(b.Number))
	}
}

func TestPhoneDigits(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                      "",
		"abc":                   "",
		"+1 (415) 555-0123":     "14155550123",
		"001-234-567-8901x1234": "00123456789011234",
		"٠٥٠ ١٢٣":               "050123",
		"＋１ ４１５":                "1415",
	}
	for in, want := range tests {
		if got := dedupe.PhoneDigits(in); got != want {
			t.Errorf("PhoneDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidRegion(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"US", "us", "Sa", "GB", "XK", "AC"} {
		if !dedupe.ValidRegion(c) {
			t.Errorf("ValidRegion(%q) = false", c)
		}
	}
	for _, c := range []string{"", "U", "USA", "XX", "001", "ZZ", "AQ", "  "} {
		if dedupe.ValidRegion(c) {
			t.Errorf("ValidRegion(%q) = true", c)
		}
	}
}

func TestValidCountry(t *testing.T) {
	t.Parallel()
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if dedupe.ValidCountry(code) {
				n++
				if !dedupe.ValidCountry(strings.ToLower(code)) {
					t.Errorf("ValidCountry(%q) = false", strings.ToLower(code))
				}
			}
		}
	}
	if n != 249 {
		t.Errorf("%d valid country codes, want 249", n)
	}
	for _, c := range []string{"", "XK", "AC", "EU", "USA", " US", "U", "ZZ"} {
		if dedupe.ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = true", c)
		}
	}
	for _, c := range []string{"SA", "us", "AQ", "GB"} {
		if !dedupe.ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = false", c)
		}
	}
}
