package dedupe

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Mentions are the identifiers of one person in the forms they are found
// in stored text (payloads, staged rows, raw cells): erasing the person
// scrubs every value that mentions one. The same rules run in SQL
// (postgres/erase.go, which first tests a stored document's text whole) and
// over Redis task payloads (queue).
type Mentions struct {
	// Emails, lowercased: a value mentions one when it contains it.
	Emails []string `json:"-"`
	// Digits are phones as all their digits (E.164 without '+'): a value
	// whose digits are exactly these mentions the phone.
	Digits []string `json:"-"`
	// National are phones' national significant numbers: a value whose
	// digits end with one ("(415) 555-0100", "0501234567") mentions it.
	National []string `json:"-"`
}

// minNationalDigits keeps short numbers from matching the tail of every
// long number (order numbers, dates).
const minNationalDigits = 6

// NewMentions builds the mentions of a person's emails and phones (stored
// forms: an email as given, a phone in E.164 or as digits).
func NewMentions(emails, phones []string) Mentions {
	var m Mentions
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); len(e) >= 3 && strings.Contains(e, "@") {
			m.Emails = append(m.Emails, e)
		}
	}
	for _, p := range phones {
		d := PhoneDigits(p)
		if len(d) < minNationalDigits {
			continue
		}
		m.Digits = append(m.Digits, d)
		if num, err := phonenumbers.Parse("+"+d, ""); err == nil {
			if n := phonenumbers.GetNationalSignificantNumber(num); len(n) >= minNationalDigits {
				m.National = append(m.National, n)
			}
		}
	}
	for _, l := range []*[]string{&m.Emails, &m.Digits, &m.National} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return m
}

// Empty reports whether there is nothing to look for.
func (m Mentions) Empty() bool {
	return len(m.Emails) == 0 && len(m.Digits) == 0 && len(m.National) == 0
}

// Match reports whether the text value s mentions the person.
func (m Mentions) Match(s string) bool {
	if s == "" {
		return false
	}
	lower := strings.ToLower(s)
	for _, e := range m.Emails {
		if strings.Contains(lower, e) {
			return true
		}
	}
	d := PhoneDigits(s)
	if d == "" {
		return false
	}
	if slices.Contains(m.Digits, d) {
		return true
	}
	for _, n := range m.National {
		if strings.HasSuffix(d, n) {
			return true
		}
	}
	return false
}

// MatchJSON reports whether any string or number of the JSON document
// mentions the person; a document that does not parse is matched as text.
func (m Mentions) MatchJSON(doc []byte) bool {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return m.Match(string(doc))
	}
	return m.matchValue(v)
}

func (m Mentions) matchValue(v any) bool {
	switch x := v.(type) {
	case string:
		return m.Match(x)
	case json.Number:
		return m.Match(x.String())
	case []any:
		return slices.ContainsFunc(x, m.matchValue)
	case map[string]any:
		for _, e := range x {
			if m.matchValue(e) {
				return true
			}
		}
	}
	return false
}
