package importer

import (
	"io"
	"strings"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// A phone is read in the first region, or the first later one it is valid
// in; one valid nowhere is kept with a warning saying how it was read.
func TestNormalizePhoneRegionsAndWarnings(t *testing.T) {
	file := "Email,Phone\n" +
		"a@example.com,(415) 555-0100\n" + // valid in US only
		"b@example.com,050 123 4567\n" + // valid in SA
		"c@example.com,999 555 0123\n" + // valid nowhere
		"d@example.com,+1-555-0999\n" // a test number with its country code
	for _, tc := range []struct {
		regions []string
		phones  []string
		reasons []string
	}{
		{[]string{"SA", "", "US"}, []string{"+14155550100", "+966501234567", "+9669995550123", "+15550999"}, []string{"", "",
			`phone "999 555 0123" read as +9669995550123 (region SA) is not a valid number; it never replaces a valid phone`,
			`phone "+1-555-0999" read as +15550999 is not a valid number; it never replaces a valid phone`}},
		{[]string{"SA"}, []string{"+9664155550100", "+966501234567", "+9669995550123", "+15550999"}, []string{
			`phone "(415) 555-0100" read as +9664155550100 (region SA) is not a valid number; it never replaces a valid phone`, "",
			`phone "999 555 0123" read as +9669995550123 (region SA) is not a valid number; it never replaces a valid phone`,
			`phone "+1-555-0999" read as +15550999 is not a valid number; it never replaces a valid phone`}},
	} {
		rd, err := Open(strings.NewReader(file), Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := NewNormalizer(rd.Detected(), tc.regions[0], dedupe.NewPhoneNormalizer(0), tc.regions...)
		for i := 0; ; i++ {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			r, probs, ok := n.Normalize(row)
			var reasons []string
			for _, p := range probs {
				if p.Severity == customer.SeverityWarning && p.Column == "Phone" {
					reasons = append(reasons, p.Reason)
				}
			}
			if !ok || r.Phone != tc.phones[i] || strings.Join(reasons, "|") != tc.reasons[i] {
				t.Errorf("regions %v row %d: phone %s ok %v warnings %q, want %s %q", tc.regions, i+2, r.Phone, ok, reasons, tc.phones[i], tc.reasons[i])
			}
		}
	}
}
