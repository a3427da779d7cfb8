package api_test

import (
	"context"
	"fmt"
	"testing"
)

// A small organization's searches read its own customers only: once its
// sample says it is smaller than a first walk, a term common or rare is
// walked and counted along its own rows, never probed by the trigram
// index, which is one for all organizations (there, a large
// organization's 4,000 "outlook" customers would be fetched and filtered
// out of every small one's search for "outlook"). Pages and totals are
// exact, and no other organization's customer is among them.
func TestSearchSmallOrganizationReadsItsOwnRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.store.Pool().Exec(ctx, `
		INSERT INTO organizations (id, name) VALUES ('org_large', 'Large');
		INSERT INTO customers (organization_id, id, first_name, last_name, name, email, status, created)
		SELECT 'org_large', 'cust_l' || lpad(i::text, 5, '0'), 'F', 'L', 'Zanzibar ' || i, 'l' || i || '@outlook.com',
			'active', now() - i * interval '1 second'
		FROM generate_series(1, 4000) i`); err != nil {
		t.Fatal(err)
	}
	// 40 customers: 25 at outlook.com (more than a page), 3 named Zanzibar.
	if _, err := e.store.Pool().Exec(ctx, `
		INSERT INTO customers (organization_id, id, first_name, last_name, name, email, status, created)
		SELECT $1, 'cust_m' || lpad(i::text, 3, '0'), 'F', 'L', CASE WHEN i % 13 = 0 THEN 'Zanzibar ' ELSE 'Name ' END || i,
			CASE WHEN i <= 25 THEN 'm' || i || '@outlook.com' ELSE 'm' || i || '@example.com' END,
			CASE WHEN i % 2 = 0 THEN 'active' ELSE 'inactive' END, $2::timestamptz - i * interval '1 minute'
		FROM generate_series(1, 40) i`, e.org, searchBase); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Pool().Exec(ctx, `ANALYZE customers`); err != nil {
		t.Fatal(err)
	}
	ids := func(pred func(i int) bool) []string {
		var out []string
		for i := 1; i <= 40; i++ { // newest first
			if pred(i) {
				out = append(out, fmt.Sprintf("cust_m%03d", i))
			}
		}
		return out
	}
	page := func(query string, all []string, p, limit int) {
		t.Helper()
		e.exactPage(t, query, all, p, limit)
	}
	outlook := ids(func(i int) bool { return i <= 25 })
	zanzibar := ids(func(i int) bool { return i%13 == 0 })
	page("search=outlook", outlook, 1, 20) // loads the sample
	c := &searchCorpus{e: e}
	c.waitSample(t)
	before := c.settledScans(t, nil)["customers_search"]
	for p := 1; p <= 3; p++ {
		page("search=outlook", outlook, p, 20)
		page("search=zanzibar", zanzibar, p, 2)
	}
	page("search=outlook&status=active", ids(func(i int) bool { return i <= 25 && i%2 == 0 }), 1, 5)
	page("search=zanzibar&sort=name", []string{"cust_m013", "cust_m026", "cust_m039"}, 1, 20)
	if got := c.settledScans(t, nil)["customers_search"] - before; got != 0 {
		t.Fatalf("customers_search scanned %d times for a small organization's searches, want 0", got)
	}
}

// An organization that grew past the trigram probe's cap since its sample
// said it was small (within the sample's 30 s) is still searched along its
// own rows: its matches, more than the cap, are walked for the page and
// counted exactly.
func TestSearchSmallOrganizationThatGrew(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	insert := func(from, to int) {
		t.Helper()
		if _, err := e.store.Pool().Exec(ctx, `
			INSERT INTO customers (organization_id, id, first_name, last_name, name, status, created)
			SELECT $1, 'cust_g' || lpad(i::text, 5, '0'), 'F', 'L', 'Grower ' || i, 'active', $2::timestamptz - i * interval '1 minute'
			FROM generate_series($3::int, $4::int) i`, e.org, searchBase, from, to); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("cust_g%05d", i+1)
		}
		return out
	}
	insert(1, 10)
	e.exactPage(t, "search=grower", ids(10), 1, 20) // loads the sample: 10 customers
	(&searchCorpus{e: e}).waitSample(t)
	insert(11, 3510)
	if _, err := e.store.Pool().Exec(ctx, `ANALYZE customers`); err != nil {
		t.Fatal(err)
	}
	all := ids(3510)
	for p := 1; p <= 2; p++ {
		e.exactPage(t, "search=grower", all, p, 20)
	}
	e.exactPage(t, "search=grower%203509", []string{"cust_g03509"}, 1, 20)
}
