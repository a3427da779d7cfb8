package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/linkittest"
)

// The household set: a labelled check with other corruptions than FEBRL's
// and the benchmark's, generated with its own seed. People live in
// households (same family name and address, other given names and
// birthdates, their own email and phone), some are twins (the same
// birthdate too), and one in five has a second record: a nickname or an
// initial, swapped names, a typo in the family name or the street, an
// abbreviated street, a missing or mistyped birthdate, another email and
// phone or none, sometimes another address.

var hhFirst = []string{"William", "Robert", "Richard", "Elizabeth", "Jennifer", "Michael", "Joseph", "Thomas",
	"Daniel", "James", "Patricia", "Susan", "Margaret", "Katherine", "Christopher", "Anthony", "Matthew", "Andrew",
	"Rebecca", "Samantha", "Benjamin", "Alexander", "Nicholas", "Victoria", "Olivia", "Sophia", "Emma", "Isabella",
	"Lucas", "Ethan", "Mia", "Noah", "Aisha", "Fatima", "Omar", "Priya", "Arjun", "Wei", "Mei", "Hiroshi", "Yuki",
	"Ivan", "Olga", "Mateo", "Lucia", "Kwame", "Amara", "Chloe", "Hugo", "Ana"}

var hhNicknames = map[string]string{"William": "Bill", "Robert": "Bob", "Richard": "Rick", "Elizabeth": "Beth",
	"Jennifer": "Jenny", "Michael": "Mike", "Joseph": "Joe", "Thomas": "Tom", "Daniel": "Danny", "James": "Jim",
	"Patricia": "Trish", "Susan": "Sue", "Margaret": "Peggy", "Katherine": "Kate", "Christopher": "Chris",
	"Anthony": "Tony", "Matthew": "Matt", "Andrew": "Drew", "Rebecca": "Becky", "Samantha": "Sam",
	"Benjamin": "Ben", "Alexander": "Alex", "Nicholas": "Nick", "Victoria": "Vicky"}

var hhLast = []string{"Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Taylor", "Thomas",
	"Moore", "Jackson", "Martin", "Lee", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker",
	"Adams", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
	"Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson",
	"Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood"}

var hhStreets = []string{"Oak", "Maple", "Cedar", "Elm", "Pine", "Birch", "Willow", "Aspen", "Spruce", "Hickory",
	"Sycamore", "Magnolia", "Juniper", "Laurel", "Hawthorn", "Chestnut", "Poplar", "Alder", "Linden", "Rowan"}

var hhStreetTypes = [][2]string{{"Street", "St"}, {"Avenue", "Ave"}, {"Road", "Rd"}, {"Drive", "Dr"}, {"Lane", "Ln"}}

type hhRecord struct {
	person                                            int
	first, last, birth, street, city, postcode, email string
	phone                                             string
}

type hhSet struct {
	records    []hhRecord
	households [][2]int // pairs of records: members of one household, different people
	twins      [][2]int // pairs of records: twins, different people
}

// householdSet generates about n records.
func householdSet(seed uint64, n int) hhSet {
	rng := rand.New(rand.NewPCG(seed, 0x40))
	var s hhSet
	typo := func(w string) string {
		if len(w) < 4 {
			return w
		}
		k := 1 + rng.IntN(len(w)-2)
		b := []byte(w)
		switch rng.IntN(3) {
		case 0:
			return w[:k] + w[k+1:]
		case 1:
			b[k], b[k+1] = b[k+1], b[k]
		default:
			b[k] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	address := func() (street, city, postcode string) {
		t := hhStreetTypes[rng.IntN(len(hhStreetTypes))]
		c := rng.IntN(40)
		return fmt.Sprintf("%d %s %s", 1+rng.IntN(300), hhStreets[rng.IntN(len(hhStreets))], t[0]),
			fmt.Sprintf("Town %d", c), fmt.Sprintf("%05d", 30000+c*10+rng.IntN(10))
	}
	person := 0
	newPerson := func(last, street, city, postcode, birth string) hhRecord {
		person++
		if birth == "" {
			birth = time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(60*365)).Format("2006-01-02")
		}
		first := hhFirst[rng.IntN(len(hhFirst))]
		return hhRecord{person: person, first: first, last: last, birth: birth, street: street, city: city,
			postcode: postcode, email: fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first), strings.ToLower(last), person),
			phone: fmt.Sprintf("+1415%03d%04d", 200+person/10000, person%10000)}
	}
	for len(s.records) < n {
		last := hhLast[rng.IntN(len(hhLast))]
		street, city, postcode := address()
		start := len(s.records)
		members := 1
		if rng.IntN(10) < 4 { // a household of 2 to 4
			members = 2 + rng.IntN(3)
		}
		given := map[string]bool{} // a family's given names differ
		add := func(birth string) {
			r := newPerson(last, street, city, postcode, birth)
			for given[r.first] {
				r.first = hhFirst[rng.IntN(len(hhFirst))]
			}
			given[r.first] = true
			s.records = append(s.records, r)
		}
		for range members {
			add("")
		}
		if rng.IntN(100) == 0 { // twins: the same birthdate too
			add(s.records[start].birth)
			s.twins = append(s.twins, [2]int{start, len(s.records) - 1})
		}
		for i := start; i < len(s.records); i++ {
			for j := i + 1; j < len(s.records); j++ {
				if s.records[i].birth != s.records[j].birth {
					s.households = append(s.households, [2]int{i, j})
				}
			}
		}
	}
	// Second records of one person in five.
	originals := len(s.records)
	for i := range originals {
		if rng.IntN(5) != 0 {
			continue
		}
		r := s.records[i]
		switch x := rng.IntN(10); {
		case x < 3:
			if nick, ok := hhNicknames[r.first]; ok {
				r.first = nick
			}
		case x < 4:
			r.first = r.first[:1]
		case x < 5:
			r.first, r.last = r.last, r.first
		case x < 6:
			r.first = typo(r.first)
		}
		if rng.IntN(4) == 0 {
			r.last = typo(r.last)
		}
		switch x := rng.IntN(10); {
		case x < 2:
			r.birth = ""
		case x < 3: // a digit of the day mistyped
			r.birth = r.birth[:9] + fmt.Sprint(rng.IntN(10))
			if _, err := time.Parse("2006-01-02", r.birth); err != nil {
				r.birth = ""
			}
		}
		switch x := rng.IntN(10); {
		case x < 1: // moved
			r.street, r.city, r.postcode = address()
		case x < 4:
			for _, t := range hhStreetTypes {
				r.street = strings.Replace(r.street, t[0], t[1], 1)
			}
		case x < 6:
			num, rest, _ := strings.Cut(r.street, " ")
			r.street = num + " " + typo(rest)
		}
		r.email = ""
		if rng.IntN(2) == 0 {
			r.email = fmt.Sprintf("%s%d@example.org", strings.ToLower(r.first), 500000+i)
		}
		r.phone = ""
		if rng.IntN(3) == 0 {
			r.phone = fmt.Sprintf("+1628%03d%04d", 500+i/10000, i%10000)
		}
		s.records = append(s.records, r)
	}
	return s
}

// TestFuzzyHouseholds measures the suggestions on the household set
// (about 2,000 records: customers imported with their truth in the
// external id, then a scan), and pins its quality: pair precision and
// recall at least 0.95, and members of one household — same family name
// and address, other given names and birthdates — never suggested.
func TestFuzzyHouseholds(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	set := householdSet(7, 2000)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"Customer ID", "First Name", "Last Name", "Address", "City", "Postcode", "Country",
		"Date of Birth", "Email", "Phone"})
	truth := map[string]string{}
	for i, r := range set.records {
		ext := fmt.Sprintf("rec-hh%d", i)
		truth[ext] = fmt.Sprint(r.person)
		_ = w.Write([]string{ext, r.first, r.last, r.street, r.city, r.postcode, "US", r.birth, r.email, r.phone})
	}
	w.Flush()
	imp := s.ImportCSV("/api/v1/imports?default_region=US", buf.Bytes())
	if imp["status"] != "completed" {
		t.Fatalf("import: %v", imp)
	}
	res := scan(t, s.Client)
	person := febrlPeople(t, s, s.Org, truth)
	idOf := externalIDs(t, s, s.Org)
	sizes := map[string]int{}
	for _, p := range person {
		sizes[p]++
	}
	truePairs := 0
	for _, n := range sizes {
		truePairs += n * (n - 1) / 2
	}
	key := func(a, b string) string {
		if a > b {
			a, b = b, a
		}
		return a + "|" + b
	}
	household, twins := map[string]bool{}, map[string]bool{}
	for _, p := range set.households {
		household[key(idOf[fmt.Sprintf("rec-hh%d", p[0])], idOf[fmt.Sprintf("rec-hh%d", p[1])])] = true
	}
	for _, p := range set.twins {
		twins[key(idOf[fmt.Sprintf("rec-hh%d", p[0])], idOf[fmt.Sprintf("rec-hh%d", p[1])])] = true
	}
	var suggested, correct, householdHits, twinHits int
	for _, p := range fuzzyPairs(t, s, s.Org) {
		if p.score < dedupe.DefaultMinScore {
			continue
		}
		suggested++
		switch {
		case person[p.a] != "" && person[p.a] == person[p.b]:
			correct++
		case household[key(p.a, p.b)]:
			householdHits++
			t.Logf("household member suggested: %+v", p)
		case twins[key(p.a, p.b)]:
			twinHits++
		}
	}
	precision := float64(correct) / float64(max(suggested, 1))
	recall := float64(correct) / float64(max(truePairs, 1))
	t.Logf("households: %d customers, %d candidate pairs, %d true pairs, %d household pairs, %d twin pairs; "+
		"%d suggested, precision %.3f, recall %.3f; household pairs suggested %d, twins %d (lambda %.3g)",
		len(person), int(res["candidate_pairs"].(float64)), truePairs, len(household), len(twins), suggested,
		precision, recall, householdHits, twinHits, res["model_lambda"])
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f, recall %.3f: want both ≥ 0.95", precision, recall)
	}
	if householdHits > 0 {
		t.Errorf("%d household pairs suggested, want none", householdHits)
	}
}

// externalIDs maps each external id of the organization to its customer.
func externalIDs(t *testing.T, s *linkittest.Stack, orgID string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT value, customer_id FROM customer_identities
		WHERE organization_id = $1 AND kind = 'external'`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var value, id string
	if _, err := pgx.ForEachRow(rows, []any{&value, &id}, func() error {
		out[value[max(strings.Index(value, "rec-"), 0):]] = id
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
