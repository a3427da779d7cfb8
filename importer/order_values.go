// Reading the values of an order export's cells: timestamps, quantities and amounts as exports spell them.

package importer

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// momentLayouts are the timestamp spellings of order exports beyond the
// dates parseDay reads; without a zone the time is UTC.
var momentLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// clockLayouts are the times of day that may follow any date spelling
// ("01/15/2024 10:30", "15.01.2024 2:05 PM").
var clockLayouts = []string{"15:04", "15:04:05", "3:04 PM", "3:04:05 PM", "3:04PM", "3:04:05PM", "15:04 -0700", "15:04:05 -0700"}

// parseMoment reads an order timestamp: RFC 3339, "2006-01-02 15:04:05
// -0700" (Shopify's "Created at"), a date in any spelling parseDay reads
// (midnight UTC), or such a date followed by a time of day (UTC unless a
// zone is given). It refuses years before 1900 and moments more than a day
// ahead of now (as POST /api/v1/orders does).
func parseMoment(v string, now time.Time, dayFirst bool) (time.Time, bool) {
	t, ok := parseTimestamp(strings.TrimSpace(v), dayFirst)
	if !ok {
		return time.Time{}, false
	}
	t = t.UTC()
	if t.Year() < 1900 || t.After(now.Add(24*time.Hour)) {
		return time.Time{}, false
	}
	return t, true
}

func parseTimestamp(v string, dayFirst bool) (time.Time, bool) {
	for _, l := range momentLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	colon := strings.IndexByte(v, ':')
	if colon < 0 {
		return parseDay(v, dayFirst)
	}
	sp := strings.LastIndexAny(v[:colon], " T")
	if sp <= 0 {
		return time.Time{}, false
	}
	day, ok := parseDay(strings.TrimSpace(v[:sp]), dayFirst)
	if !ok {
		return time.Time{}, false
	}
	clock := strings.ToUpper(strings.TrimSpace(v[sp+1:]))
	for _, l := range clockLayouts {
		if c, err := time.Parse(l, clock); err == nil {
			_, off := c.Zone()
			return time.Date(day.Year(), day.Month(), day.Day(), c.Hour(), c.Minute(), c.Second(), 0,
				time.FixedZone("", off)), true
		}
	}
	return time.Time{}, false
}

// parseQuantity reads a line's quantity: a whole number from 1 to
// 1,000,000 ("2", "2.0").
func parseQuantity(v string) (int, bool) {
	v = strings.TrimSpace(v)
	q, err := strconv.Atoi(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, false
		}
		if f < 1 || f > 1_000_000 {
			return 0, false
		}
		q = int(f)
	}
	return q, q >= 1 && q <= 1_000_000
}

// parseMoney reads an amount as exports write it: "1234.5", "$1,234.50",
// "1.234,50 €", "SAR 99", "1 234,50". The last '.' or ',' followed by one
// or two digits is the decimal separator, other separators group
// thousands. Negative amounts and amounts of 10^12 or more are refused;
// the result is rounded to cents.
func parseMoney(v string) (float64, bool) {
	s := strings.TrimFunc(v, func(r rune) bool {
		return !unicode.IsDigit(r) && r != '-' && r != '.' && r != ','
	})
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "'", "").Replace(s)
	if s == "" || strings.HasPrefix(s, "-") {
		return 0, false
	}
	if i := strings.LastIndexAny(s, ".,"); i >= 0 {
		whole, frac := s[:i], s[i+1:]
		decimal := len(frac) > 0 && len(frac) <= 2 || (s[i] == '.' && strings.Count(s, ".") == 1 && !strings.Contains(whole, ","))
		if !decimal {
			whole, frac = s, ""
		}
		if !thousands(whole) {
			return 0, false
		}
		s = strings.NewReplacer(".", "", ",", "").Replace(whole)
		if decimal {
			s += "." + frac
		}
	}
	for _, r := range s {
		if r != '.' && (r < '0' || r > '9') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f >= 1e12 {
		return 0, false
	}
	return math.Round(f*100) / 100, true
}

// thousands reports whether the separators of a whole amount group its
// digits by three with one separator ("1,234,567", "1.234"; "12" has none).
func thousands(whole string) bool {
	i := strings.IndexAny(whole, ".,")
	if i < 0 {
		return true
	}
	if i == 0 || i > 3 {
		return false
	}
	sep := whole[i]
	for _, g := range strings.Split(whole[i+1:], string(sep)) {
		if len(g) != 3 || strings.ContainsAny(g, ".,") {
			return false
		}
	}
	return true
}
