package postgres_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// fuzzyScorerPeople generates org_sc's customers: 1,500 people from common
// and accented names (blocks of the names rule up to its cap), every fourth
// followed by a second record of the same person as merchants get them —
// a nickname or a typo, swapped names, day and month swapped, a numbered or
// mistyped email, the phone's last digits, an abbreviated street, a postcode
// a character off — and some with only a full name, no birthdate or no
// address.
func fuzzyScorerPeople(seed uint64) (customers, addresses [][]any) {
	rng := rand.New(rand.NewPCG(seed, 7))
	firsts := []string{"John", "Jon", "Jonathan", "William", "Bill", "Maria", "María", "Anna", "Ana", "Wei", "Li", "José",
		"Jose", "Mohammed", "Muhammad", "Olga", "Olivia", "Robert", "Bob", "Elizabeth", "Liz", "Søren", "Zoë", "Noah", "Yuki"}
	lasts := []string{"Smith", "Smyth", "Schmidt", "Müller", "Muller", "Li", "Lee", "Chen", "García", "Garcia", "O'Brien",
		"Obrien", "Al-Ghamdi", "Nguyen", "Van der Berg", "Kowalski", "Jansen", "Janssen", "Østergård", "Brown"}
	streets := []string{"Hill Street", "Hill St.", "Park Road", "Oak Avenue", "Maple Drive", "Königstraße", "Rue de la Paix"}
	typo := func(s string) string {
		r := []rune(s)
		if len(r) < 3 {
			return s
		}
		k := 1 + rng.IntN(len(r)-2)
		switch rng.IntN(3) {
		case 0:
			return string(append(r[:k:k], r[k+1:]...))
		case 1:
			r[k-1], r[k] = r[k], r[k-1]
			return string(r)
		}
		r[k] = rune('a' + rng.IntN(26))
		return string(r)
	}
	type person struct{ first, last, email, phone, birth, street, city, postcode, company string }
	var prev person
	for i := range 1500 {
		var p person
		if i%4 == 3 { // a second record of the one before
			p = prev
			switch rng.IntN(6) {
			case 0:
				p.first = typo(p.first)
			case 1:
				p.last = typo(p.last)
			case 2:
				p.first, p.last = p.last, p.first
			case 3:
				if p.birth != "" {
					p.birth = p.birth[:5] + p.birth[8:] + "-" + p.birth[5:7]
					if p.birth[5:7] > "12" {
						p.birth = ""
					}
				}
			case 4:
				p.first = firsts[rng.IntN(len(firsts))]
			}
			switch rng.IntN(4) {
			case 0:
				p.email = typo(p.email)
			case 1:
				p.email = strings.Replace(p.email, "@", fmt.Sprint(rng.IntN(99), "@"), 1)
			case 2:
				p.email = ""
			}
			if rng.IntN(2) == 0 {
				p.phone = p.phone[:len(p.phone)-8] + fmt.Sprint(10000000+rng.IntN(89999999))
			}
			if rng.IntN(3) == 0 {
				p.street = strings.Replace(p.street, "Street", "St", 1)
			}
			if rng.IntN(5) == 0 && p.postcode != "" {
				p.postcode = typo(p.postcode)
			}
		} else {
			p.first, p.last = firsts[rng.IntN(len(firsts))], lasts[rng.IntN(len(lasts))]
			p.email = fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(p.first), strings.ToLower(p.last), rng.IntN(100))
			p.phone = fmt.Sprintf("+4420%08d", rng.IntN(40000))
			if rng.IntN(5) > 0 {
				p.birth = fmt.Sprintf("%d-%02d-%02d", 1950+rng.IntN(50), 1+rng.IntN(12), 1+rng.IntN(28))
			}
			if rng.IntN(4) > 0 {
				city := rng.IntN(12)
				p.street = fmt.Sprintf("%d %s", 1+rng.IntN(60), streets[rng.IntN(len(streets))])
				p.city, p.postcode = fmt.Sprint("City ", city), fmt.Sprint(10000+city*10+rng.IntN(3))
			}
			if rng.IntN(8) == 0 {
				p.company = []string{"Acme", "Acme Ltd", "Globex"}[rng.IntN(3)]
			}
		}
		prev = p
		name := p.first + " " + p.last
		first, last := p.first, p.last
		if i%17 == 5 { // a full name only
			first, last = "", ""
		}
		id := fmt.Sprintf("cust_%05d", i)
		var bd any
		if p.birth != "" {
			bd = p.birth
		}
		customers = append(customers, []any{"org_sc", id, first, last, name, p.email, p.phone, bd, p.company})
		if p.street != "" {
			addresses = append(addresses, []any{"org_sc", "addr_" + id, id, "home", p.street, p.city, "", "US", p.postcode, true})
		}
	}
	return customers, addresses
}

// scoredPairs reads org_sc's fuzzy suggestions as sorted lines, then
// forgets them.
func scoredPairs(t *testing.T, st *postgres.Store) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Pool().Query(ctx, `SELECT customer_a || ' ' || customer_b || ' ' || score::text || ' ' || array_to_string(reasons, '|')
		FROM duplicate_suggestions WHERE organization_id = 'org_sc' AND source = 'fuzzy'`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM duplicate_suggestions WHERE organization_id = 'org_sc'`); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// The incremental scorer suggests what it did before its CPU was cut
// (issue 24): on generated people every candidate pair it compares is
// written (minimum score 0) with its score and reasons, the customers
// scored 25 at a time as new ones are, then again after some were merged
// away and others changed their names and addresses (candidates met
// through stale keys). The digests were taken with the code of main at
// f1a3511 (LINKIT_FUZZY_GOLDEN=1 prints them, and writes the lines to
// $TMPDIR for a diff).
func TestScoreCustomersSameAsBefore(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO organizations (id, name) VALUES ('org_sc', 'Sc')`); err != nil {
		t.Fatal(err)
	}
	customers, addresses := fuzzyScorerPeople(24)
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"organization_id", "id", "first_name",
		"last_name", "name", "email", "phone", "birthdate", "company_name"}, pgx.CopyFromRows(customers)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"customer_addresses"}, []string{"organization_id", "id",
		"customer_id", "label", "address_line1", "city", "state", "country", "postal_code", "is_default"},
		pgx.CopyFromRows(addresses)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range customers {
		ids = append(ids, c[1].(string))
	}
	score := func(ids []string) (compared int) {
		for i := 0; i < len(ids); i += 25 {
			b, err := st.ScoreCustomers(ctx, "org_sc", ids[i:min(i+25, len(ids))], 0)
			if err != nil {
				t.Fatal(err)
			}
			compared += b.Compared
		}
		return compared
	}
	first := score(ids)
	firstPairs := scoredPairs(t, st)
	// Every 20th merged into the one before, every 13th renamed and
	// moved; then every 7th scored again (and the changed ones).
	if _, err := st.Pool().Exec(ctx, `UPDATE customers SET merged_into = 'cust_' || lpad((substr(id, 6)::int - 1)::text, 5, '0')
		WHERE organization_id = 'org_sc' AND substr(id, 6)::int % 20 = 1;
		UPDATE customers SET last_name = last_name || 'e', first_name = upper(first_name)
		WHERE organization_id = 'org_sc' AND substr(id, 6)::int % 13 = 2;
		UPDATE customer_addresses SET address_line1 = '99 ' || address_line1, postal_code = '2' || postal_code
		WHERE organization_id = 'org_sc' AND substr(customer_id, 6)::int % 13 = 2`); err != nil {
		t.Fatal(err)
	}
	var again []string
	for i, id := range ids {
		if i%7 == 0 || i%13 == 2 {
			again = append(again, id)
		}
	}
	second := score(again)
	secondPairs := scoredPairs(t, st)
	digest := func(lines []string) string {
		return fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join(lines, "\n"))))[:16]
	}
	got := fmt.Sprintf("%d compared, %d pairs %s; again: %d compared, %d pairs %s", first, len(firstPairs),
		digest(firstPairs), second, len(secondPairs), digest(secondPairs))
	if os.Getenv("LINKIT_FUZZY_GOLDEN") != "" {
		t.Logf("golden: %s", got)
		_ = os.WriteFile(os.TempDir()+"/fuzzy_scorer_first.txt", []byte(strings.Join(firstPairs, "\n")), 0o644)
		_ = os.WriteFile(os.TempDir()+"/fuzzy_scorer_second.txt", []byte(strings.Join(secondPairs, "\n")), 0o644)
	}
	const want = "8031 compared, 8031 pairs 395a3065441e06f1; again: 2578 compared, 2415 pairs aeaf425b6110ec68"
	if got != want {
		t.Fatalf("scored: %s\nbefore: %s", got, want)
	}
}
