package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/linkittest"
)

// fuzzyPair is a row of duplicate_suggestions written by the fuzzy scorer.
type fuzzyPair struct {
	a, b    string
	score   float64
	reasons []string
	status  string
}

// fuzzyPairs reads an organization's fuzzy suggestions straight from the
// database (the review API is another part of issue 20).
func fuzzyPairs(t *testing.T, s *linkittest.Stack, orgID string) []fuzzyPair {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT customer_a, customer_b, score, reasons, status
		FROM duplicate_suggestions WHERE organization_id = $1 AND source = 'fuzzy'`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	var out []fuzzyPair
	var p fuzzyPair
	var score float32
	_, err = pgx.ForEachRow(rows, []any{&p.a, &p.b, &score, &p.reasons, &p.status}, func() error {
		p.score = float64(score)
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dbExec(t *testing.T, s *linkittest.Stack, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// scan runs POST /api/v1/duplicates/scan and waits for its job.
func scan(t *testing.T, c linkittest.Client) map[string]any {
	t.Helper()
	r := c.Do("POST", "/api/v1/duplicates/scan", nil).Want(t, http.StatusAccepted)
	id, _ := r.Data()["id"].(string)
	if loc := r.Header.Get("Location"); loc != "/api/v1/jobs/"+id {
		t.Fatalf("Location %q for job %q", loc, id)
	}
	job := c.WaitJob(id, 2*time.Minute)
	if job["state"] != "completed" || job["type"] != "duplicates:scan" {
		t.Fatalf("scan job: %v", job)
	}
	res, _ := job["result"].(map[string]any)
	if res == nil {
		t.Fatalf("scan job without result: %v", job)
	}
	return res
}

// A near-duplicate written by an upsert (another email and phone, a
// nickname, the same birthdate and street) is suggested in the background
// within seconds; a different person at the same address is not.
func TestFuzzyIncremental(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	first := s.Do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": "Jonathan", "last_name": "Smyth", "email": "jon.smyth@example.com", "phone": "+14155550123",
		"birthdate": "1984-03-02", "address": "12 Hill Street",
	}).Want(t, http.StatusCreated).Data()
	other := s.Do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": "Maria", "last_name": "Gonzalez", "email": "maria.g@example.org", "phone": "+14155550999",
		"birthdate": "1990-07-21", "address": "12 Hill Street",
	}).Want(t, http.StatusCreated).Data()
	second := s.Do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": "Jon", "last_name": "Smith", "email": "jsmith84@example.net", "phone": "+14155557777",
		"birthdate": "1984-03-02", "address": "12 Hill St",
	}).Want(t, http.StatusCreated).Data()
	a, b := str(first["id"]), str(second["id"])
	if a > b {
		a, b = b, a
	}
	deadline := time.Now().Add(20 * time.Second)
	var pairs []fuzzyPair
	for time.Now().Before(deadline) {
		pairs = fuzzyPairs(t, s, s.Org)
		if len(pairs) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(pairs) != 1 || pairs[0].a != a || pairs[0].b != b || pairs[0].status != "open" {
		t.Fatalf("want one open pair %s %s, got %+v", a, b, pairs)
	}
	p := pairs[0]
	if p.score < dedupe.DefaultMinScore || p.score > 1 || !contains(p.reasons, "same birthdate") {
		t.Fatalf("pair %+v: want a score in [%.2f, 1] and the birthdate among the reasons", p, dedupe.DefaultMinScore)
	}
	for _, q := range pairs {
		if q.a == str(other["id"]) || q.b == str(other["id"]) {
			t.Fatalf("Maria suggested: %+v", q)
		}
	}
}

// A dismissed pair is never suggested again, whatever rescans find.
func TestFuzzyScanKeepsDismissed(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	var ids []string
	for _, body := range []map[string]any{
		{"first_name": "Katherine", "last_name": "O'Neil", "email": "kate@example.com", "birthdate": "1975-11-30", "address": "4 Park Road"},
		{"first_name": "Kate", "last_name": "ONeil", "email": "k.oneil@example.org", "birthdate": "1975-11-30", "address": "4 Park Rd"},
		{"first_name": "Catherine", "last_name": "O'Neill", "email": "cath@example.net", "birthdate": "1975-11-03", "address": "4 Park Road"},
	} {
		ids = append(ids, str(s.Do("POST", "/api/v1/customers/upsert", body).Want(t, http.StatusCreated).Data()["id"]))
	}
	res := scan(t, s.Client)
	if res["customers"].(float64) != 3 || res["suggested"].(float64) < 1 {
		t.Fatalf("scan result %v", res)
	}
	a, b := ids[0], ids[1]
	if a > b {
		a, b = b, a
	}
	var dismissed *fuzzyPair
	for _, p := range fuzzyPairs(t, s, s.Org) {
		if p.a == a && p.b == b {
			dismissed = &p
		}
	}
	if dismissed == nil {
		t.Fatalf("Katherine and Kate not suggested: %+v", fuzzyPairs(t, s, s.Org))
	}
	dbExec(t, s, `UPDATE duplicate_suggestions SET status = 'dismissed', resolved = now()
		WHERE organization_id = $1 AND customer_a = $2 AND customer_b = $3`, s.Org, dismissed.a, dismissed.b)
	scan(t, s.Client)
	for _, p := range fuzzyPairs(t, s, s.Org) {
		if p.a == dismissed.a && p.b == dismissed.b && (p.status != "dismissed" || p.score != dismissed.score) {
			t.Fatalf("dismissed pair changed by a rescan: %+v", p)
		}
	}
	// Another organization's scan touches nothing of this one.
	otherOrg, key := linkittest.NewOrg(t, s.Store, "Other", "US")
	other := s.Client
	other.Key = key
	if res := scan(t, other); res["customers"].(float64) != 0 {
		t.Fatalf("other org scan %v", res)
	}
	if len(fuzzyPairs(t, s, otherOrg)) != 0 {
		t.Fatal("pairs in the other organization")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// febrlCSV turns a FEBRL file (dedupe/testdata/febrl/README.md) into an
// import: rec_id as the external id, no email or phone.
func febrlCSV(t *testing.T, path string) (file []byte, truth map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"Customer ID", "First Name", "Last Name", "Address", "Address 2", "City", "Postcode", "State",
		"Country", "Date of Birth"})
	truth = map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), ", ")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		if len(c) < 11 {
			continue
		}
		rec := strings.Split(c[0], "-") // rec-<N>-org | rec-<N>-dup-<k>
		truth[c[0]] = rec[1]
		_ = w.Write([]string{c[0], c[1], c[2], strings.TrimSpace(c[3] + " " + c[4]), c[5], c[6], c[7], c[8], "AU", c[9]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.Bytes(), truth
}

// TestFuzzyFebrl measures the suggestions on FEBRL's labelled people
// (datasets 1 and 2, each its own organization): loaded through an import
// (rec_id the external id, no email or phone: exact rules find nothing),
// scanned, then pair precision and recall of the suggestions scoring at
// least dedupe.DefaultMinScore against the truth.
func TestFuzzyFebrl(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	for i, name := range []string{"dataset1", "dataset2"} {
		c, orgID := s.Client, s.Org
		if i > 0 {
			orgID, c.Key = linkittest.NewOrg(t, s.Store, name, "AU")
		}
		file, truth := febrlCSV(t, "../dedupe/testdata/febrl/"+name+".csv")
		imp := c.ImportCSV("/api/v1/imports", file)
		if imp["status"] != "completed" {
			t.Fatalf("%s import: %v", name, imp)
		}
		start := time.Now()
		res := scan(t, c)
		scanTime := time.Since(start)
		person := febrlPeople(t, s, orgID, truth)
		truePairs := 0
		sizes := map[string]int{}
		for _, p := range person {
			sizes[p]++
		}
		for _, n := range sizes {
			truePairs += n * (n - 1) / 2
		}
		var suggested, correct int
		for _, p := range fuzzyPairs(t, s, orgID) {
			if p.score < dedupe.DefaultMinScore {
				continue
			}
			suggested++
			if person[p.a] != "" && person[p.a] == person[p.b] {
				correct++
			}
		}
		precision := float64(correct) / float64(max(suggested, 1))
		recall := float64(correct) / float64(max(truePairs, 1))
		t.Logf("%s: %d customers, %d candidate pairs, %d true pairs, %d suggested, precision %.3f, recall %.3f, scan %s (lambda %.4f)",
			name, len(person), int(res["candidate_pairs"].(float64)), truePairs, suggested, precision, recall,
			scanTime.Round(time.Millisecond), res["model_lambda"])
		t.Logf("%s scan: %v", name, res)
		if precision < 0.95 || recall < 0.95 {
			t.Errorf("%s: precision %.3f, recall %.3f: want both ≥ 0.95", name, precision, recall)
		}
	}
}

// febrlPeople maps each customer of the organization to its FEBRL person
// (through its external id).
func febrlPeople(t *testing.T, s *linkittest.Stack, orgID string, truth map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for ext, id := range externalIDs(t, s, orgID) {
		p, ok := truth[ext]
		if !ok {
			t.Errorf("external id %q not in the file", ext)
		}
		out[id] = p
	}
	if len(out) != len(truth) {
		t.Fatalf("%d customers for %d rows", len(out), len(truth))
	}
	return out
}

// TestFuzzyImportTiming times 20,000-row imports (LINKIT_TIMING_ROWS), new
// people then the same people again, with the suggestion triggers on (and
// the incremental scorer draining behind the import) and off, interleaved.
// Opt-in, it measures rather than checks:
//
//	LINKIT_TIMING=1 go test ./api -run TestFuzzyImportTiming -v
func TestFuzzyImportTiming(t *testing.T) {
	if os.Getenv("LINKIT_TIMING") == "" {
		t.Skip("set LINKIT_TIMING=1 to time imports")
	}
	rows := 20000
	if n, err := strconv.Atoi(os.Getenv("LINKIT_TIMING_ROWS")); err == nil && n > 0 {
		rows = n
	}
	firsts := []string{"Ann", "Bob", "Carmen", "Dmitri", "Emeka", "Fatima", "Gustav", "Hiro", "Ines", "Jon", "Kwame", "Lena"}
	lasts := []string{"Lee", "Dylan", "Ortiz", "Ivanov", "Obi", "Zahra", "Berg", "Tanaka", "Silva", "Doe", "Mensah", "Weber", "Khan"}
	var b strings.Builder
	b.WriteString("first_name,last_name,email,phone,birthdate,address,postcode\n")
	for i := range rows {
		fmt.Fprintf(&b, "%s,%s,p%d@example.com,+1 415 %03d %04d,19%02d-%02d-%02d,%d Main Street,%05d\n",
			firsts[i%len(firsts)], lasts[(i/len(firsts))%len(lasts)], i, 200+i/10000, i%10000,
			40+i%60, 1+i%12, 1+i%28, 1+i%500, 10000+i%700)
	}
	file := []byte(b.String())
	for _, on := range []bool{true, false, true, false} {
		e := newQueueEnv(t, queueOpts{})
		if !on {
			for _, trg := range []string{"customers DISABLE TRIGGER customers_suggest_inserted",
				"customers DISABLE TRIGGER customers_suggest_updated",
				"customer_addresses DISABLE TRIGGER customer_addresses_suggest_inserted",
				"customer_addresses DISABLE TRIGGER customer_addresses_suggest_updated"} {
				if _, err := e.store.Pool().Exec(context.Background(), "ALTER TABLE "+trg); err != nil {
					t.Fatal(err)
				}
			}
		}
		var took [2]time.Duration
		for round := range 2 {
			start := time.Now()
			e.importCSV("/api/v1/imports?default_region=US", file)
			took[round] = time.Since(start)
		}
		var pending int
		_ = e.store.Pool().QueryRow(context.Background(), `SELECT coalesce(sum(cardinality(customer_ids)), 0) FROM suggest_pending`).Scan(&pending)
		t.Logf("triggers=%v: %d new rows %v, %d matching rows %v; %d customers still waiting to be scored", on, rows,
			took[0].Round(time.Millisecond), rows, took[1].Round(time.Millisecond), pending)
	}
}

// createQuigleys creates two records of one person the scorer pairs.
func createQuigleys(t *testing.T, s *linkittest.Stack) {
	t.Helper()
	for _, body := range []map[string]any{
		{"first_name": "Bartholomew", "last_name": "Quigley", "email": "bart.q@example.com", "birthdate": "1966-02-17"},
		{"first_name": "Bart", "last_name": "Quigly", "email": "bquigly@example.org", "birthdate": "1966-02-17"},
	} {
		s.Do("POST", "/api/v1/customers", body).Want(t, http.StatusCreated)
	}
}

// Incremental batches step aside while a scan holds the organization, then
// score what waits exactly once: pending rows survive until a batch commits.
func TestFuzzyPendingWaitsForScan(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	ctx := context.Background()
	createQuigleys(t, s)
	if n, err := s.Store.SuggestPending(ctx, s.Org); err != nil || n != 2 {
		t.Fatalf("pending %d %v, want the two new customers", n, err)
	}
	// A scan's lease on the organization (postgres/fuzzy_lease.go).
	dbExec(t, s, `INSERT INTO fuzzy_scan_leases (organization_id, holder, expires_at)
		VALUES ($1, 'scan', clock_timestamp() + interval '1 hour')`, s.Org)
	b, err := s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore)
	if err != nil || !b.Busy || b.Customers != 0 {
		t.Fatalf("batch during a scan: %+v %v", b, err)
	}
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 2 {
		t.Fatalf("pending %d after a busy batch", n)
	}
	dbExec(t, s, `DELETE FROM fuzzy_scan_leases WHERE organization_id = $1`, s.Org)
	b, err = s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore)
	if err != nil || b.Busy || b.Customers != 2 || b.Suggested != 1 {
		t.Fatalf("batch: %+v %v", b, err)
	}
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 0 {
		t.Fatalf("pending %d after the batch", n)
	}
	if b, _ := s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore); b.Customers != 0 {
		t.Fatalf("a second batch found work: %+v", b)
	}
	if pairs := fuzzyPairs(t, s, s.Org); len(pairs) != 1 || !contains(pairs[0].reasons, "same birthdate") {
		t.Fatalf("pairs %+v", pairs)
	}
	// A rollup-only update (no compared field) queues nothing.
	dbExec(t, s, `UPDATE customers SET total_orders = total_orders + 1 WHERE organization_id = $1`, s.Org)
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 0 {
		t.Fatalf("pending %d after a rollup update", n)
	}
	dbExec(t, s, `UPDATE customers SET last_name = 'Quigley' WHERE organization_id = $1 AND email = 'bquigly@example.org'`, s.Org)
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 1 {
		t.Fatalf("pending %d after a name change, want 1", n)
	}
}

// Scoring waits while an import of the organization merges (its chunks
// have the cores), then scores what waits; another organization's import
// does not hold it back.
func TestFuzzyPendingWaitsForImport(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	ctx := context.Background()
	createQuigleys(t, s)
	dbExec(t, s, `INSERT INTO imports (organization_id, id, status) VALUES ($1, 'imp_merging', 'processing')`, s.Org)
	if orgs, err := s.Store.SuggestPendingOrgs(ctx, 100); err != nil || slices.Contains(orgs, s.Org) {
		t.Fatalf("organizations to score %v (%v): the importing one is listed", orgs, err)
	}
	b, err := s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore)
	if err != nil || !b.Busy || b.Customers != 0 {
		t.Fatalf("batch during an import: %+v %v", b, err)
	}
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 2 {
		t.Fatalf("pending %d after a batch during an import, want 2", n)
	}
	if pairs := fuzzyPairs(t, s, s.Org); len(pairs) != 0 {
		t.Fatalf("pairs %+v scored during the import", pairs)
	}
	dbExec(t, s, `UPDATE imports SET status = 'completed', finished = now() WHERE organization_id = $1 AND id = 'imp_merging'`, s.Org)
	if orgs, err := s.Store.SuggestPendingOrgs(ctx, 100); err != nil || !slices.Contains(orgs, s.Org) {
		t.Fatalf("organizations to score %v (%v) after the import, want %s", orgs, err, s.Org)
	}
	b, err = s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore)
	if err != nil || b.Busy || b.Customers != 2 || b.Suggested != 1 {
		t.Fatalf("batch after the import: %+v %v", b, err)
	}
	if pairs := fuzzyPairs(t, s, s.Org); len(pairs) != 1 {
		t.Fatalf("pairs %+v after the import, want the one", pairs)
	}
}

// A statement's new customers wait to be scored as a few rows of up to 500
// ids, not a row each (an import chunk writes thousands at once), and the
// scorer still takes at most its batch of customers at a time, each once.
func TestFuzzyPendingRowsPerStatement(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	ctx := context.Background()
	dbExec(t, s, `INSERT INTO customers (organization_id, id, first_name, last_name, email)
		SELECT $1, 'cust_bulk' || lpad(g::text, 5, '0'), 'First' || g, 'Last' || g, 'bulk' || g || '@example.com'
		FROM generate_series(1, 1200) g`, s.Org)
	var rows, ids, distinct int
	if err := s.Store.Pool().QueryRow(ctx, `SELECT count(*), sum(cardinality(customer_ids)),
			(SELECT count(DISTINCT x) FROM suggest_pending, unnest(customer_ids) x WHERE organization_id = $1)
		FROM suggest_pending WHERE organization_id = $1`, s.Org).Scan(&rows, &ids, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || ids != 1200 || distinct != 1200 {
		t.Fatalf("pending rows %d holding %d ids (%d distinct), want 3 rows holding the 1200 customers", rows, ids, distinct)
	}
	for _, want := range []int{500, 500, 200, 0} {
		b, err := s.Store.ScoreSuggestPending(ctx, s.Org, 500, dedupe.DefaultMinScore)
		if err != nil || b.Customers != want {
			t.Fatalf("batch scored %d customers (%v), want %d", b.Customers, err, want)
		}
	}
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != 0 {
		t.Fatalf("pending %d after the batches", n)
	}
	var keyed int
	if err := s.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM fuzzy_keys WHERE organization_id = $1`, s.Org).Scan(&keyed); err != nil || keyed != 1200 {
		t.Fatalf("%d customers keyed (%v), want every one scored once", keyed, err)
	}
}

// The scan endpoint: a job per request, the same one for a repeated
// Idempotency-Key, visible only to its organization, refused without a key.
func TestFuzzyScanEndpoint(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	first := s.Do("POST", "/api/v1/duplicates/scan", nil, "Idempotency-Key", "nightly-1").Want(t, http.StatusAccepted).Data()
	again := s.Do("POST", "/api/v1/duplicates/scan", nil, "Idempotency-Key", "nightly-1").Want(t, http.StatusAccepted).Data()
	if first["id"] != again["id"] || first["type"] != "duplicates:scan" {
		t.Fatalf("repeated key: %v then %v", first, again)
	}
	job := s.WaitJob(str(first["id"]), time.Minute)
	if res, _ := job["result"].(map[string]any); res == nil || res["customers"] != float64(0) {
		t.Fatalf("job %v", job)
	}
	_, key := linkittest.NewOrg(t, s.Store, "Other", "US")
	other := s.Client
	other.Key = key
	other.Do("GET", "/api/v1/jobs/"+str(first["id"]), nil).WantError(t, http.StatusNotFound)
	anon := s.Client
	anon.Key = ""
	anon.Do("POST", "/api/v1/duplicates/scan", nil).Want(t, http.StatusUnauthorized)
}
