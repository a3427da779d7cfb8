package dedupe

import (
	"strings"

	"github.com/linkitworks/customers/customer"
)

// PersonName is a person's name as a record carries it. First and Last are
// used when either is set; Full only when both are empty (it is then split
// like SplitName).
type PersonName struct {
	First string
	Last  string
	Full  string
}

// PersonNameOf is c's name for the name check. A corporate customer's Name
// is its company's, not a person's, so without a first or last name it has
// none and never differs.
func PersonNameOf(c *customer.Customer) PersonName {
	n := PersonName{First: c.FirstName, Last: c.LastName}
	if strings.TrimSpace(c.FirstName+c.LastName) == "" && c.Type != customer.TypeCorporate {
		n.Full = c.Name
	}
	return n
}

// NameCheck is the verdict of comparing two people's names.
type NameCheck struct {
	// Differ is true only when both sides have names and they clearly belong
	// to different people.
	Differ bool
	// Field names the part that differs when Differ is true: "first_name",
	// "last_name", or "name" when one side's given and family names cannot
	// be told apart (only one of them was given).
	Field string
}

// Name parts reported in NameCheck.Field.
const (
	NameFieldFirst = "first_name"
	NameFieldLast  = "last_name"
	NameFieldName  = "name"
)

// NamesDiffer reports whether a and b clearly belong to different people.
// See CompareNames.
func NamesDiffer(a, b PersonName) bool {
	return CompareNames(a, b).Differ
}

// CompareNames compares two people's names conservatively, since a false
// "differ" splits one person in two: a side with no name never differs;
// given names agree when any of their words are variants (equal after
// folding accents and transliterating, nicknames, an initial, a prefix, a
// typo); family names agree when any of their words are variants, which
// covers double and hyphenated names and particles (García López and García,
// van der Berg and Vanderberg); swapped first and last names agree. When
// both sides have a first and a last name, both must agree; when a side has
// only one of them, any agreeing word is enough. The result is symmetric and
// the work is bounded whatever the input length.
func CompareNames(a, b PersonName) NameCheck {
	if a == b {
		return NameCheck{} // the common re-import, without folding anything
	}
	pa, pb := parsePersonName(a), parsePersonName(b)
	if pa.empty() || pb.empty() {
		return NameCheck{}
	}
	if pa.complete() && pb.complete() {
		given := anyVariant(pa.given, pb.given)
		family := anyVariant(pa.family, pb.family)
		if given && family {
			return NameCheck{}
		}
		if anyVariant(pa.given, pb.family) && anyVariant(pa.family, pb.given) {
			return NameCheck{}
		}
		if !given {
			return NameCheck{Differ: true, Field: NameFieldFirst}
		}
		return NameCheck{Differ: true, Field: NameFieldLast}
	}
	if anyVariant(pa.all(), pb.all()) {
		return NameCheck{}
	}
	// A given name alone against a family name alone says nothing about
	// whether they are one person: only a part both sides have can differ.
	sharedRole := (len(pa.given) > 0 && len(pb.given) > 0) || (len(pa.family) > 0 && len(pb.family) > 0)
	if !sharedRole {
		return NameCheck{}
	}
	return NameCheck{Differ: true, Field: NameFieldName}
}

// personName is a name split into folded words by role.
type personName struct {
	given, family []nameWord
}

func (p personName) empty() bool    { return len(p.given)+len(p.family) == 0 }
func (p personName) complete() bool { return len(p.given) > 0 && len(p.family) > 0 }
func (p personName) all() []nameWord {
	return append(append([]nameWord(nil), p.given...), p.family...)
}

func parsePersonName(n PersonName) personName {
	first, last := n.First, n.Last
	if strings.TrimSpace(first) == "" && strings.TrimSpace(last) == "" {
		first, last = SplitName(capName(n.Full))
	}
	p := personName{given: nameWords(first, false), family: nameWords(last, true)}
	if placeholderName(p) {
		return personName{}
	}
	return p
}

// placeholderWords are what tills and forms put where a name is unknown
// ("Guest", "Walk-in Customer", "N/A"): a name made only of them is no name,
// or every walk-in would differ from the person whose phone it is.
var placeholderWords = map[string]bool{
	"guest": true, "customer": true, "client": true, "walk": true, "walkin": true, "in": true,
	"unknown": true, "anonymous": true, "anon": true, "none": true, "null": true, "nil": true,
	"n": true, "a": true, "na": true, "noname": true, "no": true, "name": true, "test": true,
	"cash": true, "sale": true, "xxx": true, "tbd": true, "mr": true, "mrs": true, "ms": true,
}

// placeholderName reports whether every word of p is a placeholder.
func placeholderName(p personName) bool {
	for _, words := range [][]nameWord{p.given, p.family} {
		for _, w := range words {
			if !w.joined && !(w.script == scriptLatin && placeholderWords[w.latin]) {
				return false
			}
		}
	}
	return true
}

// anyVariant reports whether some word of xs is a variant of some word of ys.
func anyVariant(xs, ys []nameWord) bool {
	for _, x := range xs {
		for _, y := range ys {
			if variantWords(x, y) {
				return true
			}
		}
	}
	return false
}

// HasName reports whether n holds a person's name at all: placeholders
// ("Guest", "N/A") and blanks are none.
func HasName(n PersonName) bool {
	return !parsePersonName(n).empty()
}

// realWords reports whether a name field holds a word that is not a
// placeholder: HasName of a name with a first or last name is realWords of
// the one or the other (placeholderName, word by word).
func realWords(field string, family bool) bool {
	for _, w := range nameWords(field, family) {
		if !w.joined && !(w.script == scriptLatin && placeholderWords[w.latin]) {
			return true
		}
	}
	return false
}

// nameField is a name field as realWords reads it.
type nameField struct {
	s      string
	family bool
}

// hasName is HasName with each field's answer remembered: an import chunk's
// rows repeat first and last names, and folding them (nameWords) was a
// quarter of applying a row.
func (w *Workspace) hasName(n PersonName) bool {
	if strings.TrimSpace(n.First) == "" && strings.TrimSpace(n.Last) == "" {
		return HasName(n) // the full name, split: rare in bulk files
	}
	return w.realWords(n.First, false) || w.realWords(n.Last, true)
}

func (w *Workspace) realWords(s string, family bool) bool {
	if s == "" {
		return false
	}
	k := nameField{s, family}
	real, ok := w.names[k]
	if !ok {
		if w.names == nil {
			w.names = map[nameField]bool{}
		}
		real = realWords(s, family)
		w.names[k] = real
	}
	return real
}
