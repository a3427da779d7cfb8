package dedupe_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

// TestDatablistPhones normalizes every phone of the Datablist samples
// (~21 US-style layouts; testdata/messy-customers/README.md) with region
// US: all must be accepted.
func TestDatablistPhones(t *testing.T) {
	t.Parallel()
	var total, valid, e164 int
	for _, name := range []string{"datablist_customers-100.csv", "datablist_customers-1000.csv", "datablist_people-1000.csv"} {
		name = filepath.Join("testdata", "messy-customers", name)
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for col, h := range records[0] {
			if !strings.HasPrefix(h, "Phone") {
				continue
			}
			for _, r := range records[1:] {
				raw := r[col]
				p, err := dedupe.NormalizePhone(raw, "US")
				if err != nil {
					t.Errorf("%s: NormalizePhone(%q, US): %v", filepath.Base(name), raw, err)
					continue
				}
				total++
				if p.Valid {
					valid++
				}
				if strings.HasPrefix(p.Number, "+") {
					e164++
				}
				if strings.HasPrefix(raw, "001-") && !strings.HasPrefix(p.Number, "+1") {
					t.Errorf("NormalizePhone(%q, US) = %+v: 001 is 00 + country code 1", raw, p)
				}
			}
		}
	}
	t.Logf("%d phones: %d E.164 (%d valid), %d digit fallbacks", total, e164, valid, total-e164)
}
