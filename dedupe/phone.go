package dedupe

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// Phone is a normalized phone number.
type Phone struct {
	// Number is the E.164 form ("+966501234567") when phonenumbers considers
	// the number possible, otherwise the digits as given, with a leading "+"
	// if the input had an international prefix.
	Number string
	// Valid is phonenumbers' IsValidNumber; always false for digit fallbacks.
	Valid bool
	// Extension holds the digits after an extension marker, if any.
	Extension string
	// Region is the ISO region phonenumbers detected for the number, or ""
	// (unknown, ambiguous or a non-geographic number such as +800).
	Region string
}

const (
	reasonPhoneChars  = "must contain only digits, punctuation and an extension"
	reasonPhoneDigits = "must have 7 to 15 digits"
	reasonPhoneExt    = "extension must have 1 to 10 digits"
	reasonPhoneSci    = "is in scientific notation: a spreadsheet stored the column as numbers and " +
		"rounded its last digits away; format the column as text and export again"

	// maxPhoneDigits is the most digits phonenumbers can accept (a 3-digit
	// country code and a 17-digit national number); longer inputs are
	// refused before parsing so junk stays cheap.
	maxPhoneDigits = 20
	maxExtDigits   = 10
)

// NormalizePhone normalizes raw with phonenumbers. The country is taken, in
// order, from an explicit "+" or "00" prefix, else from the first non-empty
// region in regions that phonenumbers knows (pass the location's region
// first, the organization's second); unknown region codes are skipped. When
// the number is not valid in that region, the later regions are tried in
// order and the first in which it is valid wins (see resolveRegions).
//
// A leading "011" is not rewritten: it is the international prefix in the
// NANP only, while in other regions it starts national numbers (0115 is
// Nottingham). phonenumbers already strips the default region's own
// international prefix, so "011 44 …" with region US still becomes +44….
//
// It returns ErrEmpty or an *InvalidError with Field "phone". See
// PhoneNormalizer for a cached variant.
func NormalizePhone(raw string, regions ...string) (Phone, error) {
	in, err := cleanPhone(raw)
	if err != nil {
		return Phone{}, err
	}
	return resolveRegions(in, regions, resolvePhone).phone(in.ext)
}

// resolveRegions reads in with the regions in their order (SPEC §3: the
// location's, then the organization's) and takes the first reading that is
// a valid number; when none is, the first region's reading stands. A store
// in SA importing "(415) 555-0100" for a US organization so gets the valid
// +14155550100 rather than the invalid +9664155550100, while a number valid
// in the first region is always read there.
func resolveRegions(in phoneInput, regions []string, resolve func(phoneKey) phoneResult) phoneResult {
	first := in.key(pickRegion(regions))
	r := resolve(first)
	if in.plus || r.valid || r.reason != "" {
		return r // the region cannot matter, or the first one reads it well
	}
	for _, region := range regions {
		region = strings.ToUpper(strings.TrimSpace(region))
		if region == "" || region == first.region || !ValidRegion(region) {
			continue
		}
		if alt := resolve(in.key(region)); alt.valid {
			return alt
		}
	}
	return r
}

// phoneInput is a raw phone reduced to what decides its normalized form.
type phoneInput struct {
	plus   bool   // an international prefix ("+" or "00") was given
	digits string // ASCII digits, without the "00" prefix
	ext    string
}

// phoneKey is everything phonenumbers sees, so it is also the cache key.
type phoneKey struct {
	number string // digits, with a leading "+" when international
	region string // "" when number has a "+": the region cannot matter then
}

func (in phoneInput) key(region string) phoneKey {
	if in.plus {
		return phoneKey{number: "+" + in.digits}
	}
	return phoneKey{number: in.digits, region: region}
}

// phoneResult is the cacheable outcome of resolvePhone.
type phoneResult struct {
	number string
	valid  bool
	region string
	reason string // non-empty when the number is invalid
}

func (r phoneResult) phone(ext string) (Phone, error) {
	if r.reason != "" {
		return Phone{}, &InvalidError{Field: "phone", Reason: r.reason}
	}
	return Phone{Number: r.number, Valid: r.valid, Extension: ext, Region: r.region}, nil
}

// resolvePhone is the expensive step: phonenumbers takes 13–40 µs a parse.
func resolvePhone(k phoneKey) phoneResult {
	if k.number[0] == '+' || k.region != "" {
		if r, ok := parsePossible(k.number, k.region); ok {
			return r
		}
	}
	// Not a possible number (test numbers, unknown country codes, no region):
	// keep the digits so such customers can still be matched and found.
	n := len(k.number)
	if k.number[0] == '+' {
		n--
	}
	if n < 7 || n > 15 {
		return phoneResult{reason: reasonPhoneDigits}
	}
	return phoneResult{number: k.number}
}

// parsePossible returns the E.164 result for number when phonenumbers
// considers it possible.
func parsePossible(number, region string) (phoneResult, bool) {
	r, ok := fastValid(number, region)
	if ok {
		return r, true
	}
	if tooLongNANP(number, region) {
		return phoneResult{}, false
	}
	num, err := phonenumbers.Parse(number, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return phoneResult{}, false
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	var detected string
	var valid bool
	if r.number == e164 {
		// fastValid built this very number and found it invalid: its region
		// scan (all 25 regions for +1) need not run again.
		detected = r.region
	} else {
		detected, valid = regionAndValidity(num)
	}
	if !valid {
		// For invalid numbers phonenumbers may strip a national prefix again
		// when it re-reads its own E.164 output ("000111111" in CC gives
		// +6100111111, which reads back as +610111111). Such junk gets the
		// digit fallback, so normalizing a normalized phone changes nothing.
		again, err := phonenumbers.Parse(e164, "")
		if err != nil || !phonenumbers.IsPossibleNumber(again) || phonenumbers.Format(again, phonenumbers.E164) != e164 {
			return phoneResult{}, false
		}
	}
	return phoneResult{number: e164, valid: valid, region: detected}, true
}

// callingCodes are the country calling codes phonenumbers knows.
var callingCodes = phonenumbers.GetSupportedCallingCodes()

// fastValid builds the number directly, skipping phonenumbers.Parse (about
// 14 µs of regular expressions), for the two shapes bulk files are made of:
// "+<country code><national number>" and 10-digit NANP numbers with a NANP
// region. It answers only for valid numbers whose national number cannot
// carry a national prefix that Parse would strip; everything else — and so
// every doubtful case — goes through Parse, so results are the same. When
// it built a possible number and found it invalid, the returned result (with
// ok false) holds that number and its region, for parsePossible to reuse.
func fastValid(number, region string) (phoneResult, bool) {
	var cc int
	var national string
	switch {
	case number[0] == '+':
		digits := number[1:]
		for l := 1; l <= 3 && l < len(digits); l++ {
			c := atoiDigits(digits[:l])
			if callingCodes[c] {
				cc, national = c, digits[l:]
				break
			}
		}
	case region != "" && phonenumbers.IsNANPACountry(region):
		switch {
		case len(number) == 10:
			cc, national = 1, number
		case len(number) == 11 && number[0] == '1':
			cc, national = 1, number[1:]
		}
	}
	if cc == 0 || len(national) < 4 || len(national) > 17 || national[0] == '0' {
		return phoneResult{}, false
	}
	if cc == 1 && national[0] == '1' {
		return phoneResult{}, false
	}
	if ndd := phonenumbers.GetNddPrefixForRegion(phonenumbers.GetRegionCodeForCountryCode(cc), true); ndd != "" && strings.HasPrefix(national, ndd) {
		return phoneResult{}, false
	}
	num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(uint64(atoiDigits(national)))}
	if !phonenumbers.IsPossibleNumber(num) {
		return phoneResult{}, false
	}
	detected, valid := regionAndValidity(num)
	r := phoneResult{number: "+" + strconv.Itoa(cc) + national, valid: valid, region: detected}
	return r, valid
}

// tooLongNANP reports a national number that Parse reads as too long for a
// NANP region, without parsing it: more than ten digits, not a trunk "1"
// and not the international prefix "011" (which Parse strips), so its
// national number keeps every digit while NANP numbers have ten. Bulk files
// typed for other countries without a "+" ("966501234567" read with region
// US) are a tenth of a typical file; each cost a Parse.
func tooLongNANP(number, region string) bool {
	return len(number) > 10 && number[0] != '+' && number[0] != '1' && !strings.HasPrefix(number, "011") &&
		region != "" && phonenumbers.IsNANPACountry(region)
}

// atoiDigits converts ASCII digits (at most 18) to an int.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// cleanPhone splits raw into its digits and extension, refusing letters and
// symbols that no phone formatting uses.
func cleanPhone(raw string) (phoneInput, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return phoneInput{}, ErrEmpty
	}
	// A phone column that a spreadsheet or data tool stored as numbers comes
	// out as "4155550100.0" (the fraction's zeros are not digits of the
	// number) or, in Excel, as "4.15555E+9" (the digits are lost).
	if isScientific(s) {
		return phoneInput{}, &InvalidError{Field: "phone", Reason: reasonPhoneSci}
	}
	s = trimZeroFraction(s)
	var in phoneInput
	main := s
	if i := strings.IndexFunc(s, isExtStart); i >= 0 {
		main = s[:i]
		ext, reason := parseExtension(s[i:])
		if reason != "" {
			return phoneInput{}, &InvalidError{Field: "phone", Reason: reason}
		}
		in.ext = ext
	}
	digits := make([]byte, 0, len(main))
	for _, r := range main {
		if d, ok := digitValue(r); ok {
			digits = append(digits, d)
			continue
		}
		switch {
		case r == '+' || r == '＋':
			// Only one, before any digit: "(+966) 50…" is fine, "1+2" is not.
			if in.plus || len(digits) > 0 {
				return phoneInput{}, &InvalidError{Field: "phone", Reason: reasonPhoneChars}
			}
			in.plus = true
		case isPhonePunct(r):
		default:
			return phoneInput{}, &InvalidError{Field: "phone", Reason: reasonPhoneChars}
		}
	}
	if !in.plus && len(digits) > 2 && digits[0] == '0' && digits[1] == '0' && digits[2] != '0' {
		// "00" is the international prefix almost everywhere (and what US
		// exports write as "001-…"), so treat it like "+". Country codes
		// never start with 0, so "000…" stays national junk like 0000000000.
		in.plus = true
		digits = digits[2:]
	}
	if len(digits) == 0 || len(digits) > maxPhoneDigits {
		return phoneInput{}, &InvalidError{Field: "phone", Reason: reasonPhoneDigits}
	}
	in.digits = string(digits)
	return in, nil
}

// isScientific reports a number like "9.66501E+11" or "4E+9".
func isScientific(s string) bool {
	i := strings.IndexAny(s, "Ee")
	if i < 0 || i+1 >= len(s) || s[i+1] != '+' {
		return false
	}
	mant, exp := s[:i], s[i+2:]
	if len(exp) == 0 || len(exp) > 2 || !allDigits(exp) {
		return false
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if len(whole) != 1 || !allDigits(whole) {
		return false
	}
	return allDigits(frac)
}

// trimZeroFraction drops ".0", ".00"… after seven or more plain digits
// (with an optional "+"): "4155550100.0" is 4155550100. Dotted layouts
// ("415.555.0100") have shorter groups and stay as they are.
func trimZeroFraction(s string) string {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || frac == "" || strings.Trim(frac, "0") != "" {
		return s
	}
	digits := strings.TrimPrefix(whole, "+")
	if len(digits) < 7 || !allDigits(digits) {
		return s
	}
	return whole
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isExtStart reports the first rune of an extension suffix; every letter
// counts so that letters not forming an extension make the phone invalid.
func isExtStart(r rune) bool {
	return unicode.IsLetter(r) || r == '#' || r == ';'
}

// extMarkers are matched ASCII case-insensitively, longest first.
var extMarkers = []string{";ext=", "extension", "extn", "ext", "x", "#"}

// parseExtension reads "x123", "ext. 123", "ext123", "#123", ";ext=123".
func parseExtension(tail string) (ext, reason string) {
	rest, found := "", false
	for _, m := range extMarkers {
		if hasPrefixFoldASCII(tail, m) {
			rest, found = tail[len(m):], true
			break
		}
	}
	if !found {
		return "", reasonPhoneChars
	}
	rest = strings.TrimLeftFunc(rest, func(r rune) bool {
		return unicode.IsSpace(r) || r == '.' || r == ':' || r == '='
	})
	digits := make([]byte, 0, len(rest))
	for _, r := range rest {
		d, ok := digitValue(r)
		if !ok {
			return "", reasonPhoneChars
		}
		digits = append(digits, d)
	}
	if len(digits) == 0 || len(digits) > maxExtDigits {
		return "", reasonPhoneExt
	}
	return string(digits), ""
}

// hasPrefixFoldASCII compares only ASCII letters case-insensitively, so a
// non-ASCII letter that lowercases to ASCII (the Kelvin sign) never matches
// and byte offsets stay valid.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// isPhonePunct reports the separators people and exports put in numbers.
func isPhonePunct(r rune) bool {
	switch r {
	case '-', '.', '/', '(', ')', '[', ']',
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', // dashes, minus
		'－', '．', '／', '（', '）': // fullwidth
		return true
	}
	return unicode.IsSpace(r)
}

// digitValue maps the digit sets phonenumbers accepts (ASCII, Arabic-Indic,
// Extended Arabic-Indic, fullwidth) to ASCII.
func digitValue(r rune) (byte, bool) {
	switch {
	case '0' <= r && r <= '9':
		return byte(r), true
	case '\u0660' <= r && r <= '\u0669':
		return byte('0' + r - '\u0660'), true
	case '\u06F0' <= r && r <= '\u06F9':
		return byte('0' + r - '\u06F0'), true
	case '\uFF10' <= r && r <= '\uFF19':
		return byte('0' + r - '\uFF10'), true
	}
	return 0, false
}

// PhoneKey returns the identity key used to match customers by phone: the
// normalized number itself, since normalization already removed formatting.
func PhoneKey(normalized string) string {
	return normalized
}

// PhoneDigits returns only the digits of s (as ASCII), for digit-based
// phone search and blocklist matching.
func PhoneDigits(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if d, ok := digitValue(r); ok {
			b = append(b, d)
		}
	}
	return string(b)
}

// pickRegion returns the first non-empty region phonenumbers knows, upper-cased.
func pickRegion(regions []string) string {
	for _, r := range regions {
		r = strings.ToUpper(strings.TrimSpace(r))
		if r != "" && ValidRegion(r) {
			return r
		}
	}
	return ""
}
