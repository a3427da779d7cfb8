package dedupe_test

import (
	"encoding/csv"
	"os"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/linkitworks/customers/dedupe"
)

// exampleRow is one line of testdata/libphonenumber_examples_all_regions.csv:
// libphonenumber's example number for every region and number type.
type exampleRow struct {
	region, typ, e164 string
}

func readExamples(t testing.TB) []exampleRow {
	t.Helper()
	f, err := os.Open("testdata/libphonenumber_examples_all_regions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"country_calling_code", "region", "type", "national_significant_number", "e164"}
	if len(records) < 2 || len(records[0]) != len(want) {
		t.Fatalf("unexpected header %q", records[0])
	}
	for i, h := range want {
		if records[0][i] != h {
			t.Fatalf("column %d is %q, want %q", i, records[0][i], h)
		}
	}
	rows := make([]exampleRow, 0, len(records)-1)
	for _, r := range records[1:] {
		rows = append(rows, exampleRow{region: r[1], typ: r[2], e164: r[4]})
	}
	return rows
}

// exampleInputs returns the ways people write the example number: E.164,
// international and 00-prefixed forms, and for geographic regions the
// national form dialled with that default region.
func exampleInputs(t testing.TB, row exampleRow) map[string]string {
	t.Helper()
	num, err := phonenumbers.Parse(row.e164, "")
	if err != nil {
		t.Fatalf("parse %s: %v", row.e164, err)
	}
	inputs := map[string]string{
		"e164":          row.e164,
		"international": phonenumbers.Format(num, phonenumbers.INTERNATIONAL),
		"00":            "00" + row.e164[1:],
	}
	if row.region != "001" {
		inputs["national"] = phonenumbers.Format(num, phonenumbers.NATIONAL)
	}
	return inputs
}

func TestLibphonenumberExamples(t *testing.T) {
	t.Parallel()
	rows := readExamples(t)
	if len(rows) < 1000 {
		t.Fatalf("only %d example rows", len(rows))
	}
	otherRegion := 0
	for _, row := range rows {
		region := row.region
		if region == "001" { // non-geographic entities: no default region
			region = ""
		}
		for form, in := range exampleInputs(t, row) {
			got, err := dedupe.NormalizePhone(in, region)
			if err != nil {
				t.Errorf("%s %s %s: NormalizePhone(%q, %q): %v", row.region, row.typ, form, in, region, err)
				continue
			}
			if got.Number != row.e164 || !got.Valid || got.Extension != "" {
				t.Errorf("%s %s %s: NormalizePhone(%q, %q) = %+v, want valid %s",
					row.region, row.typ, form, in, region, got, row.e164)
			}
			// Numbers shared by several regions (toll-free +1 800, +7 800,
			// +44 Crown dependencies…) report the calling code's main region.
			if got.Region != region {
				otherRegion++
				if !sameCallingCode(got.Region, region) {
					t.Errorf("%s %s %s: NormalizePhone(%q, %q) region %q", row.region, row.typ, form, in, region, got.Region)
				}
			}
		}
	}
	t.Logf("%d example rows; %d results report another region of the same calling code", len(rows), otherRegion)
}

func sameCallingCode(a, b string) bool {
	return a != "" && b != "" && phonenumbers.GetCountryCodeForRegion(a) == phonenumbers.GetCountryCodeForRegion(b)
}
