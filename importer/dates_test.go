package importer

import (
	"fmt"
	"testing"
	"time"
)

// Dates as spreadsheets write them: slashed with a two-digit year (the
// latest such year not ahead of this one), yyyymmdd, and Excel's serial
// day numbers (a date column formatted as a number).
func TestParseDate(t *testing.T) {
	yy := time.Now().Year() % 100
	for in, want := range map[string]string{
		"1990-01-15":                        "1990-01-15",
		"3/15/85":                           "1985-03-15",
		"15/3/85":                           "1985-03-15",
		"15.03.85":                          "1985-03-15",
		fmt.Sprintf("1/2/%02d", yy):         fmt.Sprintf("%d-01-02", time.Now().Year()),
		fmt.Sprintf("1/2/%02d", (yy+1)%100): fmt.Sprintf("%d-01-02", time.Now().Year()-99),
		"19900115":                          "1990-01-15",
		"32874":                             "1990-01-01",
		"45292":                             "2024-01-01",
		"1990":                              "",
		"19901315":                          "",
		"3/15/1985":                         "1985-03-15",
		"3/15/985":                          "",
	} {
		got, _ := parseDate(in, false)
		if got != want {
			t.Errorf("parseDate(%q) = %q, want %q", in, got, want)
		}
	}
}
