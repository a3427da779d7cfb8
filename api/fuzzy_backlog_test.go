package api_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/worker"
)

// backlogPeople: two pairs of near-duplicates (nickname or typo, another
// email, the same birthdate) and three people with nobody like them.
var backlogPeople = []map[string]any{
	{"first_name": "Bartholomew", "last_name": "Quigley", "email": "bart.q@example.com", "birthdate": "1966-02-17"},
	{"first_name": "Bart", "last_name": "Quigly", "email": "bquigly@example.org", "birthdate": "1966-02-17"},
	{"first_name": "Jonathan", "last_name": "Smyth", "email": "jon.smyth@example.com", "birthdate": "1984-03-02"},
	{"first_name": "Jon", "last_name": "Smith", "email": "jsmith84@example.net", "birthdate": "1984-03-02"},
	{"first_name": "Maria", "last_name": "Gonzalez", "email": "maria.g@example.org", "birthdate": "1990-07-21"},
	{"first_name": "Priya", "last_name": "Raman", "email": "priya.raman@example.com", "birthdate": "1979-11-30"},
	{"first_name": "Olumide", "last_name": "Adeyemi", "email": "olu.adeyemi@example.net", "birthdate": "1988-05-09"},
}

// pairsByEmail is an organization's fuzzy pairs named by their customers'
// emails (comparable across organizations), sorted.
func pairsByEmail(t *testing.T, s *linkittest.Stack, orgID string) []string {
	t.Helper()
	rows, err := s.Store.Pool().Query(context.Background(), `SELECT least(a.email, b.email) || ' ~ ' || greatest(a.email, b.email)
		FROM duplicate_suggestions d
		JOIN customers a ON a.organization_id = d.organization_id AND a.id = d.customer_a
		JOIN customers b ON b.organization_id = d.organization_id AND b.id = d.customer_b
		WHERE d.organization_id = $1 AND d.source = 'fuzzy' AND d.status = 'open'`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// scanJobs lists an organization's duplicates:scan jobs as state/reason.
func scanJobs(t *testing.T, s *linkittest.Stack, orgID string) []string {
	t.Helper()
	rows, err := s.Store.Pool().Query(context.Background(), `SELECT state || '/' || coalesce(payload->>'reason', '')
		FROM jobs WHERE organization_id = $1 AND type = 'duplicates:scan' ORDER BY created`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitScored waits until none of the organization's customers wait.
func waitScored(t *testing.T, s *linkittest.Stack, orgID string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := s.Store.SuggestPending(context.Background(), orgID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d customers of %s still wait to be scored", n, orgID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A backlog below the rule is scored incrementally (no scan job); above
// it, one scan job scores it and empties the list; both find the same
// pairs on the same people.
func TestFuzzyBacklogScan(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	incremental := s.Org
	for _, p := range backlogPeople {
		s.Do("POST", "/api/v1/customers", p).Want(t, http.StatusCreated)
	}
	// Seven waiting, the default floor 50,000: the incremental scorer.
	s.StartWorker(worker.Config{})
	waitScored(t, s, incremental)
	if jobs := scanJobs(t, s, incremental); len(jobs) != 0 {
		t.Fatalf("scan jobs %v for a backlog below the rule", jobs)
	}
	want := []string{"bart.q@example.com ~ bquigly@example.org", "jon.smyth@example.com ~ jsmith84@example.net"}
	if got := pairsByEmail(t, s, incremental); !slices.Equal(got, want) {
		t.Fatalf("incremental pairs %v, want %v", got, want)
	}
	if err := s.StopWorker(); err != nil {
		t.Fatal(err)
	}

	// Another organization, the same people, a floor of 3: seven waiting
	// is above max(3, 7/4), so one scan.
	s.Deps.SuggestScanBacklog = 3
	scanned, key := linkittest.NewOrg(t, s.Store, "Backlog", "US")
	c := s.Client
	c.Key = key
	for _, p := range backlogPeople {
		c.Do("POST", "/api/v1/customers", p).Want(t, http.StatusCreated)
	}
	s.StartWorker(worker.Config{})
	waitScored(t, s, scanned)
	if jobs := scanJobs(t, s, scanned); len(jobs) != 1 || !strings.HasSuffix(jobs[0], "/backlog") {
		t.Fatalf("scan jobs %v, want one for the backlog", jobs)
	}
	var id string
	if err := s.Store.Pool().QueryRow(context.Background(), `SELECT id FROM jobs WHERE organization_id = $1
		AND type = 'duplicates:scan'`, scanned).Scan(&id); err != nil {
		t.Fatal(err)
	}
	job := c.WaitJob(id, time.Minute)
	res, _ := job["result"].(map[string]any)
	if job["state"] != "completed" || res["customers"] != float64(len(backlogPeople)) ||
		res["pending_cleared"] != float64(len(backlogPeople)) {
		t.Fatalf("backlog scan job %v", job)
	}
	if got := pairsByEmail(t, s, scanned); !slices.Equal(got, want) {
		t.Fatalf("pairs after the backlog scan %v, want the incremental scorer's %v", got, want)
	}
	// One customer more: below the rule again, scored incrementally.
	c.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Marie", "last_name": "Gonzales",
		"email": "mgonzales@example.com", "birthdate": "1990-07-21"}).Want(t, http.StatusCreated)
	waitScored(t, s, scanned)
	if jobs := scanJobs(t, s, scanned); len(jobs) != 1 {
		t.Fatalf("scan jobs %v after one more customer, want still the one", jobs)
	}
}

// A scan clears only the rows waiting when it began, and only once its
// pairs are written: a scan cut short leaves every row waiting, a row
// queued while it runs stays for the incremental scorer.
func TestFuzzyScanKeepsLaterPending(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	ctx := context.Background()
	for _, p := range backlogPeople {
		s.Do("POST", "/api/v1/customers", p).Want(t, http.StatusCreated)
	}
	// Holds the scan between its keys and its records: its ANALYZE of
	// fuzzy_keys waits for this lock.
	hold := func() pgx.Tx {
		tx, err := s.Store.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE fuzzy_keys IN SHARE UPDATE EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	waitBlocked := func() {
		t.Helper()
		for range 200 {
			var n int
			if err := s.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ANALYZE fuzzy_keys%'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatal("the scan never reached its ANALYZE")
	}
	type outcome struct {
		res *postgres.FuzzyScanResult
		err error
	}
	run := func(ctx context.Context) chan outcome {
		done := make(chan outcome, 1)
		go func() {
			res, err := s.Store.ScanFuzzy(ctx, s.Org, postgres.FuzzyScanOptions{KeepModel: true})
			done <- outcome{res, err}
		}()
		return done
	}

	// Cut short after its keys: nothing cleared.
	tx := hold()
	cctx, cancel := context.WithCancel(ctx)
	done := run(cctx)
	waitBlocked()
	cancel()
	if o := <-done; o.err == nil {
		t.Fatalf("a cancelled scan succeeded: %+v", o.res)
	}
	_ = tx.Rollback(ctx)
	if n, _ := s.Store.SuggestPending(ctx, s.Org); n != len(backlogPeople) {
		t.Fatalf("pending %d after a scan cut short, want all %d", n, len(backlogPeople))
	}

	// A customer queued while the scan runs stays waiting.
	tx = hold()
	done = run(ctx)
	waitBlocked()
	late := s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Marie", "last_name": "Gonzales",
		"email": "mgonzales@example.com", "birthdate": "1990-07-21"}).Want(t, http.StatusCreated).Data()
	_ = tx.Rollback(ctx)
	o := <-done
	if o.err != nil || o.res.PendingCleared != len(backlogPeople) {
		t.Fatalf("scan: %+v %v, want the %d waiting before it cleared", o.res, o.err, len(backlogPeople))
	}
	var waiting []string
	if err := s.Store.Pool().QueryRow(ctx, `SELECT coalesce(array_agg(x), '{}') FROM suggest_pending, unnest(customer_ids) x
		WHERE organization_id = $1`, s.Org).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(waiting, []string{str(late["id"])}) {
		t.Fatalf("waiting after the scan %v, want only the customer queued during it %v", waiting, late["id"])
	}
	if got := pairsByEmail(t, s, s.Org); len(got) != 2 {
		t.Fatalf("pairs after the scan %v, want the two", got)
	}
	// The incremental scorer takes it from there.
	s.StartWorker(worker.Config{})
	waitScored(t, s, s.Org)
	var keyed int
	if err := s.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM fuzzy_keys WHERE organization_id = $1 AND customer_id = $2`,
		s.Org, str(late["id"])).Scan(&keyed); err != nil || keyed == 0 {
		t.Fatalf("the late customer has %d blocking keys (%v): not scored", keyed, err)
	}
}

// While clients keep the API busy, a backlog's scan makes way after each of
// its long statements (it waits) and still completes with the pairs an idle
// API gets: interactive requests first, the scan later, never never.
func TestFuzzyBacklogScanYieldsToBusyAPI(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	for _, p := range backlogPeople {
		s.Do("POST", "/api/v1/customers", p).Want(t, http.StatusCreated)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for range 8 { // searches, back to back, until the scan is done
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/customers?search=quig", nil)
				req.Header.Set("Authorization", "Bearer "+s.Key)
				if res, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.Deps.Activity.Busy(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("eight clients searching did not make the API busy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Deps.SuggestScanBacklog = 3
	s.StartWorker(worker.Config{})
	waitScored(t, s, s.Org)
	var id string
	if err := s.Store.Pool().QueryRow(context.Background(), `SELECT id FROM jobs WHERE organization_id = $1
		AND type = 'duplicates:scan'`, s.Org).Scan(&id); err != nil {
		t.Fatal(err)
	}
	job := s.WaitJob(id, time.Minute)
	res, _ := job["result"].(map[string]any)
	if job["state"] != "completed" || res["pending_cleared"] != float64(len(backlogPeople)) {
		t.Fatalf("backlog scan beside a busy API: %v", job)
	}
	if waited, _ := res["yield_seconds"].(float64); waited <= 0 {
		t.Fatalf("the scan did not wait for the busy API: %v", res)
	}
	want := []string{"bart.q@example.com ~ bquigly@example.org", "jon.smyth@example.com ~ jsmith84@example.net"}
	if got := pairsByEmail(t, s, s.Org); !slices.Equal(got, want) {
		t.Fatalf("pairs of the scan beside a busy API %v, want %v", got, want)
	}
}

// While the API is busy, the incremental scorer rests after scoring (here
// 10,000 times its batch's time, so the rest outlasts the wait below):
// a checkout's new near-duplicate waits instead of taking the cores other
// checkouts wait for, and is suggested as soon as the API is idle again.
func TestFuzzyIncrementalRestsWhileAPIBusy(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	s.Deps.SuggestScanYield = 10000
	s.StartWorker(worker.Config{})
	first := s.Do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": "Jonathan", "last_name": "Smyth", "email": "jon.smyth@example.com", "phone": "+14155550123",
		"birthdate": "1984-03-02", "address": "12 Hill Street",
	}).Want(t, http.StatusCreated).Data()
	waitScored(t, s, s.Org) // idle: scored at once; its rest starts

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	if err := s.Deps.Activity.MarkBusy(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { // the API stays busy until stop
		for ctx.Err() == nil {
			_ = s.Deps.Activity.MarkBusy(ctx)
			time.Sleep(50 * time.Millisecond)
		}
	})
	second := s.Do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": "Jon", "last_name": "Smith", "email": "jsmith84@example.net", "phone": "+14155557777",
		"birthdate": "1984-03-02", "address": "12 Hill St",
	}).Want(t, http.StatusCreated).Data()
	// Unscored so far, and still so a second later (the scorer polls every
	// 20 ms: without the rest the pair is there within a few polls).
	time.Sleep(time.Second)
	if pairs := fuzzyPairs(t, s, s.Org); len(pairs) != 0 {
		t.Fatalf("scored while the API was busy and the scorer resting: %+v", pairs)
	}
	var waiting int
	if err := s.Store.Pool().QueryRow(context.Background(), `SELECT count(DISTINCT u)
		FROM suggest_pending, unnest(customer_ids) u WHERE organization_id = $1 AND u = $2`, s.Org, str(second["id"])).Scan(&waiting); err != nil || waiting != 1 {
		t.Fatalf("customers waiting to be scored: %d (%v), want the new one", waiting, err)
	}

	stop() // idle again: the pair comes within the poll after the busy mark expires
	wg.Wait()
	a, b := str(first["id"]), str(second["id"])
	if a > b {
		a, b = b, a
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pairs := fuzzyPairs(t, s, s.Org)
		if len(pairs) == 1 && pairs[0].a == a && pairs[0].b == b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the API went idle: pairs %+v, want %s ~ %s", pairs, a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
