package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
)

// importFile makes rows whose identities repeat and chain across the file.
func importFile(rows int) []byte {
	rng := rand.New(rand.NewPCG(21, 4))
	var b strings.Builder
	b.WriteString("Email,Phone,First Name,Company\n")
	for i := range rows {
		email, phone := "", ""
		if rng.IntN(10) < 8 {
			email = fmt.Sprintf("k%d@example.com", rng.IntN(rows/2))
		}
		if rng.IntN(10) < 5 {
			phone = fmt.Sprintf("+1 415 %03d %04d", 200+rng.IntN(5), rng.IntN(rows/2)%10000)
		}
		fmt.Fprintf(&b, "%s,%s,F%d,C%d\n", email, phone, i%50, rng.IntN(7))
	}
	return []byte(b.String())
}

// importStack is an in-process API (no worker) over a fresh database, and
// the environment of the linkit work processes that do its imports.
type importStack struct {
	*linkittest.Stack
	env testEnv
}

func newImportStack(t *testing.T, chunkRows string) *importStack {
	t.Helper()
	rows, err := strconv.Atoi(chunkRows)
	if err != nil {
		t.Fatal(err)
	}
	s := linkittest.New(t, linkittest.WithoutWorker(), linkittest.WithNamespace("i"), linkittest.WithOrg("Import Kill"),
		linkittest.WithStore(postgres.Options{ChunkRows: rows}))
	env := testEnv{
		"LINKIT_DATABASE_URL":       s.DatabaseURL,
		"LINKIT_REDIS_URL":          s.RedisURL,
		"LINKIT_QUEUE_NAMESPACE":    s.Names.Namespace,
		"LINKIT_IMPORT_CHUNK_ROWS":  chunkRows,
		"LINKIT_IMPORT_CONCURRENCY": "2",
	}
	return &importStack{Stack: s, env: env}
}

func (s *importStack) upload(t *testing.T, file []byte) string {
	t.Helper()
	return str(s.Upload("/api/v1/imports", "", "text/csv", file).Want(t, http.StatusAccepted).Data()["id"])
}

func (s *importStack) status(t *testing.T, id string) map[string]any {
	t.Helper()
	return s.Answer(s.API().GetImport(t.Context(), id)).Want(t, http.StatusOK).Data()
}

func (s *importStack) wait(t *testing.T, id string, within time.Duration) map[string]any {
	t.Helper()
	return s.WaitImport(id, within)
}

// state renders every live customer by identifiers and fields, id-free.
func (s *importStack) state(t *testing.T) string {
	t.Helper()
	rows, err := s.Store.Pool().Query(context.Background(), `
		SELECT c.first_name, c.company_name, c.email, c.phone,
			(SELECT string_agg(kind || ':' || value || ':' || is_primary, ' ' ORDER BY kind, value)
				FROM customer_identities i WHERE i.organization_id = c.organization_id AND i.customer_id = c.id)
		FROM customers c WHERE c.merged_into IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var f [5]string
		if err := rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4]); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Join(f[:], "|"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A worker killed with SIGKILL in the middle of an import: asynq recovers
// its chunk tasks, the killed chunk's transaction was rolled back, and the
// import ends exactly like an undisturbed run.
func TestImportWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a worker mid-import and waits for its tasks to be recovered (~15 s)")
	}
	t.Parallel()
	bin := buildLinkit(t)
	file := importFile(6000)

	ref := newImportStack(t, "150")
	startWorkerProc(t, bin, ref.env)
	refStart := time.Now()
	refID := ref.upload(t, file)
	if im := ref.wait(t, refID, 90*time.Second); im["status"] != "completed" {
		t.Fatalf("undisturbed import: %v", im)
	}
	refTook := time.Since(refStart)
	want := ref.state(t)

	s := newImportStack(t, "150")
	id := s.upload(t, file)
	w := startWorkerProc(t, bin, s.env)
	deadline := time.Now().Add(60 * time.Second)
	for {
		im := s.status(t, id)
		done, _ := im["chunks_done"].(float64)
		chunks, _ := im["chunks"].(float64)
		if done >= 2 && done < chunks {
			break
		}
		if im["status"] == "completed" || time.Now().After(deadline) {
			t.Fatalf("could not catch the import mid-way: %v", im)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.done
	mid := s.status(t, id)
	if mid["status"] != "processing" {
		t.Fatalf("import after the kill: %v", mid)
	}
	restarted := time.Now()
	startWorkerProc(t, bin, s.env)
	done := s.wait(t, id, 150*time.Second)
	if done["status"] != "completed" {
		t.Fatalf("import after a killed worker: %v", done)
	}
	// The killed chunk waits for its lease to go stale (queue.OrphanAfter),
	// then the rest is at most a whole undisturbed run; asynq alone took a
	// minute more.
	if took := time.Since(restarted); took > refTook+20*time.Second {
		t.Errorf("import completed %s after the restart (undisturbed run: %s)", took.Round(time.Second), refTook.Round(time.Second))
	}
	if got := s.state(t); got != want {
		t.Fatalf("killed-worker import differs from the undisturbed run:\n%.2000s\n---\n%.2000s", got, want)
	}
	if c, r := done["counts"], ref.status(t, refID)["counts"]; fmt.Sprint(c) != fmt.Sprint(r) {
		t.Fatalf("counts %v, undisturbed %v", c, r)
	}
}
