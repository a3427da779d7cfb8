package importer

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Normalizer checks and normalizes rows for staging. It is safe for
// concurrent use: the phone cache is shared, the rest is read-only.
type Normalizer struct {
	Kind      customer.ImportKind     // customers ("") or orders
	Region    string                  // default phone region (import option, else location, else org)
	Phones    *dedupe.PhoneNormalizer // shared parse cache
	Canonical bool                    // email match keys use provider canonicalization
	Source    string                  // recorded as the customers' source
	DayFirst  bool                    // ambiguous dates ("03/04/1990") are day first (the region's custom)
	columns   customer.Columns        // field → header, to name columns in problems
	regions   []string                // Region, then the regions a phone not valid there is tried in
}

// NewNormalizer prepares a normalizer for the detected columns. A phone
// that is not a valid number in region takes the first of fallback it is
// valid in (dedupe.NormalizePhone).
func NewNormalizer(d Detected, region string, phones *dedupe.PhoneNormalizer, fallback ...string) *Normalizer {
	return &Normalizer{Region: region, Phones: phones, Source: "import", DayFirst: DayFirst(region),
		columns: customer.FieldColumns(d.Headers, d.Mapping), regions: append([]string{region}, fallback...)}
}

// monthFirst are the regions that write dates month first (03/04 is March
// 4th); everywhere else writes them day first. Without a region a file is
// read month first, as US software exports.
var monthFirst = map[string]bool{"US": true, "CA": true, "PH": true, "FM": true, "PW": true, "MH": true,
	"GU": true, "AS": true, "MP": true, "PR": true, "VI": true, "UM": true}

// DayFirst reports whether region writes ambiguous dates day first.
func DayFirst(region string) bool {
	region = strings.ToUpper(strings.TrimSpace(region))
	return region != "" && !monthFirst[region]
}

func (n *Normalizer) column(field string) string { return n.columns.Of(field) }

// textLimits are the customer's limits (customer.Max…Len) of the free-text
// fields a file maps, by field.
var textLimits = map[string]int{
	"first_name": customer.MaxPersonNameLen, "last_name": customer.MaxPersonNameLen, "name": customer.MaxNameLen,
	"company_name": customer.MaxCompanyNameLen, "notes": customer.MaxNotesLen, "source": customer.MaxSourceLen,
	"tax_id": customer.MaxTaxIDLen, "website": customer.MaxURLLen, "avatar_url": customer.MaxURLLen,
	"external_id": customer.MaxExternalIDLen,
}

// startRow takes the reader's warnings of a row and, when the reader could
// not split it (ragged, malformed), its error: ok is false then.
func startRow(row Row) (problems []customer.ImportProblem, ok bool) {
	for _, w := range row.Warnings {
		problems = append(problems, customer.ImportProblem{Row: row.Num, Seq: len(problems), Severity: customer.SeverityWarning,
			Column: w.Column, Reason: w.Reason, Raw: row.Raw})
	}
	if row.Err != nil {
		problems = append(problems, customer.ImportProblem{Row: row.Num, Seq: len(problems), Severity: customer.SeverityError,
			Column: row.Err.Column, Reason: row.Err.Reason, Raw: row.Raw})
		return problems, false
	}
	return problems, true
}

// Normalize turns a read row into a staged row and its problems. ok is
// false when the row has an error and must not be imported.
func (n *Normalizer) Normalize(row Row) (out customer.ImportRow, problems []customer.ImportProblem, ok bool) {
	if n.Kind == customer.ImportOrders {
		return n.normalizeOrder(row)
	}
	out.Num = row.Num
	if problems, ok = startRow(row); !ok {
		return out, problems, false
	}
	problem := func(sev, field, reason string) {
		problems = append(problems, customer.ImportProblem{Row: row.Num, Seq: len(problems), Severity: sev,
			Column: n.column(field), Reason: reason, Raw: row.Raw})
	}
	warn := func(field, reason string) { problem(customer.SeverityWarning, field, reason) }
	f := row.Fields
	rec := customer.ImportRecord{Fields: map[string]string{}}

	// Identifier warnings wait: without any valid identifier they become
	// one row error instead.
	idWarnings, _ := n.identifiers(row, f["external_id"], f["source"], &out)
	if out.EmailKey == "" && out.PhoneKey == "" && out.External == "" {
		reason, column := "no email, phone or external id", ""
		if len(idWarnings) > 0 {
			// Say what was wrong with each: the row is only worth fixing
			// once its owner knows ("invalid phone" alone does not tell
			// a spreadsheet's scientific notation from a typo).
			details := make([]string, len(idWarnings))
			for i, w := range idWarnings {
				details[i] = strings.TrimSuffix(w.Reason, " dropped")
			}
			reason = "no valid email, phone or external id: " + strings.Join(details, "; ")
			if len(idWarnings) == 1 {
				column = idWarnings[0].Column
			}
		}
		problems = append(problems, customer.ImportProblem{Row: row.Num, Seq: len(problems), Severity: customer.SeverityError,
			Column: column, Reason: reason, Raw: row.Raw})
		return out, problems, false
	}
	for _, w := range idWarnings {
		w.Seq = len(problems)
		problems = append(problems, w)
	}
	// Any row's email or phone may turn out to be a placeholder once the
	// plan has seen the whole file (a warning, or an error when nothing else
	// identifies the row): its cells are staged for the error report. They
	// are a quarter of the staged bytes and cost nothing measurable.
	out.Raw = row.Raw

	for field, limit := range textLimits {
		v := f[field]
		if v == "" || field == "external_id" {
			continue
		}
		if field == "first_name" || field == "last_name" || field == "name" {
			v = dedupe.NormalizeName(v)
		}
		if utf8.RuneCountInString(v) > limit {
			warn(field, fmt.Sprintf("longer than %d characters, dropped", limit))
			continue
		}
		if (field == "website" || field == "avatar_url") && !looksLikeURL(v) {
			warn(field, "not a URL, dropped")
			continue
		}
		rec.Fields[field] = v
	}
	if rec.Fields["first_name"] == "" && rec.Fields["last_name"] == "" && rec.Fields["name"] != "" {
		rec.Fields["first_name"], rec.Fields["last_name"] = dedupe.SplitName(rec.Fields["name"])
	}
	if v := f["birthdate"]; v != "" {
		if d, ok := parseDate(v, n.DayFirst); ok {
			rec.Fields["birthdate"] = d
		} else {
			warn("birthdate", fmt.Sprintf("invalid date %q dropped", clip(v)))
		}
	}
	if v := f["gender"]; v != "" {
		if g, ok := genders[strings.ToLower(strings.TrimSpace(v))]; ok {
			rec.Fields["gender"] = g
		} else {
			warn("gender", fmt.Sprintf("unknown gender %q dropped", clip(v)))
		}
	}
	if v := f["status"]; v != "" {
		if s, ok := customer.NormalizeStatus(v); ok {
			rec.Fields["status"] = s
		} else {
			warn("status", fmt.Sprintf("unknown status %q dropped", clip(v)))
		}
	}
	if v := f["type"]; v != "" {
		if t, ok := customer.NormalizeEnum(v, customer.Types); ok {
			rec.Fields["type"] = t
		} else {
			warn("type", fmt.Sprintf("unknown type %q dropped", clip(v)))
		}
	}
	if v := f["tags"]; v != "" {
		for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == '|' }) {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if utf8.RuneCountInString(t) > customer.MaxTagLen {
				warn("tags", fmt.Sprintf("tag longer than %d characters dropped: %q", customer.MaxTagLen, clip(t)))
				continue
			}
			rec.Tags = append(rec.Tags, t)
		}
	}
	rec.Address = n.address(f, warn)
	if len(row.Attributes) > 0 {
		rec.Attributes = row.Attributes
	}
	if rec.Address == nil {
		rec.Attributes = n.addressParts(f, rec.Attributes)
	}
	if rec.Fields["source"] == "" {
		rec.Fields["source"] = n.Source
	}
	out.Record = rec
	return out, problems, true
}

// identifiers normalizes a row's email, phone and external id (scoped by
// source, else the normalizer's) into out. Problems with them come back as
// warnings (Seq unset) with the names of the invalid identifiers: the
// caller decides whether they are warnings or one row error.
func (n *Normalizer) identifiers(row Row, externalID, source string, out *customer.ImportRow) (warnings []customer.ImportProblem, bad []string) {
	f := row.Fields
	idWarn := func(field, reason string) {
		warnings = append(warnings, customer.ImportProblem{Row: row.Num, Severity: customer.SeverityWarning,
			Column: n.column(field), Reason: reason, Raw: row.Raw})
	}
	if raw := f["email"]; raw != "" {
		email, err := dedupe.NormalizeEmail(raw)
		if err != nil {
			bad = append(bad, "email")
			idWarn("email", fmt.Sprintf("invalid email %q dropped", clip(raw)))
		} else {
			out.Email, out.EmailKey = email, dedupe.EmailKey(email, n.Canonical)
		}
	}
	if raw := f["phone"]; raw != "" {
		ph, err := n.Phones.Normalize(raw, n.regions...)
		if err != nil {
			bad = append(bad, "phone")
			reason := "invalid phone"
			var inv *dedupe.InvalidError
			if errors.As(err, &inv) {
				reason = "phone " + inv.Reason
			}
			idWarn("phone", fmt.Sprintf("%s: %q dropped", reason, clip(raw)))
		} else {
			out.Phone, out.PhoneKey, out.PhoneValid, out.PhoneExt = ph.Number, dedupe.PhoneDigits(ph.Number), ph.Valid, ph.Extension
			switch {
			case n.Region == "" && !strings.HasPrefix(ph.Number, "+"):
				// Kept, but as typed: "(415) 555-0100" and "+1 415 555 0100"
				// are then two people. The report says how to fix it.
				idWarn("phone", fmt.Sprintf("phone without country code and no default region (set default_region, or the "+
					"organization's or location's region): kept as the digits %q, not checked", clip(raw)))
			case !ph.Valid:
				// Every phone kept invalid is reported (SPEC §10.1); saying
				// how it was read shows a region that misread it.
				idWarn("phone", invalidPhoneReason(raw, ph.Number, n.Region))
			}
		}
	}
	if raw := externalID; raw != "" {
		field := "external_id"
		if n.Kind == customer.ImportOrders {
			field = "customer_external_id"
		}
		if utf8.RuneCountInString(raw) > customer.MaxExternalIDLen {
			idWarn(field, fmt.Sprintf("external id longer than %d characters dropped", customer.MaxExternalIDLen))
		} else {
			if source == "" {
				source = n.Source
			}
			out.External = strings.ToLower(source) + ":" + raw
		}
	}
	return warnings, bad
}

// invalidPhoneReason is the row warning of a phone kept although it is not
// a valid number: as the number was read, and the region that read it when
// the number had no country code. The engine never lets it replace a valid
// phone of the customer the row matches: it becomes an alias then.
func invalidPhoneReason(raw, number, region string) string {
	how := ""
	if !strings.HasPrefix(strings.TrimSpace(raw), "+") && !strings.HasPrefix(strings.TrimSpace(raw), "00") && region != "" {
		how = " (region " + strings.ToUpper(region) + ")"
	}
	return fmt.Sprintf("phone %q read as %s%s is not a valid number; it never replaces a valid phone", clip(raw), number, how)
}

// addressParts keeps a row's city, state, postal code and country when it
// has no street line (an address needs one, so there is none to hold them):
// they become attributes under their columns, like unmapped columns,
// instead of being lost. A list with only "City" and "Country" is common.
func (n *Normalizer) addressParts(f map[string]string, attrs map[string]string) map[string]string {
	for _, field := range []string{"address_line2", "city", "state", "postal_code", "country"} {
		v := f[field]
		if v == "" {
			continue
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[n.column(field)] = v
	}
	return attrs
}

func (n *Normalizer) address(f map[string]string, warn func(field, reason string)) *customer.Address {
	line1 := strings.TrimSpace(f["address_line1"])
	if line1 == "" {
		return nil
	}
	a := &customer.Address{Label: "Address", AddressLine1: line1, AddressLine2: f["address_line2"],
		City: f["city"], State: f["state"], PostalCode: f["postal_code"]}
	if c := strings.TrimSpace(f["country"]); c != "" {
		if code, ok := dedupe.NormalizeCountry(c); ok {
			a.Country = code
		} else {
			warn("country", fmt.Sprintf("not a country code or name: %q dropped", clip(f["country"])))
		}
	}
	for _, s := range []*string{&a.AddressLine1, &a.AddressLine2, &a.City, &a.State, &a.PostalCode} {
		*s = cut(*s, customer.MaxAddressLineLen)
	}
	return a
}

var genders = map[string]string{
	"m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female",
	"o": "other", "other": "other", "x": "other", "non-binary": "other", "nonbinary": "other",
}

// dateLayouts are the date spellings accepted in files; day-first and
// month-first slashes are told apart when unambiguous (a part > 12), else
// by the region's custom (Normalizer.DayFirst).
var dateLayouts = []string{time.DateOnly, "2006/01/02", "2006.01.02", time.RFC3339, "2006-01-02 15:04:05", "02-Jan-2006", "Jan 2, 2006", "January 2, 2006", "2 Jan 2006"}

func parseDate(v string, dayFirst bool) (string, bool) {
	t, ok := parseDay(v, dayFirst)
	if !ok {
		return "", false
	}
	return valid(t)
}

// excelEpoch is day 0 of Excel's serial dates (1900 system; day 60 is the
// 29 February 1900 Excel believes in, so later days count from here).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// parseDay reads a date in one of dateLayouts, with slashes (a two-digit
// year is the latest such year not ahead of this one: 85 is 1985, 24 is
// 2024), as yyyymmdd, or as Excel's serial day number (five digits: a date
// column a spreadsheet formatted as a number, 32874 is 1990-01-01);
// unchecked.
func parseDay(v string, dayFirst bool) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		switch len(v) {
		case 8:
			t, err := time.Parse("20060102", v)
			return t, err == nil
		case 5:
			return excelEpoch.AddDate(0, 0, n), true
		}
		return time.Time{}, false
	}
	var a, b, y int
	twoDigitYear := len(v) >= 3 && strings.IndexByte("/-.", v[len(v)-3]) >= 0
	if _, err := fmt.Sscanf(strings.NewReplacer("-", "/", ".", "/").Replace(v), "%d/%d/%d", &a, &b, &y); err == nil && (y > 999 || twoDigitYear) {
		if twoDigitYear {
			if y += 2000; y > time.Now().Year() {
				y -= 100
			}
		}
		switch {
		case a > 12 && b <= 12:
			a, b = b, a // day first
		case b > 12 && a <= 12:
		case a == b:
		case a > 12 || b > 12:
			return time.Time{}, false
		case dayFirst: // ambiguous (both ≤ 12): the region's custom
			a, b = b, a
		}
		t := time.Date(y, time.Month(a), b, 0, 0, 0, 0, time.UTC)
		if t.Month() != time.Month(a) || t.Day() != b {
			return time.Time{}, false
		}
		return t, true
	}
	return time.Time{}, false
}

func valid(t time.Time) (string, bool) {
	if t.Year() < 1900 || t.After(time.Now()) {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

func looksLikeURL(v string) bool {
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	return err == nil && u.Host != "" && strings.Contains(u.Host, ".")
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n])
	}
	return s
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		return string([]rune(s)[:57]) + "..."
	}
	return s
}
