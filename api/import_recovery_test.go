package api_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

	const url = "redis://127.0.0.1:6379/12" // this test's own Redis DB: FLUSHDB is safe here
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

	e := newQueueEnv(t, queueOpts{chunkRows: 40})
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
