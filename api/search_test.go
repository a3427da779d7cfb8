package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The search picks its plan by the number of trigram-index candidates:
// up to probeCap (postgres.searchProbeCap) it fetches and sorts them, and
// the total is exact; beyond, it walks the sort order and the total is an
// estimate, marked so, unless counting is cheap. A corpus of searchRows
// customers exercises every plan.
const (
	searchRows = 15000
	probeCap   = 3000
)

// searchBase is when customer 0 would have been created; customer i was
// created i minutes before (customer 1 is the newest).
var searchBase = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// searchWords are the company-name words of the corpus: customer i has
// the words whose predicate holds for i.
var searchWords = []struct {
	word string
	in   func(i int) bool
}{
	{"Rarebird", func(i int) bool { return slices.Contains([]int{3, 50, 700, 1500, 2999, 4000, 9999}, i) }},
	{"Commonwealth", func(i int) bool { return i%2 == 0 }},                  // 7,500
	{"Everyman", func(i int) bool { return i%10 != 0 }},                     // 13,500: too many to count
	{"Capstone", func(i int) bool { return i%5 == 1 }},                      // the cap
	{"Overcap", func(i int) bool { return i%5 == 1 || i == 3 }},             // the cap + 1
	{"Oldtimer", func(i int) bool { return i > searchRows-3100 }},           // 3,100 at the far end of the walk
	{"Dotted", func(i int) bool { return i%500 == 7 || i%500 == 8 }},        // 60, with "dot.ted" or "dot_ted" emails
	{"Taggable", func(i int) bool { return i%4 == 0 && i >= searchRows/2 }}, // 1,875, the older half
}

// searchName is customer i's name: a permutation of 0..searchRows-1.
func searchName(i int) string { return fmt.Sprintf("n%d", (i*7919)%searchRows) }

func searchID(i int) string { return fmt.Sprintf("cust_s%05d", i) }

// searchCorpus is an organization of searchRows customers, loaded by SQL.
type searchCorpus struct {
	e  *env
	in map[string]func(i int) bool // lower-case word → its customers
}

func newSearchCorpus(t *testing.T) *searchCorpus {
	t.Helper()
	e := newEnv(t)
	c := &searchCorpus{e: e, in: map[string]func(int) bool{}}
	for _, w := range searchWords {
		c.in[strings.ToLower(w.word)] = w.in
	}
	var companies, emails, statuses []string
	for i := 1; i <= searchRows; i++ {
		var words []string
		for _, w := range searchWords {
			if w.in(i) {
				words = append(words, w.word)
			}
		}
		companies = append(companies, strings.Join(words, " "))
		switch i % 500 {
		case 7:
			emails = append(emails, fmt.Sprintf("dot.ted%d@example.com", i))
		case 8:
			emails = append(emails, fmt.Sprintf("dot_ted%d@example.com", i))
		default:
			emails = append(emails, "")
		}
		statuses = append(statuses, map[bool]string{true: "inactive", false: "active"}[i%3 == 0])
	}
	names := make([]string, searchRows)
	for i := range names {
		names[i] = searchName(i + 1)
	}
	_, err := e.store.Pool().Exec(context.Background(), `
		INSERT INTO customers (organization_id, id, first_name, last_name, name, company_name, email, status, created)
		SELECT $1, 'cust_s' || lpad(i::text, 5, '0'), 'F', 'L', name, company, email, status,
			$2::timestamptz - i * interval '1 minute'
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(name, company, email, status, i)`,
		e.org, searchBase, names, companies, emails, statuses)
	if err == nil {
		_, err = e.store.Pool().Exec(context.Background(), `ANALYZE customers`)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// want lists the ids of the customers matching pred in the order sort asks.
func (c *searchCorpus) want(sort string, pred func(i int) bool) []string {
	var is []int
	for i := 1; i <= searchRows; i++ {
		if pred(i) {
			is = append(is, i)
		}
	}
	switch sort {
	case "", "-created": // newest first: i ascending
	case "created":
		slices.Reverse(is)
	case "name", "-name":
		slices.SortFunc(is, func(a, b int) int {
			if d := strings.Compare(searchName(a), searchName(b)); d != 0 {
				return d
			}
			return strings.Compare(searchID(a), searchID(b))
		})
		if sort == "-name" {
			slices.Reverse(is)
		}
	}
	ids := make([]string, len(is))
	for k, i := range is {
		ids[k] = searchID(i)
	}
	return ids
}

// page fetches one page of GET /customers?query and checks it against all,
// every match in order: its ids and hasMore exactly, and its total. That
// is exact when the search's term has at most the cap of candidates (the
// customers it matches before other filters) and three characters in a
// row; otherwise it is exact or marked estimated (and then above what the
// page has seen, with more to come).
func (c *searchCorpus) page(t *testing.T, query string, all []string, page, limit int) response {
	t.Helper()
	res := c.e.do("GET", fmt.Sprintf("/api/v1/customers?%s&page=%d&limit=%d", query, page, limit), nil).want(t, http.StatusOK)
	var got []string
	for _, it := range res.list() {
		got = append(got, str(it["id"]))
	}
	from, to := min((page-1)*limit, len(all)), min(page*limit, len(all))
	if want := all[from:to]; !slices.Equal(got, want) {
		t.Fatalf("%s page %d: ids\n got %v\nwant %v", query, page, got, want)
	}
	m := res.meta()
	if m["hasMore"] != (to < len(all)) {
		t.Fatalf("%s page %d: hasMore %v, want %v", query, page, m["hasMore"], to < len(all))
	}
	total, _ := m["total"].(float64)
	estimated, present := m["total_estimated"].(bool)
	switch {
	case present && (!estimated || m["hasMore"] != true || int(total) <= to):
		t.Fatalf("%s page %d: estimated total %v seen %d, meta %v", query, page, total, to, m)
	case !estimated && int(total) != len(all):
		t.Fatalf("%s page %d: total %v not estimated, want %d", query, page, total, len(all))
	case estimated && c.candidates(query, len(all)) <= probeCap:
		t.Fatalf("%s page %d: total %v estimated, want exactly %d", query, page, total, len(all))
	}
	return res
}

// candidates is how many customers the term of query matches before the
// other filters (matches, those of the query); more than the cap when the
// term has no three characters in a row.
func (c *searchCorpus) candidates(query string, matches int) int {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	term := strings.ToLower(q.Get("search"))
	run, trigram := 0, false
	for _, r := range term {
		if run++; !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" .@-_'", r) {
			run = 0
		}
		trigram = trigram || run >= 3
	}
	if !trigram {
		return probeCap + 1
	}
	if in := c.in[term]; in != nil {
		n := 0
		for i := 1; i <= searchRows; i++ {
			if in(i) {
				n++
			}
		}
		return n
	}
	return matches // no other filter
}

func TestSearchRareTermExact(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	all := c.want("", c.in["rarebird"])
	for p := 1; p <= 4; p++ {
		c.page(t, "search=Rarebird", all, p, 3)
	}
	// Up to the cap every total is exact, at any page, past the end too.
	all = c.want("", c.in["capstone"])
	for _, p := range []int{1, 2, 149, 150, 151} {
		c.page(t, "search=capstone", all, p, 20)
	}
	c.page(t, "search=CAPSTONE", all, 3, 100)
	c.page(t, "search=zyzzyva", nil, 1, 20)
	c.page(t, "search=zyzzyva", nil, 3, 20)
	// A term without a trigram (two characters) is walked: names n1, n1x,
	// n1xx, n1xxx and n1xxxx.
	n1 := func(i int) bool { return strings.HasPrefix(searchName(i), "n1") }
	c.page(t, "search=n1", c.want("", n1), 2, 20)
}

func TestSearchCommonTermEstimated(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	for _, term := range []string{"everyman", "commonwealth", "overcap", "oldtimer"} {
		all := c.want("", c.in[term])
		for _, p := range []int{1, 2, 3} {
			res := c.page(t, "search="+term, all, p, 20)
			if res.meta()["total_estimated"] != true {
				t.Fatalf("%s page %d: %d matches, total not marked estimated: %v", term, p, len(all), res.meta())
			}
		}
		// The last page knows the total; past the end it is counted.
		last := (len(all) + 99) / 100
		for _, p := range []int{last, last + 1} {
			res := c.page(t, "search="+term, all, p, 100)
			if res.meta()["total"] != float64(len(all)) || res.meta()["total_estimated"] != nil {
				t.Fatalf("%s page %d of %d: meta %v, want the exact total %d", term, p, last, res.meta(), len(all))
			}
		}
	}
	// Page 150 of 20 ends at the cap, the last match is one further.
	c.page(t, "search=overcap", c.want("", c.in["overcap"]), 150, 20)
}

func TestSearchSorts(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	for _, term := range []string{"rarebird", "capstone", "commonwealth", "everyman", "oldtimer"} {
		for _, sort := range []string{"created", "-created", "name", "-name"} {
			all := c.want(sort, c.in[term])
			for _, p := range []int{1, 2} {
				c.page(t, "search="+term+"&sort="+sort, all, p, 7)
			}
		}
	}
}

func TestSearchWithFilters(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	with := func(term string, pred func(i int) bool) func(int) bool {
		return func(i int) bool { return c.in[term](i) && pred(i) }
	}
	inactive := func(i int) bool { return i%3 == 0 }
	active := func(i int) bool { return i%3 != 0 }
	// A status narrows a common term down; far below the cap, it is counted.
	c.page(t, "search=commonwealth&status=inactive", c.want("", with("commonwealth", inactive)), 1, 20)
	c.page(t, "search=commonwealth&status=inactive&sort=name", c.want("name", with("commonwealth", inactive)), 3, 20)
	c.page(t, "search=rarebird&status=inactive", c.want("", with("rarebird", inactive)), 1, 20)
	c.page(t, "search=commonwealth&status=active,pending", c.want("", with("commonwealth", active)), 2, 20)

	// A creation window (both ends inclusive): customers 1000..1999.
	window := func(i int) bool { return i >= 1000 && i <= 1999 }
	at := func(i int, d time.Duration) string {
		return url.QueryEscape(searchBase.Add(d - time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	q := "created_from=" + at(1999, 0) + "&created_to=" + at(1000, 30*time.Second)
	c.page(t, "search=everyman&"+q, c.want("", with("everyman", window)), 2, 20)
	// Few matches of a common term, or of a term without trigrams in a
	// small organization: counted.
	res := c.page(t, "search=commonwealth&"+q, c.want("", with("commonwealth", window)), 2, 20)
	if res.meta()["total_estimated"] != nil {
		t.Fatalf("500 matches out of 7,500 candidates: the total is counted: %v", res.meta())
	}
	n1 := func(i int) bool { return strings.HasPrefix(searchName(i), "n1") }
	res = c.page(t, "search=n1&"+q, c.want("", func(i int) bool { return n1(i) && window(i) }), 1, 20)
	if res.meta()["total_estimated"] != nil {
		t.Fatalf("a term without trigrams in 1,000 customers: the total is counted: %v", res.meta())
	}
	c.page(t, "search=rarebird&"+q+"&sort=name", c.want("name", with("rarebird", window)), 1, 20)

	// A tag, on a quarter of the commonwealth customers, all of them in
	// the older half (past the first walk).
	var ids []string
	for i := 1; i <= searchRows; i++ {
		if c.in["taggable"](i) {
			ids = append(ids, searchID(i))
		}
	}
	if _, err := c.e.store.Pool().Exec(context.Background(), `
		INSERT INTO customer_tags (organization_id, customer_id, location_id, tag)
		SELECT $1, id, '', 'VIP' FROM unnest($2::text[]) id`, c.e.org, ids); err != nil {
		t.Fatal(err)
	}
	c.page(t, "search=commonwealth&tag=vip", c.want("", c.in["taggable"]), 3, 20)
	c.page(t, "search=everyman&tag=VIP&sort=-name", c.want("-name", with("everyman", c.in["taggable"])), 1, 20)

	// Separators and LIKE's own characters are matched literally.
	dotted := func(sep string) func(int) bool {
		return func(i int) bool { return c.in["dotted"](i) && (i%500 == 7) == (sep == ".") }
	}
	c.page(t, "search="+url.QueryEscape("t.te"), c.want("", dotted(".")), 1, 5)
	c.page(t, "search="+url.QueryEscape("T_TED"), c.want("", dotted("_")), 2, 5)
	c.page(t, "search="+url.QueryEscape("t%te"), nil, 1, 5)
	c.page(t, "search="+url.QueryEscape("ted7@"), c.want("", func(i int) bool { return i == 7 }), 1, 5)

	// The body form takes the same path.
	res = c.e.do("POST", "/api/v1/customers/search", map[string]any{
		"query": "Commonwealth", "status": []string{"active"}, "page": 2, "limit": 10,
	}).want(t, http.StatusOK)
	want := c.want("", with("commonwealth", active))[10:20]
	var got []string
	for _, it := range res.list() {
		got = append(got, str(it["id"]))
	}
	if !slices.Equal(got, want) || res.meta()["total_estimated"] != true || res.meta()["hasMore"] != true {
		t.Fatalf("search body: ids %v, want %v; meta %v", got, want, res.meta())
	}
}

// Another organization's customers never show, whichever plan runs.
func TestSearchTenantIsolation(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	_, key := c.e.newOrg("Other", "")
	for _, term := range []string{"rarebird", "capstone", "everyman", "oldtimer", "n1"} {
		res := c.e.doKey(key, "GET", "/api/v1/customers?search="+term, nil).want(t, http.StatusOK)
		if len(res.list()) != 0 || res.meta()["total"] != float64(0) || res.meta()["total_estimated"] != nil {
			t.Fatalf("%s in another organization: %s", term, res.Raw)
		}
	}
}

// A checkout's upsert or an API write never merges the trigram index's
// pending list into the index — seconds of work once an import has filled
// it — whatever its length: import chunks and the workers' flush do
// (migration 00019). What is pending is still searched.
func TestWritesLeaveSearchPendingList(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{reconcile: time.Hour}) // no periodic flush during the test
	ctx := context.Background()
	// ~22 MB pending, as an import leaves it: past PostgreSQL's default
	// limit (4 MB) and the index's former one (16 MB).
	tx, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SET LOCAL gin_pending_list_limit = '1GB'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO customers (organization_id, id, first_name, last_name, name, email, company_name)
		SELECT $1, 'cust_p' || i, 'Pending', 'Row' || i, 'Pending Row' || i, 'pending.row' || i || '@example.com', 'Backlog Trading ' || i
		FROM generate_series(1, 20000) i`, e.org); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "checkout@example.com", "first_name": "Quinta",
		"last_name": "Checkout"}).want(t, http.StatusCreated)
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Quintus", "last_name": "Counter",
		"email": "counter@example.com"}).want(t, http.StatusCreated)
	for _, q := range []string{"quinta", "quintus", "row19999"} {
		if got := e.do("GET", "/api/v1/customers?search="+q, nil).want(t, http.StatusOK).list(); len(got) != 1 {
			t.Errorf("search %q: %d customers, want 1", q, len(got))
		}
	}
	var pages int64
	if err := e.store.Pool().QueryRow(ctx, `SELECT gin_clean_pending_list('customers_search'::regclass)`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages < 16<<20/8192 {
		t.Fatalf("the flush merged %d pending pages: a request merged the list", pages)
	}
}

// Paging through a search by meta.next_cursor (sort=updated) sees every
// match exactly once, whichever plan serves the term, while customers
// matching it are created between the pages: those come after the cursor
// and are seen once too.
func TestSearchCursorSeesEveryMatchOnce(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	for _, tc := range []struct {
		term  string
		limit int
	}{{"rarebird", 2}, {"taggable", 100}, {"commonwealth", 100}} {
		want := map[string]int{}
		for _, id := range c.want("", c.in[tc.term]) {
			want[id] = 0
		}
		seen := map[string]int{}
		path := fmt.Sprintf("/api/v1/customers?search=%s&sort=updated&limit=%d", tc.term, tc.limit)
		for pages := 0; ; pages++ {
			if pages > len(want)/tc.limit+10 {
				t.Fatalf("%s: %d pages and no end", tc.term, pages)
			}
			res := c.e.do("GET", path, nil).want(t, http.StatusOK)
			for _, it := range res.list() {
				seen[str(it["id"])]++
			}
			if pages < 3 { // a newcomer, after every cursor so far
				id := str(c.e.do("POST", "/api/v1/customers", map[string]any{"first_name": "New", "last_name": "Comer",
					"email": fmt.Sprintf("%s.%d@example.com", tc.term, pages), "company_name": tc.term + " Ltd"}).
					want(t, http.StatusCreated).data()["id"])
				want[id] = 0
			}
			m := res.meta()
			next := str(m["next_cursor"])
			if m["hasMore"] != (next != "") {
				t.Fatalf("%s: hasMore %v with next_cursor %q", tc.term, m["hasMore"], next)
			}
			if next == "" {
				break
			}
			path = fmt.Sprintf("/api/v1/customers?search=%s&limit=%d&cursor=%s", tc.term, tc.limit, url.QueryEscape(next))
		}
		for id, n := range seen {
			if _, ok := want[id]; !ok || n != 1 {
				t.Errorf("%s: %s seen %d times (a match: %v)", tc.term, id, n, ok)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: saw %d of the %d matches", tc.term, len(seen), len(want))
		}
	}
}

// A common term's page is served by the walk alone: its total is an
// estimate, marked so, and the trigram index is not asked how many
// candidates it has (that costs a common term more than the page at a
// million customers). A rare term's page, exact, is one scan of it.
func TestSearchCommonTermSkipsTheTrigramIndex(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	before := c.settledScans(t, nil)["customers_search"]
	for _, term := range []string{"commonwealth", "everyman"} {
		res := c.page(t, "search="+term, c.want("", c.in[term]), 1, 20)
		if m := res.meta(); m["total_estimated"] != true {
			t.Fatalf("%s: meta %v, want an estimated total", term, m)
		}
	}
	c.page(t, "search=rarebird", c.want("", c.in["rarebird"]), 1, 20)
	if got := c.settledScans(t, map[string]int64{"customers_search": before + 1})["customers_search"]; got != before+1 {
		t.Fatalf("customers_search scanned %d times for two common terms and a rare one, want 1 (the rare one)", got-before)
	}
}

// A rare term in the search box (newest first, no other filter) is
// fetched by the trigram index without walking the newest customers
// first, once the organization's sample is loaded (by the first search);
// its pages stay exact.
func TestSearchRareTermSkipsTheWalk(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	all := c.want("", c.in["rarebird"])
	c.page(t, "search=rarebird", all, 1, 20)
	c.waitSample(t) // the sample loads apart from the search
	before := c.settledScans(t, nil)
	for p := 1; p <= 3; p++ {
		c.page(t, "search=rarebird", all, p, 3)
	}
	// A common term still walks.
	c.page(t, "search=commonwealth", c.want("", c.in["commonwealth"]), 1, 20)
	after := c.settledScans(t, map[string]int64{"customers_search": before["customers_search"] + 3,
		"customers_created": before["customers_created"] + 1})
	if got := after["customers_search"] - before["customers_search"]; got != 3 {
		t.Fatalf("customers_search scanned %d times for three pages of a rare term and a common one, want 3", got)
	}
	if got := after["customers_created"] - before["customers_created"]; got != 1 {
		t.Fatalf("customers_created scanned %d times for three pages of a rare term and a common one, want 1 (the common one)", got)
	}
}

// settledScans is how many times each search index was scanned, once the
// backends' counts settled: they report them when idle, at most once a
// second and at least every 10 seconds; it waits for at least min's.
// waitSample waits for the organization's search sample, which the first
// search starts loading apart (a fixed second was not always enough on a
// loaded machine).
func (c *searchCorpus) waitSample(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !c.e.store.SearchSampleLoaded(c.e.org); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the organization's search sample did not load")
		}
	}
}

func (c *searchCorpus) settledScans(t *testing.T, min map[string]int64) map[string]int64 {
	t.Helper()
	scans := func() map[string]int64 {
		n := map[string]int64{}
		rows, err := c.e.store.Pool().Query(context.Background(), `SELECT indexrelname, idx_scan FROM pg_stat_user_indexes
			WHERE indexrelname IN ('customers_search', 'customers_created')`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var k int64
			if err := rows.Scan(&name, &k); err != nil {
				t.Fatal(err)
			}
			n[name] = k
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	reached := func(n map[string]int64) bool {
		for name, k := range min {
			if n[name] < k {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(15 * time.Second)
	for n := scans(); ; n = scans() {
		if reached(n) && time.Now().After(deadline.Add(-4*time.Second)) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Once the organization's sample is loaded, a common term's walk takes
// its position from the sample instead of numbering the walked rows: its
// pages stay exact, its total an estimate near the true count, marked so,
// and the trigram index is not asked. A deep page that the first walk
// would not reach is walked to at once.
func TestSearchSampleGuidesTheWalk(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	all := c.want("", c.in["commonwealth"]) // 7,500, every other customer
	c.page(t, "search=commonwealth", all, 1, 20)
	c.waitSample(t) // the sample loads apart from the search
	before := c.settledScans(t, nil)
	for _, p := range []struct{ page, limit int }{{1, 20}, {2, 20}, {3, 7}, {20, 100}} {
		res := c.page(t, "search=commonwealth", all, p.page, p.limit)
		m := res.meta()
		if total, _ := m["total"].(float64); m["total_estimated"] != true || total < 6000 || total > 9000 {
			t.Fatalf("page %d of %d: meta %v, want an estimated total near %d", p.page, p.limit, m, len(all))
		}
	}
	after := c.settledScans(t, map[string]int64{"customers_created": before["customers_created"] + 4})
	if got := after["customers_search"] - before["customers_search"]; got != 0 {
		t.Fatalf("customers_search scanned %d times for four pages of a common term, want 0", got)
	}
	if got := after["customers_created"] - before["customers_created"]; got != 4 {
		t.Fatalf("customers_created scanned %d times for four pages, want 4 (one walk each)", got)
	}
}

// A search page shows its customers' tags and aliases whichever plan
// serves it (the rare term's probe, the common term's sample-guided walk,
// a first walk): read per row only once the organization has any, they
// appear from the first one on (a bare page's guard sees it), only on
// their own customers, and leave with the last one.
func TestSearchPageCarriesRelations(t *testing.T) {
	t.Parallel()
	c := newSearchCorpus(t)
	ctx := context.Background()
	rels := func(res response) map[string]string {
		m := map[string]string{}
		for _, it := range res.list() {
			m[str(it["id"])] = fmt.Sprint(it["tags"], it["aliases"])
		}
		return m
	}
	none := fmt.Sprint([]any{}, []any{})
	check := func(stage string, want map[string]string) {
		t.Helper()
		for _, q := range []string{"rarebird", "commonwealth"} {
			res := c.page(t, "search="+q, c.want("", c.in[q]), 1, 20)
			for id, got := range rels(res) {
				w, ok := want[id]
				if !ok {
					w = none
				}
				if got != w {
					t.Fatalf("%s, search=%s: customer %s shows tags and aliases %s, want %s", stage, q, id, got, w)
				}
			}
		}
	}
	check("no relations in the organization, first walk", nil)
	c.waitSample(t)
	check("no relations in the organization, sample loaded", nil)
	// Customer 50 is a rarebird (a probe's page), customer 2 a commonwealth
	// (the walk's first page).
	if _, err := c.e.store.Pool().Exec(ctx, `
		INSERT INTO customer_tags (organization_id, customer_id, location_id, tag) VALUES ($1, $2, '', 'VIP');
		`, c.e.org, searchID(50)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{searchID(50): fmt.Sprint([]any{"VIP"}, []any{})}
	check("one tag", want)
	if _, err := c.e.store.Pool().Exec(ctx, `
		INSERT INTO customer_identities (organization_id, kind, value, display, customer_id, is_primary)
		VALUES ($1, 'email', 'old.two@example.com', 'Old.Two@example.com', $2, false)`, c.e.org, searchID(2)); err != nil {
		t.Fatal(err)
	}
	want[searchID(2)] = fmt.Sprint([]any{}, []any{map[string]any{"kind": "email", "value": "Old.Two@example.com"}})
	check("a tag and an alias", want)
	// Pages read relations in their own statement once an organization has
	// shown some; removed, they are gone from the next page.
	if _, err := c.e.store.Pool().Exec(ctx, `DELETE FROM customer_tags WHERE organization_id = $1`, c.e.org); err != nil {
		t.Fatal(err)
	}
	delete(want, searchID(50))
	check("the tag removed", want)
	// Another organization without any sees its own customers bare.
	otherOrg, key := c.e.newOrg("Other", "")
	created := c.e.doKey(key, "POST", "/api/v1/customers", map[string]any{"first_name": "Rarebird", "last_name": "Other",
		"email": "rarebird.other@example.com"}).want(t, http.StatusCreated)
	res := c.e.doKey(key, "GET", "/api/v1/customers?search=rarebird", nil).want(t, http.StatusOK)
	if got := rels(res); len(got) != 1 || got[str(created.data()["id"])] != none {
		t.Fatalf("organization %s: %v", otherOrg, got)
	}
}

// TestSearchProbesAPartOfTheTerm: where the sample says a rare term's
// first character filters little ("khan…" in every customer: "an" always
// follows "h"), the trigram index is asked for the rest of the term while
// the whole term is matched: pages and totals are every customer holding
// the whole term, none holding only the part, for the first page and past
// the end.
func TestSearchProbesAPartOfTheTerm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 4000
	_, err := e.store.Pool().Exec(context.Background(), `
		INSERT INTO customers (organization_id, id, first_name, last_name, name, company_name, status, created)
		SELECT $1, 'cust_k' || lpad(i::text, 5, '0'), 'F', 'L', 'n' || i, 'Khan' || i, 'active',
			$2::timestamptz - i * interval '1 minute'
		FROM generate_series(1, $3::int) i`, e.org, searchBase, n)
	if err == nil {
		_, err = e.store.Pool().Exec(context.Background(), `ANALYZE customers`)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &searchCorpus{e: e}
	ids := func(pred func(i int) bool) []string {
		var out []string
		for i := 1; i <= n; i++ {
			if pred(i) {
				out = append(out, fmt.Sprintf("cust_k%05d", i))
			}
		}
		return out
	}
	page := func(term string, all []string, p, limit int) {
		t.Helper()
		e.exactPage(t, "search="+term, all, p, limit)
	}
	// "khan123", "khan1230"…"khan1239".
	han123 := ids(func(i int) bool { return strings.Contains(fmt.Sprint("khan", i), "han123") })
	han312 := ids(func(i int) bool { return strings.Contains(fmt.Sprint("khan", i), "han312") })
	if len(han123) != 11 || len(han312) != 11 {
		t.Fatalf("corpus: %d and %d matches", len(han123), len(han312))
	}
	page("han123", han123, 1, 20) // loads the sample
	c.waitSample(t)
	for _, limit := range []int{20, 4} {
		for p := 1; p <= 4; p++ {
			page("han123", han123, p, limit)
			page("han312", han312, p, limit)
		}
	}
	// The part of "khan1234" the index is asked for, "han1234", is in an
	// older customer's "Shan1234" too, which the page leaves out.
	if _, err := e.store.Pool().Exec(context.Background(), `
		INSERT INTO customers (organization_id, id, first_name, last_name, name, company_name, status, created)
		VALUES ($1, 'cust_z00001', 'F', 'L', 'z', 'Shan1234', 'active', $2::timestamptz - interval '1 year')`, e.org, searchBase); err != nil {
		t.Fatal(err)
	}
	page("khan1234", ids(func(i int) bool { return i == 1234 }), 1, 20)
	page("han1234", append(ids(func(i int) bool { return i == 1234 }), "cust_z00001"), 1, 20)
	page("han9999", nil, 1, 20)
}

// exactPage asks for page p of a search (query: its parameters) and checks
// its ids, in order, against all (every match, in the page's order), and
// that its total is exact.
func (e *env) exactPage(t *testing.T, query string, all []string, p, limit int) {
	t.Helper()
	res := e.do("GET", fmt.Sprintf("/api/v1/customers?%s&page=%d&limit=%d", query, p, limit), nil).want(t, http.StatusOK)
	var got []string
	for _, it := range res.list() {
		got = append(got, str(it["id"]))
	}
	from, to := min((p-1)*limit, len(all)), min(p*limit, len(all))
	if want := all[from:to]; !slices.Equal(got, want) {
		t.Fatalf("%s page %d: ids\n got %v\nwant %v", query, p, got, want)
	}
	if m := res.meta(); m["total"] != float64(len(all)) || m["hasMore"] != (to < len(all)) || m["total_estimated"] != nil {
		t.Fatalf("%s page %d: meta %v, want total %d exactly", query, p, m, len(all))
	}
}
