package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/linkitworks/customers/dedupe"
)

// The data set is a pure function of (seed, index): customer i can be
// regenerated at any time, so nothing is held in memory and a benchmark
// client picks "a random existing customer" by picking a random index.
// Indexes >= -customers are identities that do not exist yet (upserts
// creating customers draw them from a shared counter).

// gen generates customers for one seed.
type gen struct {
	seed    uint64
	orgID   string
	n       int       // customers loaded
	base    time.Time // created of customer 0
	spacing time.Duration
	// phoneFormats lists, per country, the formats verified to normalize to
	// the stored key under the organization's region.
	phoneFormats [][]phoneFormat
	phoneValid   []map[string]bool // country → national prefix → IsValidNumber
}

func newGen(seed uint64, orgID string, n int) *gen {
	g := &gen{seed: seed, orgID: orgID, n: n,
		base: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)}
	span := 3 * 365 * 24 * time.Hour
	g.spacing = max(span/time.Duration(max(n, 1)), time.Millisecond)
	return g
}

// person is one generated customer.
type person struct {
	Index     int
	ID        string
	FirstName string
	LastName  string
	Name      string
	Email     string // lowercase: also its identity key
	Phone     string // E.164
	PhoneKey  string // digits of E.164
	Country   int    // index in countries
	National  string // national significant number
	Created   time.Time
}

// mix is splitmix64 of the seed and an index: cheap, well spread.
func mix(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var firstNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
	"Mohammed", "Fatima", "Ahmed", "Aisha", "Omar", "Layla", "Abdullah", "Noura", "Khalid", "Maryam",
	"Yousef", "Huda", "Faisal", "Reem", "Saud", "Lina", "Priya", "Arjun", "Ananya", "Rahul",
	"Aarav", "Diya", "Vikram", "Sneha", "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver",
	"Chloé", "Léa", "Hugo", "Zoë", "José", "João", "Ana", "Lucas", "Gabriel", "Sofía",
	"Wei", "Mei", "Hiroshi", "Yuki", "Ivan", "Olga", "Mateo", "Valentina", "Kwame", "Amara",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
	"Al-Saud", "Al-Harbi", "Al-Qahtani", "Al-Ghamdi", "Al-Zahrani", "Al-Otaibi", "Khan", "Haddad", "Nasser", "Mansour",
	"Patel", "Sharma", "Singh", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Kapoor", "Mehta",
	"O'Brien", "Murphy", "Kelly", "Walsh", "Dubois", "Lefèvre", "Moreau", "Müller", "Schmidt", "Schäfer",
	"Silva", "Santos", "Oliveira", "Pereira", "Fernández", "López", "González", "Rossi", "Bianchi", "Romano",
	"Wang", "Li", "Zhang", "Chen", "Tanaka", "Suzuki", "Ivanov", "Petrov", "Mensah", "Okafor",
}

var emailDomains = []string{
	"gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com",
	"proton.me", "mail.com", "example.sa", "example.co.uk", "example.in", "example.fr", "example.com.br",
}

// asciiFold spells a name for an email local part.
var asciiFold = strings.NewReplacer("é", "e", "è", "e", "ë", "e", "ó", "o", "ö", "o", "ü", "u", "ã", "a",
	"á", "a", "í", "i", "ç", "c", "ñ", "n", "ä", "a", "'", "", " ", "")

// firstLocal and lastLocal are the names as email local parts.
var firstLocal, lastLocal = localNames(firstNames), localNames(lastNames)

func localNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(asciiFold.Replace(n))
	}
	return out
}

// country is a numbering plan slice: numbers are cc + prefix + digits.
type country struct {
	region   string
	cc       string
	prefixes []string
	digits   int   // subscriber digits after the prefix
	lo, span int64 // subscriber values lo … lo+span-1
	slots    int   // share of customers, out of 20
}

var countries = []country{
	{"US", "1", []string{"212", "310", "312", "415", "512", "617", "646", "702", "206", "305"}, 7, 2_000_000, 8_000_000, 7},
	{"SA", "966", []string{"50", "53", "54", "55", "56", "58", "59"}, 7, 0, 10_000_000, 3},
	{"GB", "44", []string{"71", "73", "74", "75", "77", "78", "79"}, 8, 0, 100_000_000, 3},
	{"AE", "971", []string{"50", "52", "54", "55", "56", "58"}, 7, 0, 10_000_000, 2},
	{"FR", "33", []string{"6", "7"}, 8, 0, 100_000_000, 2},
	{"IN", "91", []string{"98", "99", "97", "96", "93", "70", "80", "90"}, 8, 0, 100_000_000, 2},
	{"BR", "55", []string{"119", "219", "319", "419", "519", "619", "719", "819"}, 8, 0, 100_000_000, 1},
}

// slotCountry maps i%20 to (country, rank of the slot within the country).
var slotCountry, slotRank = func() ([20]int, [20]int) {
	var c, r [20]int
	s := 0
	for ci, k := range countries {
		for j := range k.slots {
			c[s], r[s] = ci, j
			s++
		}
	}
	if s != 20 {
		panic("country slots must add up to 20")
	}
	return c, r
}()

// phone returns customer i's country and national number. It is a bijection
// from i onto numbers: (i/20, slot) → the country's j-th number, and within a
// country j → prefix j%len(prefixes), subscriber an affine permutation of
// j/len(prefixes).
func phoneOf(i int) (int, string) {
	slot := i % 20
	ci := slotCountry[slot]
	k := countries[ci]
	j := int64(i/20)*int64(k.slots) + int64(slotRank[slot])
	p := int64(len(k.prefixes))
	sub := k.lo + ((j/p)*7919+104729)%k.span
	s := strconv.FormatInt(sub, 10)
	if len(s) < k.digits {
		s = strings.Repeat("0", k.digits-len(s)) + s
	}
	return ci, k.prefixes[j%p] + s
}

// person generates customer i.
func (g *gen) person(i int) person {
	h := mix(g.seed, uint64(i))
	fi, li := h%uint64(len(firstNames)), (h>>16)%uint64(len(lastNames))
	first, last := firstNames[fi], lastNames[li]
	f, l := firstLocal[fi], lastLocal[li]
	// The tag is a permutation of i in digits; names hold no digits, so the
	// trailing digits of the local part identify i and emails are unique.
	tag := strconv.FormatUint((uint64(i)*2654435761+12345)%100_000_000, 10)
	var local string
	switch (h >> 32) % 4 {
	case 0:
		local = f + "." + l + tag
	case 1:
		local = f + l + tag
	case 2:
		local = f[:1] + "." + l + tag
	default:
		local = l + "_" + f + tag
	}
	ci, national := phoneOf(i)
	cc := countries[ci].cc
	key := cc + national
	return person{
		Index:     i,
		ID:        g.customerID(i),
		FirstName: first,
		LastName:  last,
		Name:      first + " " + last,
		Email:     local + "@" + emailDomains[(h>>40)%uint64(len(emailDomains))],
		Phone:     "+" + key,
		PhoneKey:  key,
		Country:   ci,
		National:  national,
		Created:   g.base.Add(time.Duration(i) * g.spacing),
	}
}

// customerID is a deterministic cust_<ulid> whose time part is the
// customer's creation time, like the service's own ids.
func (g *gen) customerID(i int) string {
	var id ulid.ULID
	ms := uint64(g.base.Add(time.Duration(i) * g.spacing).UnixMilli())
	_ = id.SetTime(ms)
	binary.BigEndian.PutUint64(id[6:14], mix(g.seed^0x5eed, uint64(i)))
	binary.BigEndian.PutUint16(id[14:16], uint16(i))
	return "cust_" + strings.ToLower(id.String())
}

// phoneFormat renders a phone as a person would type it.
type phoneFormat struct {
	name   string
	render func(cc, national string) string
}

func group3(s, sep string) string {
	var b strings.Builder
	for len(s) > 4 {
		b.WriteString(s[:3])
		b.WriteString(sep)
		s = s[3:]
	}
	b.WriteString(s)
	return b.String()
}

var allPhoneFormats = []phoneFormat{
	{"e164", func(cc, n string) string { return "+" + cc + n }},
	{"intl-spaced", func(cc, n string) string { return "+" + cc + " " + group3(n, " ") }},
	{"intl-dashed", func(cc, n string) string { return "+" + cc + "-" + group3(n, "-") }},
	{"00-prefix", func(cc, n string) string { return "00" + cc + n }},
	{"digits-only", func(cc, n string) string { return cc + n }},
	// North American national forms, read with the organization's region US.
	{"us-national-parens", func(cc, n string) string {
		if cc != "1" {
			return ""
		}
		return "(" + n[:3] + ") " + n[3:6] + "-" + n[6:]
	}},
	{"us-intl-parens", func(cc, n string) string {
		if cc != "1" {
			return ""
		}
		return "+1 (" + n[:3] + ") " + n[3:6] + "-" + n[6:]
	}},
	{"us-dotted", func(cc, n string) string {
		if cc != "1" {
			return ""
		}
		return n[:3] + "." + n[3:6] + "." + n[6:]
	}},
	{"us-1-dashed", func(cc, n string) string {
		if cc != "1" {
			return ""
		}
		return "1-" + n[:3] + "-" + n[3:6] + "-" + n[6:]
	}},
}

// checkFormats keeps, per country, the phone formats that normalize (as the
// API does, with region) to the stored key on a sample, and learns which
// prefixes give valid numbers. Formats that do not are reported.
func (g *gen) checkFormats(region string, sample int) []string {
	var notes []string
	g.phoneFormats = make([][]phoneFormat, len(countries))
	g.phoneValid = make([]map[string]bool, len(countries))
	for ci := range countries {
		g.phoneValid[ci] = map[string]bool{}
	}
	bad := map[[2]int]int{}
	tried := map[[2]int]int{}
	rng := rand.New(rand.NewPCG(g.seed, 99))
	for range sample {
		p := g.person(rng.IntN(max(g.n, 1000)))
		for fi, f := range allPhoneFormats {
			raw := f.render(countries[p.Country].cc, p.National)
			if raw == "" {
				continue
			}
			key := [2]int{p.Country, fi}
			tried[key]++
			ph, err := dedupe.NormalizePhone(raw, region)
			if err != nil || dedupe.PhoneDigits(ph.Number) != p.PhoneKey {
				bad[key]++
			}
		}
	}
	for ci, k := range countries {
		for fi, f := range allPhoneFormats {
			key := [2]int{ci, fi}
			if tried[key] == 0 {
				continue
			}
			if bad[key] == 0 {
				g.phoneFormats[ci] = append(g.phoneFormats[ci], f)
			} else {
				notes = append(notes, fmt.Sprintf("phone format %s dropped for %s: %d of %d samples normalize to another key",
					f.name, k.region, bad[key], tried[key]))
			}
		}
		for _, prefix := range k.prefixes {
			valid := true
			for s := range 8 {
				sub := strconv.FormatInt(k.lo+(int64(s)*1234567+891)%k.span, 10)
				sub = strings.Repeat("0", max(k.digits-len(sub), 0)) + sub
				ph, err := dedupe.NormalizePhone("+" + k.cc + prefix + sub)
				valid = valid && err == nil && ph.Valid
			}
			g.phoneValid[ci][prefix] = valid
		}
	}
	return notes
}

// phoneVariant renders p's phone in a random verified format.
func (g *gen) phoneVariant(p person, rng *rand.Rand) string {
	fs := g.phoneFormats[p.Country]
	if len(fs) == 0 {
		return p.Phone
	}
	return fs[rng.IntN(len(fs))].render(countries[p.Country].cc, p.National)
}

// valid reports phonenumbers' validity of p's phone (by prefix).
func (g *gen) valid(p person) bool {
	k := countries[p.Country]
	for _, prefix := range k.prefixes {
		if strings.HasPrefix(p.National, prefix) {
			return g.phoneValid[p.Country][prefix]
		}
	}
	return false
}

// emailVariant renders p's email as typed: upper, capitalized, padded…
func emailVariant(email string, rng *rand.Rand) string {
	switch rng.IntN(5) {
	case 0:
		return email
	case 1:
		return strings.ToUpper(email)
	case 2:
		local, domain, _ := strings.Cut(email, "@")
		return strings.ToUpper(local[:1]) + local[1:] + "@" + strings.ToUpper(domain[:1]) + domain[1:]
	case 3:
		b := []byte(email)
		for i := range b {
			if rng.IntN(2) == 0 && b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	default:
		return "  " + email + " "
	}
}

// searchTerm is a 3–6 character piece of a name or email, as typed in a
// search box.
func searchTerm(p person, rng *rand.Rand) string {
	for {
		var s string
		switch rng.IntN(3) {
		case 0:
			s = p.FirstName
		case 1:
			s = p.LastName
		default:
			s, _, _ = strings.Cut(p.Email, "@")
		}
		r := []rune(s)
		n := 3 + rng.IntN(4)
		if len(r) < n {
			continue
		}
		start := rng.IntN(len(r) - n + 1)
		t := strings.TrimSpace(string(r[start : start+n]))
		if len([]rune(t)) >= 3 {
			return t
		}
	}
}

// commonTerm is a 4-letter piece of a first or last name: every name is
// one of 70, so the piece matches 1.4% of the customers or more (issue 24:
// "a 4-letter fragment of a common surname").
func commonTerm(p person, rng *rand.Rand) string {
	for try := 0; ; try++ {
		s := p.LastName
		if rng.IntN(2) == 0 {
			s = p.FirstName
		}
		if try > 1 { // "Ana Li": another customer's name, as common
			s = lastNames[rng.IntN(len(lastNames))]
		}
		// Letters only: a piece across "Al-Saud"'s hyphen or "O'Brien"'s
		// apostrophe is no longer a piece of a common word.
		var words [][]rune
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '\'' }) {
			if r := []rune(w); len(r) >= 4 {
				words = append(words, r)
			}
		}
		if len(words) == 0 {
			continue
		}
		r := words[rng.IntN(len(words))]
		start := rng.IntN(len(r) - 3)
		return string(r[start : start+4])
	}
}

// rareTerm is a piece of an email's local part across the end of the name
// and the start of its number ("ith483"): the name's last three letters
// and the number's first three digits, which a few dozen customers share.
func rareTerm(p person) string {
	local, _, _ := strings.Cut(p.Email, "@")
	i := strings.IndexAny(local, "0123456789")
	return local[i-3 : i+3]
}
