package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// undisturbed imports file into a fresh environment and returns the final state.
func undisturbed(t *testing.T, file []byte) string {
	e := newQueueEnv(t, queueOpts{chunkRows: 40})
	im := e.upload("/api/v1/imports", "", "text/csv", file).want(t, http.StatusAccepted).data()
	if done := e.waitImport(str(im["id"])); done["status"] != "completed" {
		t.Fatalf("undisturbed import %v", done)
	}
	return canonicalState(t, e.env)
}

// Redis flushed mid-import: the queued plan and chunk tasks are gone; the
// reconciler re-derives them from PostgreSQL and the import ends in the same
// state as an undisturbed run.
func TestImportSurvivesRedisFlush(t *testing.T) {
	t.Parallel()
	file := linkedFile(rand.New(rand.NewPCG(3, 5)), 1200)
	want := undisturbed(t, file)

	url := linkittest.RedisDBURL(12) // this test's own Redis DB: FLUSHDB is safe here
	e := newQueueEnv(t, queueOpts{chunkRows: 40, noWorker: true, redisURL: url})
	im := e.upload("/api/v1/imports", "", "text/csv", file).want(t, http.StatusAccepted).data()
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if n, _ := rdb.DBSize(context.Background()).Result(); n == 0 {
		t.Fatal("expected queued tasks in Redis before the flush")
	}
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	e.startWorker(100 * time.Millisecond)
	done := e.waitImport(str(im["id"]))
	if done["status"] != "completed" {
		t.Fatalf("import after flush: %v", done)
	}
	if got := canonicalState(t, e.env); got != want {
		t.Fatalf("state after a Redis flush differs from an undisturbed run:\n%s\n---\n%s", head(got), head(want))
	}
}

// PostgreSQL connections killed mid-import (as in a server restart): chunk
// transactions roll back and are retried; the end state is unchanged.
func TestImportSurvivesDatabaseDisconnects(t *testing.T) {
	t.Parallel()
	file := linkedFile(rand.New(rand.NewPCG(9, 1)), 1200)
	want := undisturbed(t, file)

	// Chunks read 16 rows at a time: connections die between a chunk's pages too.
	e := newQueueEnv(t, queueOpts{chunkRows: 40, pageRows: 16})
	im := e.upload("/api/v1/imports", "", "text/csv", file).want(t, http.StatusAccepted).data()
	dbName := currentDatabase(t, e.env)
	admin := postgrestest.New(t) // any connection to the server can terminate others
	killed := 0
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var status string
		if err := admin.Pool().QueryRow(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(new(int)); err != nil {
			t.Fatal(err)
		}
		killed++
		time.Sleep(30 * time.Millisecond)
		// The API's own pool reconnects; a request may fail once while it does.
		res := e.do("GET", "/api/v1/imports/"+str(im["id"]), nil)
		if res.Status == http.StatusOK {
			status = str(res.data()["status"])
		}
		if status == "completed" || status == "failed" || killed > 40 {
			break
		}
	}
	t.Logf("terminated the database's connections %d times during the import", killed)
	done := e.waitImport(str(im["id"]))
	if done["status"] != "completed" {
		t.Fatalf("import after disconnects: %v", done)
	}
	if got := canonicalState(t, e.env); got != want {
		t.Fatalf("state after disconnects differs from an undisturbed run:\n%s\n---\n%s", head(got), head(want))
	}
}

func currentDatabase(t *testing.T, e *env) string {
	var name string
	if err := e.store.Pool().QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "linkit_test_") {
		t.Fatalf("refusing to disconnect database %q", name)
	}
	return name
}

// A key the plan saw free and a checkout claimed before the chunk ran: the
// chunk probes only keys existing customers owned at planning, so its
// identity write notices the claim, and the retry (probing every key)
// merges the row into the new customer instead of creating a duplicate.
func TestImportKeyClaimedAfterPlanning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	cid := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Cid", "last_name": "Day",
		"email": "cid@example.com"}).want(t, http.StatusCreated).data()
	file := []byte("First Name,Last Name,Email,Company\r\n" +
		"Ann,Lee,ann@example.com,Acme\r\n" +
		"Bob,Ray,bob@example.com,\r\n" +
		"Cid,Day,CID@example.com,Initech\r\n")
	im := e.upload("/api/v1/imports", "people.csv", "text/csv", file).want(t, http.StatusAccepted).data()
	id, org := str(im["id"]), str(im["organization_id"])
	if _, err := e.store.PlanImport(ctx, org, id); err != nil {
		t.Fatal(err)
	}
	var owned []int
	rows, _ := e.store.Pool().Query(ctx, `SELECT row_num FROM import_owned_rows WHERE import_id = $1 ORDER BY 1`, id)
	if owned, _ = pgx.CollectRows(rows, pgx.RowTo[int]); !slices.Equal(owned, []int{4}) {
		t.Fatalf("rows owned at planning %v, want [4] (Cid's)", owned)
	}

	ann := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Ann", "last_name": "Lee",
		"email": "Ann@Example.com"}).want(t, http.StatusCreated).data()
	e.startWorker(100 * time.Millisecond)
	done := e.waitImport(id)
	if c := counts(done); done["status"] != "completed" || c["created"] != 1 || c["updated"] != 2 {
		t.Fatalf("import %v counts %v: want Bob created, Ann and Cid updated", done["status"], c)
	}
	for email, want := range map[string]any{"ann@example.com": ann["id"], "cid@example.com": cid["id"]} {
		got := e.do("GET", "/api/v1/customers/lookup?email="+email, nil).want(t, http.StatusOK).data()
		if got["id"] != want || got["company_name"] == "" {
			t.Errorf("%s resolves to %v (company %q), want %v with the file's company", email, got["id"], got["company_name"], want)
		}
	}
	if n := e.count(`SELECT count(*) FROM customers`); n != 3 {
		t.Fatalf("%d customers, want 3: Ann, Bob, Cid once each", n)
	}
}

// A planner reading a big file holds no transaction, so it touches its
// import meanwhile: otherwise the reconciler takes the import for stalled
// and starts a second planner. The staged rows are held locked here to
// make the plan's reads wait.
func TestImportPlannerHeartbeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newQueueEnv(t, queueOpts{noWorker: true, planHeartbeat: 50 * time.Millisecond})
	im := e.upload("/api/v1/imports", "people.csv", "text/csv", []byte("Email\r\nann@example.com\r\nbob@example.com\r\n")).
		want(t, http.StatusAccepted).data()
	id, org := str(im["id"]), str(im["organization_id"])
	updated := func() time.Time {
		var at time.Time
		if err := e.store.Pool().QueryRow(ctx, `SELECT updated FROM imports WHERE id = $1`, id).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	before := updated()
	lock, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE import_rows IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	planned := make(chan error, 1)
	go func() {
		_, err := e.store.PlanImport(ctx, org, id)
		planned <- err
	}()
	time.Sleep(400 * time.Millisecond)
	during := updated()
	select {
	case err := <-planned:
		t.Fatalf("the plan finished while its rows were locked: %v", err)
	default:
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-planned; err != nil {
		t.Fatal(err)
	}
	if !during.After(before) {
		t.Fatalf("import not touched while its plan waited: updated %v, before %v", during, before)
	}
	if n := e.count("SELECT chunks FROM imports WHERE id = $1", id); n != 1 {
		t.Fatalf("%d chunks planned, want 1", n)
	}
}

// Chunks probe the plan's moves once per row by primary key. The plan
// refreshes the statistics of the tables it writes: without them (a small
// import, before autovacuum) the planner took the moves' chunk index for
// that probe and read all of the import's moves for every row.
func TestImportPlanStatistics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newQueueEnv(t, queueOpts{noWorker: true, chunkRows: 100})
	var b strings.Builder
	b.WriteString("First Name,Email,Phone\n")
	for i := range 3000 {
		// Rows 1,500 apart share a phone: the later one moves to the earlier one's chunk.
		fmt.Fprintf(&b, "P%d,p%d@example.com,+1 415 555 %04d\n", i, i, 1000+i%1500)
	}
	im := e.upload("/api/v1/imports", "", "text/csv", []byte(b.String())).want(t, http.StatusAccepted).data()
	id, org := str(im["id"]), str(im["organization_id"])
	if _, err := e.store.PlanImport(ctx, org, id); err != nil {
		t.Fatal(err)
	}
	var moves int
	if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM import_row_moves WHERE import_id = $1`, id).Scan(&moves); err != nil || moves < 1000 {
		t.Fatalf("%d moves (%v), want half the rows moved", moves, err)
	}
	var plan string
	if err := e.store.Pool().QueryRow(ctx, `EXPLAIN (COSTS OFF) SELECT true FROM import_row_moves m
		WHERE m.organization_id = $1 AND m.import_id = $2 AND m.row_num = 1500`, org, id).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "import_row_moves_pkey") {
		t.Fatalf("the moves probe is planned as %q, want the primary key", plan)
	}
}

// Two imports of the same new people, and checkouts of half of them, all at
// once: whichever transaction creates a person first, the others' identity
// inserts fail and retry as matches, and everyone ends as one customer with
// both identifiers.
func TestImportsAndUpsertsRaceForNewIdentities(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 25, noWorker: true})
	const people = 200
	var b strings.Builder
	b.WriteString("First Name,Email,Phone\n")
	for i := range people {
		fmt.Fprintf(&b, "P%d,p%d@example.com,+1 415 555 %04d\n", i, i, 2000+i)
	}
	var ids []string
	for range 2 {
		ids = append(ids, str(e.upload("/api/v1/imports", "", "text/csv", []byte(b.String())).want(t, http.StatusAccepted).data()["id"]))
	}
	e.startWorker(0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < people; i += 8 {
				res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": fmt.Sprintf("P%d@Example.com", i)})
				if res.Status != http.StatusOK && res.Status != http.StatusCreated {
					t.Errorf("upsert %d: %d %s", i, res.Status, res.Raw)
				}
			}
		}()
	}
	wg.Wait()
	created := 0
	for _, id := range ids {
		done := e.waitImport(id)
		c := counts(done)
		if done["status"] != "completed" || c["processed"] != people || c["invalid"] != 0 {
			t.Fatalf("import %v counts %v", done["status"], c)
		}
		created += c["created"]
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != people {
		t.Fatalf("%d customers, want %d", n, people)
	}
	if n := e.count(`SELECT count(*) FROM customer_identities em JOIN customer_identities ph
		ON ph.organization_id = em.organization_id AND ph.customer_id = em.customer_id AND ph.kind = 'phone'
		WHERE em.kind = 'email' AND em.is_primary AND ph.is_primary`); n != people {
		t.Fatalf("%d customers hold their email and phone, want %d", n, people)
	}
	if created > people {
		t.Fatalf("the imports created %d customers for %d people", created, people)
	}
	t.Logf("the imports created %d of the %d customers, the checkouts the rest", created, people)
}
