package dedupe

import (
	"strings"
	"unicode"

	"github.com/gosimple/unidecode"
)

// FuzzyRecord is what duplicate suggestions compare of a customer: its
// name, birthdate, default address, primary email and phone, company.
type FuzzyRecord struct {
	ID        string
	First     string
	Last      string
	Name      string // used only when First and Last are empty
	Birthdate string // YYYY-MM-DD or ""
	Street    string // address line 1
	City      string
	Postcode  string
	Email     string
	Phone     string
	Company   string
}

// Comparisons of the fuzzy model, one per field group.
const (
	CmpFirst = iota
	CmpLast
	CmpBirth
	CmpAddress // street, house number, postcode and city as one: they are not independent
	CmpEmail
	CmpPhone
	CmpCompany
	NumComparisons
)

// comparisonLevels is how many levels each comparison has besides "null"
// (level 0: a side lacks the field, which says nothing). Level 1 is the
// closest agreement, the last one disagreement.
var comparisonLevels = [NumComparisons]int{
	CmpFirst: 4, CmpLast: 4, CmpBirth: 3, CmpAddress: 5, CmpEmail: 3, CmpPhone: 3, CmpCompany: 3,
}

var comparisonNames = [NumComparisons]string{"first_name", "last_name", "birthdate", "address", "email", "phone",
	"company"}

// Pattern is one pair's comparison vector: a level per comparison.
type Pattern [NumComparisons]uint8

// Comparison is a pair compared: its pattern, plus what reasons need to
// name (how a level was reached).
type Comparison struct {
	Pattern Pattern
	detail  [NumComparisons]uint8
	swapped bool // first and last names matched crosswise
}

// details of a level, for the reasons.
const (
	detailNone = iota
	detailNickname
	detailTransposed
	detailOneEdit
	detailSameCity
)

// prepared is a FuzzyRecord normalized once for many comparisons.
type prepared struct {
	first, last, birth, street, number, city, postcode, email, phone, company string
	// The email local part's digits, and the rest: compared per pair.
	emailDigits, emailLetters string
}

// PreparedRecord is a record normalized for comparison; prepare each record
// once when it meets many others.
type PreparedRecord struct{ p prepared }

// Prepare normalizes r for Compare.
func Prepare(r *FuzzyRecord) PreparedRecord {
	first, last := r.First, r.Last
	if strings.TrimSpace(first+last) == "" && r.Name != "" {
		first, last = SplitName(r.Name)
	}
	number, street := splitStreet(r.Street)
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(r.Email)), "@")
	local, _, _ = strings.Cut(local, "+")
	phone := digitsOnly(r.Phone)
	if len(phone) < 7 {
		phone = ""
	}
	return PreparedRecord{prepared{
		first: foldWord(first), last: foldWord(last), birth: strings.TrimSpace(r.Birthdate),
		street: street, number: number, city: foldWord(r.City),
		postcode: strings.ToLower(strings.ReplaceAll(strings.TrimSpace(r.Postcode), " ", "")),
		email:    local, phone: phone, company: foldWord(r.Company),
		emailDigits: digitsOnly(local), emailLetters: stripDigits(local),
	}}
}

// Compare compares two prepared records field by field.
func Compare(pa, pb PreparedRecord) Comparison {
	a, b := &pa.p, &pb.p
	var c Comparison
	c.Pattern[CmpFirst], c.detail[CmpFirst] = compareFirst(a.first, b.first)
	c.Pattern[CmpLast], c.detail[CmpLast] = compareLast(a.last, b.last)
	if a.first != "" && a.last != "" && b.first != "" && b.last != "" && c.Pattern[CmpFirst]+c.Pattern[CmpLast] > 2 {
		// Swapped given and family names ("Smith John") agree crosswise.
		sf, sfd := compareFirst(a.first, b.last)
		sl, sld := compareLast(a.last, b.first)
		if sf+sl < c.Pattern[CmpFirst]+c.Pattern[CmpLast] {
			c.Pattern[CmpFirst], c.detail[CmpFirst], c.Pattern[CmpLast], c.detail[CmpLast] = sf, sfd, sl, sld
			c.swapped = true
		}
	}
	c.Pattern[CmpBirth], c.detail[CmpBirth] = compareBirth(a.birth, b.birth)
	c.Pattern[CmpAddress], c.detail[CmpAddress] = compareAddress(a, b)
	switch {
	case a.email != b.email && a.email != "" && b.email != "" && a.emailDigits != b.emailDigits &&
		(a.emailLetters == b.emailLetters || a.emailDigits != "" && b.emailDigits != ""):
		// "john.smith84" and "john.smith85", "mei.lee12" and "wei.lee14":
		// the numbers tell two people apart
		c.Pattern[CmpEmail] = 3
	case min(len(a.email), len(b.email)) >= 5:
		c.Pattern[CmpEmail], c.detail[CmpEmail] = editLevel(a.email, b.email, 2)
	default: // "q-a" and "q-c" are not a typo of each other
		c.Pattern[CmpEmail] = similarLevel(a.email, b.email, 2)
	}
	c.Pattern[CmpPhone] = comparePhone(a.phone, b.phone)
	c.Pattern[CmpCompany] = similarLevel(a.company, b.company, 0.9)
	return c
}

func compareFirst(a, b string) (uint8, uint8) {
	switch {
	case a == "" || b == "":
		return 0, detailNone
	case a == b:
		return 1, detailNone
	case nicknameVariants(a, b):
		return 2, detailNickname
	}
	jw := jaroWinkler(a, b)
	switch {
	case jw >= 0.92:
		return 2, detailNone
	case jw >= 0.8 || (len(a) == 1 || len(b) == 1) && a[0] == b[0]:
		return 3, detailNone
	}
	return 4, detailNone
}

func compareLast(a, b string) (uint8, uint8) {
	switch {
	case a == "" || b == "":
		return 0, detailNone
	case a == b:
		return 1, detailNone
	}
	jw := jaroWinkler(a, b)
	switch {
	case jw >= 0.92 || osaWithin(a, b, 1) <= 1:
		return 2, detailNone
	case jw >= 0.8:
		return 3, detailNone
	}
	return 4, detailNone
}

// compareBirth: exact, then day and month transposed or one of year, month,
// day mistyped (one character, or its two digits swapped), then different:
// 1978-11-13 and 2004-11-13 are two people, not a typo.
func compareBirth(a, b string) (uint8, uint8) {
	if len(a) != 10 || len(b) != 10 {
		return 0, detailNone
	}
	if a == b {
		return 1, detailNone
	}
	ya, ma, da := a[:4], a[5:7], a[8:]
	yb, mb, db := b[:4], b[5:7], b[8:]
	if ya == yb && ma == db && da == mb {
		return 2, detailTransposed
	}
	var differ []int
	for i, eq := range []bool{ya == yb, ma == mb, da == db} {
		if !eq {
			differ = append(differ, i)
		}
	}
	if len(differ) == 1 {
		x, y := [3]string{ya, ma, da}[differ[0]], [3]string{yb, mb, db}[differ[0]]
		if osaWithin(x, y, 1) <= 1 {
			return 2, detailOneEdit
		}
	}
	return 3, detailNone
}

// compareAddress compares the address as one field: same street and house
// number in the same place · same street · same postcode · same city (or a
// postcode one edit away) · different. Separately, the parts of one
// address would each count as independent evidence: agreeing on all four
// (one household) outweighed different given names and birthdates.
func compareAddress(a, b *prepared) (uint8, uint8) {
	street := similarLevel(a.street, b.street, 0.88)
	number := exactLevel(a.number, b.number)
	city := similarLevel(a.city, b.city, 0.88)
	postcode, _ := editLevel(a.postcode, b.postcode, 1)
	if street == 0 && city == 0 && postcode == 0 {
		return 0, detailNone // a house number alone says nothing
	}
	// A city spelled alike is not enough to place a street ("City 12", "City 21").
	nearPlace := postcode == 1 || postcode == 2 || city == 1 || postcode == 0 && city == 0
	if (street == 1 || street == 2) && nearPlace {
		if number == 1 {
			return 1, detailNone
		}
		return 2, detailNone
	}
	switch {
	case postcode == 1:
		return 3, detailNone
	case city == 1:
		return 4, detailSameCity
	case postcode == 2 || city == 2:
		return 4, detailNone
	}
	return 5, detailNone
}

func comparePhone(a, b string) uint8 {
	switch {
	case a == "" || b == "":
		return 0
	case suffix(a, 9) == suffix(b, 9):
		return 1
	case suffix(a, 7) == suffix(b, 7):
		return 2
	}
	return 3
}

func suffix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func exactLevel(a, b string) uint8 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return 1
	}
	return 2
}

func similarLevel(a, b string, jwMin float32) uint8 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return 1
	case jaroWinkler(a, b) >= jwMin:
		return 2
	}
	return 3
}

// editLevel: equal, within maxEdits (Damerau-Levenshtein), or different;
// the detail says whether it was a single edit.
func editLevel(a, b string, maxEdits int) (uint8, uint8) {
	switch {
	case a == "" || b == "":
		return 0, detailNone
	case a == b:
		return 1, detailNone
	}
	d := osaWithin(a, b, maxEdits)
	switch {
	case d == 1:
		return 2, detailOneEdit
	case d <= maxEdits:
		return 2, detailNone
	}
	return 3, detailNone
}

// foldWord is s in lowercase ASCII letters and digits, spaces and
// punctuation dropped ("O'Brien" → "obrien", "José" → "jose").
func foldWord(s string) string {
	if isASCII(s) {
		return foldASCII(s)
	}
	s = unidecode.Unidecode(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// foldASCII is foldWord of an ASCII string: s itself when it is folded
// already (most names' letters are, the first one aside).
func foldASCII(s string) string {
	folded := true
	for i := 0; i < len(s) && folded; i++ {
		folded = 'a' <= s[i] && s[i] <= 'z' || '0' <= s[i] && s[i] <= '9'
	}
	if folded {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

func stripDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// streetWords are the usual street-type spellings, reduced to one form so
// "12 Hill Street" and "12 hill st." agree.
var streetWords = map[string]string{
	"street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "drive": "dr", "place": "pl",
	"court": "ct", "crescent": "cres", "circuit": "cct", "lane": "ln", "boulevard": "blvd", "terrace": "tce",
	"highway": "hwy", "parade": "pde", "close": "cl", "square": "sq", "way": "wy", "grove": "gr",
	"north": "n", "south": "s", "east": "e", "west": "w", "apartment": "apt", "unit": "u",
}

// splitStreet reads an address line as its house number (the first word
// holding a digit) and its street, normalized.
func splitStreet(line string) (number, street string) {
	words := strings.FieldsFunc(strings.ToLower(foldKeepSpace(line)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var rest []string
	for _, w := range words {
		if number == "" && strings.ContainsAny(w, "0123456789") {
			number = w
			continue
		}
		if s, ok := streetWords[w]; ok {
			w = s
		}
		rest = append(rest, w)
	}
	return number, strings.Join(rest, " ")
}

func foldKeepSpace(s string) string {
	if isASCII(s) {
		return s
	}
	return unidecode.Unidecode(s)
}
