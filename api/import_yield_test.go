package api_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
)

// While API processes are busy (requests of any organization in flight),
// an import's slots wait after each chunk (worker.Deps.ImportYield times
// the chunk's time), so a large import leaves the cores to the requests;
// once the API is quiet it goes on at full speed, and every row lands.
func TestImportMakesWayWhileTheAPIIsBusy(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 20, noWorker: true, cfg: api.Config{MetricsPublic: true}})
	e.stack.Deps.ImportYield = 100
	e.startWorker(0)

	quiet := keepBusy(e)
	defer quiet()

	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := range 400 {
		fmt.Fprintf(&b, "yield%d@example.com,Name%d\n", i, i)
	}
	id := str(e.upload("/api/v1/imports", "large.csv", "", []byte(b.String())).want(t, http.StatusAccepted).data()["id"])
	var first time.Time
	for deadline := time.Now().Add(time.Minute); first.IsZero(); time.Sleep(20 * time.Millisecond) {
		im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data()
		if counts(im)["processed"] > 0 {
			first = time.Now()
		}
		if im["status"] == "completed" || time.Now().After(deadline) {
			t.Fatalf("while the API was busy the import did not merge chunk by chunk: %v", im)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data()
	if im["status"] != "processing" || counts(im)["processed"] > 200 {
		t.Fatalf("1.5 s after its first chunk, with the API busy, the import had processed %d of 400 rows (%v): "+
			"its slots did not wait", counts(im)["processed"], im["status"])
	}
	t.Logf("with the API busy: %d of 400 rows 1.5 s after the first chunk", counts(im)["processed"])

	quiet()
	if im := e.waitImport(id); im["status"] != "completed" || counts(im)["created"] != 400 {
		t.Fatalf("after the API went quiet: %v", im)
	}
	// Operators see it: chunks merged beside requests, and the wait.
	m := linkittest.Call(t, "GET", e.stack.URL+"/metrics", "", nil).Want(t, http.StatusOK).Raw
	busyChunks := regexp.MustCompile(`(?m)^linkit_import_chunks_beside_requests_total (\d+)$`).FindStringSubmatch(m)
	waited := regexp.MustCompile(`(?m)^linkit_import_yield_seconds_total ([0-9.e+-]+)$`).FindStringSubmatch(m)
	if busyChunks == nil || busyChunks[1] == "0" || waited == nil || waited[1] == "0" {
		t.Fatalf("/metrics: %v, %v:\n%s", busyChunks, waited, grepLines(m, "linkit_import"))
	}
	var n int
	if err := e.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM customers WHERE organization_id = $1`, e.org).Scan(&n); err != nil || n != 400 {
		t.Fatalf("customers: %d, %v", n, err)
	}
}

// Every search that asks the trigram index scans its pending list, whatever
// the organization: an import chunk run while the API is busy merges the
// list at 8 MB instead of 128 MB (postgres.ChunkOptions.Interactive), so
// another tenant's searches beside a large import stay cheap.
func TestImportChunkKeepsThePendingListShortWhileTheAPIIsBusy(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 12000, noWorker: true})
	ctx := context.Background()
	if _, err := e.store.Pool().Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pgstattuple`); err != nil {
		t.Fatal(err)
	}
	pending := func() int {
		var n int
		if err := e.store.Pool().QueryRow(ctx, `SELECT pending_pages FROM pgstatginindex('customers_search'::regclass)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var b strings.Builder
	b.WriteString("first_name,last_name,email,phone,company\n")
	for i := range 30000 {
		fmt.Fprintf(&b, "Firstname%d,Lastname%d,customer.number%d@example.com,+1 415 %03d %04d,Company %d Incorporated\n", i, i, i, 200+i/10000, i%10000, i)
	}
	id := str(e.upload("/api/v1/imports", "large.csv", "", []byte(b.String())).want(t, http.StatusAccepted).data()["id"])
	// Staged by the upload; no worker plans it: the test runs its chunks.
	if im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data(); im["status"] != "processing" || counts(im)["processed"] != 0 {
		t.Fatalf("after the upload: %v", im)
	}
	chunks, err := e.store.PlanImport(ctx, e.org, id)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("plan: %v, %v", chunks, err)
	}
	if _, err := e.store.RunImportChunk(ctx, e.org, id, chunks[0], postgres.ChunkOptions{}); err != nil {
		t.Fatal(err)
	}
	quiet := pending()
	if quiet <= 8<<20/8192 {
		t.Fatalf("a chunk beside a quiet API left %d pending pages, want more than 8 MB's (the test's rows too small?)", quiet)
	}
	if _, err := e.store.RunImportChunk(ctx, e.org, id, chunks[1], postgres.ChunkOptions{Interactive: true}); err != nil {
		t.Fatal(err)
	}
	busy := pending()
	if busy > 8<<20/8192 {
		t.Fatalf("a chunk beside a busy API left %d pending pages (%d before it), want at most 8 MB's", busy, quiet)
	}
	t.Logf("pending pages after a chunk beside a quiet API %d, then after one beside a busy API %d", quiet, busy)
	for _, c := range chunks[2:] {
		if _, err := e.store.RunImportChunk(ctx, e.org, id, c, postgres.ChunkOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data(); im["status"] != "completed" || counts(im)["created"] != 30000 {
		t.Fatalf("import: %v", im)
	}
}

// An import's revert makes way as its chunks do: while the API is busy its
// batches wait (Deps.ImportYield times each batch's time), and once the
// API is quiet it completes, every created customer deleted.
func TestImportRevertMakesWayWhileTheAPIIsBusy(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{revertBatch: 10, noWorker: true})
	e.stack.Deps.ImportYield = 100
	e.startWorker(0)
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := range 200 {
		fmt.Fprintf(&b, "undo%d@example.com,Name%d\n", i, i)
	}
	im := e.importCSV("/api/v1/imports", []byte(b.String()))
	if counts(im)["created"] != 200 {
		t.Fatalf("import: %v", im)
	}
	customers := func() int { return e.count(`SELECT count(*) FROM customers WHERE organization_id = $1`, e.org) }

	quiet := keepBusy(e)
	defer quiet()
	time.Sleep(100 * time.Millisecond)
	job := str(e.do("POST", "/api/v1/imports/"+str(im["id"])+"/revert", nil).want(t, http.StatusAccepted).data()["id"])
	time.Sleep(1500 * time.Millisecond)
	if n := customers(); n < 100 {
		t.Fatalf("1.5 s into the revert, with the API busy, %d of 200 created customers were left: its batches did not wait", n)
	} else {
		t.Logf("with the API busy: %d of 200 created customers left 1.5 s into the revert", n)
	}
	quiet()
	if j := e.client().WaitJob(job, time.Minute); j["state"] != "completed" {
		t.Fatalf("revert job after the API went quiet: %v", j)
	}
	if n := customers(); n != 0 {
		t.Fatalf("%d customers left after the revert", n)
	}
}

// keepBusy says the API is busy (queue.Activity) until quiet is called.
func keepBusy(e *queueEnv) (quiet func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			_ = e.stack.Deps.Activity.MarkBusy(ctx)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return cancel
}
