package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/linkittest"
)

// Redis restarted empty mid-import, the worker running with its production
// settings: the import resumes within seconds (it waited a minute for the
// reconciler's idle threshold) and ends like an undisturbed run.
func TestImportResumesSoonAfterRedisLoss(t *testing.T) {
	t.Parallel()
	file := linkedFile(rand.New(rand.NewPCG(7, 11)), 1200)
	want := undisturbed(t, file)

	url := linkittest.RedisDBURL(13) // this test's own Redis DB: FLUSHDB is safe here
	e := newQueueEnv(t, queueOpts{chunkRows: 40, noWorker: true, redisURL: url})
	id := str(e.upload("/api/v1/imports", "", "text/csv", file).want(t, http.StatusAccepted).data()["id"])
	e.startWorker(0) // the defaults of linkit work
	deadline := time.Now().Add(60 * time.Second)
	for {
		im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data()
		done, _ := im["chunks_done"].(float64)
		if done >= 1 {
			break
		}
		if im["status"] != "processing" || time.Now().After(deadline) {
			t.Fatalf("could not catch the import mid-way: %v", im)
		}
		time.Sleep(5 * time.Millisecond)
	}
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flushed := time.Now()
	done := e.waitImport(id)
	took := time.Since(flushed)
	t.Logf("import completed %s after the flush", took.Round(100*time.Millisecond))
	if done["status"] != "completed" {
		t.Fatalf("import after the flush: %v", done)
	}
	if took > 15*time.Second {
		t.Errorf("import completed %s after Redis lost its tasks, want under 15 s", took.Round(time.Second))
	}
	if got := canonicalState(t, e.env); got != want {
		t.Fatalf("state after a Redis flush differs from an undisturbed run:\n%s\n---\n%s", head(got), head(want))
	}
}

// A hundred and fifty uploads of one organization stuck in reading (their
// API process died) fail with a readable error after the upload timeout,
// and meanwhile do not stop the reconciler from resuming another
// organization's import whose tasks Redis lost.
func TestStuckUploadsExpireWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	stuckOrg, stuckKey := e.newOrg("Stuck Uploads", "")
	var stuckID string
	for i := range 150 {
		im := &customer.Import{OrganizationID: stuckOrg, Kind: customer.ImportCustomers, FileName: fmt.Sprintf("deep-%d.json", i)}
		if err := e.store.CreateImport(ctx, im); err != nil {
			t.Fatal(err)
		}
		stuckID = im.ID
	}
	if _, err := e.store.Pool().Exec(ctx, `UPDATE imports SET updated = now() - interval '2 hours'
		WHERE organization_id = $1`, stuckOrg); err != nil {
		t.Fatal(err)
	}

	// The other tenant's import is staged and planned, then Redis loses its task.
	id := str(e.upload("/api/v1/imports", "", "text/csv", []byte("Email\r\nann@example.com\r\nbob@example.com\r\n")).
		want(t, http.StatusAccepted).data()["id"])
	inspector := asynq.NewInspector(e.opt)
	defer inspector.Close()
	if n, err := inspector.DeleteAllPendingTasks(e.names.Imports()); err != nil || n == 0 {
		t.Fatalf("deleted %d pending import tasks: %v", n, err)
	}
	e.startWorker(100 * time.Millisecond)
	if done := e.waitImport(id); done["status"] != "completed" {
		t.Fatalf("the other tenant's import: %v", done)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		var reading, failed int
		if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'reading'),
				count(*) FILTER (WHERE status = 'failed') FROM imports WHERE organization_id = $1`, stuckOrg).
			Scan(&reading, &failed); err != nil {
			t.Fatal(err)
		}
		if failed == 150 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stuck uploads after the timeout: %d reading, %d failed", reading, failed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// What the tenant sees of one of them.
	im := e.doKey(stuckKey, "GET", "/api/v1/imports/"+stuckID, nil).want(t, http.StatusOK).data()
	if im["status"] != "failed" || !strings.Contains(fmt.Sprint(im["error"]), "did not finish within 1h0m0s") {
		t.Fatalf("expired upload as its tenant sees it: %v", im)
	}
}
