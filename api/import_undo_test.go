package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/queue"
)

// dbSnapshot renders, row by row and column by column, the organization's
// customers and everything an import writes on them, leaving out the
// customers listed (those a revert keeps).
func dbSnapshot(t *testing.T, e *env, exclude ...string) string {
	t.Helper()
	if exclude == nil {
		exclude = []string{}
	}
	var out []string
	for _, q := range []string{
		`SELECT 'customer ' || (to_jsonb(c) - 'search_text')::text FROM customers c WHERE organization_id = $1 AND NOT id = ANY($2) ORDER BY id`,
		`SELECT 'identity ' || to_jsonb(i)::text FROM customer_identities i WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY kind, value`,
		`SELECT 'carrier ' || to_jsonb(s)::text FROM shared_identifier_carriers s WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY kind, value, customer_id`,
		`SELECT 'tag ' || to_jsonb(g)::text FROM customer_tags g WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY customer_id, location_id, tag_key`,
		`SELECT 'member ' || to_jsonb(m)::text FROM group_members m WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY group_id, customer_id`,
		`SELECT 'address ' || to_jsonb(a)::text FROM customer_addresses a WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY id`,
		`SELECT 'visit ' || to_jsonb(v)::text FROM customer_locations v WHERE organization_id = $1 AND NOT customer_id = ANY($2) ORDER BY customer_id, location_id`,
	} {
		rows, err := e.store.Pool().Query(context.Background(), q, e.org, exclude)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(out, "\n")
}

// diffLines names the first lines two snapshots differ in.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var d []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			d = append(d, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			d = append(d, "+ "+l)
		}
	}
	return strings.Join(d[:min(len(d), 10)], "\n")
}

func (e *env) customerID(email string) string {
	e.t.Helper()
	var id string
	if err := e.store.Pool().QueryRow(context.Background(),
		`SELECT id FROM customers WHERE organization_id = $1 AND email = $2`, e.org, email).Scan(&id); err != nil {
		e.t.Fatalf("customer %s: %v", email, err)
	}
	return id
}

// An import is undone: the customers it created are deleted, those it
// changed are restored row for row (fields, identifiers, tags, group
// memberships, addresses, visits) — except those changed since by an
// upsert, which are kept and listed. Repeating the request answers the
// same job and changes nothing; another organization's import is not found.
func TestImportRevert(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	group := str(e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "Promo"}).want(t, http.StatusCreated).data()["id"])
	loc := str(e.do("POST", "/api/v1/locations", map[string]any{"name": "Mall"}).want(t, http.StatusCreated).data()["id"])
	first := e.importCSV("/api/v1/imports", []byte("email,first_name,last_name,tags,address1,city,country\n"+
		"ann@example.com,Ann,Lee,vip,1 Hill St,Leeds,GB\n"+
		"bob@example.com,Bob,Ray,,,,\n"+
		"cy@example.com,Cy,Diaz,,,,\n"+
		"dee@example.com,Dee,Fox,,,,\n"))
	if first["status"] != "completed" || counts(first)["created"] != 4 {
		t.Fatalf("first import %v %v", first["status"], first["counts"])
	}
	before := dbSnapshot(t, e.env)
	bob := e.customerID("bob@example.com")

	im := e.importCSV("/api/v1/imports?tags=promo&group_ids="+group+"&location_id="+loc, []byte(
		"email,first_name,last_name,phone,company,address1,city,country\n"+
			"ann@example.com,Ann,Lee-Smith,+44 7700 900123,,2 Dale Rd,York,GB\n"+
			"bob@example.com,Bob,Ray,,Acme,,,\n"+
			"cy@example.com,Cy,Diaz,,,,,\n"+
			"new1@example.com,Nia,One,,,,,\n"+
			"new2@example.com,Ned,Two,+44 7700 900456,,5 Elm St,Hull,GB\n"+
			"new3@example.com,Noa,Three,,,,,\n"+
			",no,identifier,,,,,\n"))
	c := counts(im)
	if im["status"] != "completed" || c["created"] != 3 || c["updated"] != 3 || c["invalid"] != 1 {
		t.Fatalf("import %v %v", im["status"], im["counts"])
	}
	id := str(im["id"])
	// Changed since by something else: kept.
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "bob@example.com", "notes": "called back"}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "new3@example.com", "notes": "asked for a catalogue"}).want(t, http.StatusOK)
	new3 := e.customerID("new3@example.com")
	// A tag added since (a row of its own, not the customer's) counts too.
	new2 := e.customerID("new2@example.com")
	e.do("POST", "/api/v1/customers/"+new2+"/tags", map[string]any{"tags": []string{"called"}}).want(t, http.StatusOK)

	// Another organization's import is not found.
	_, otherKey := e.newOrg("Other", "GB")
	e.doKey(otherKey, "POST", "/api/v1/imports/"+id+"/revert", nil).wantError(t, http.StatusNotFound)

	r := e.do("POST", "/api/v1/imports/"+id+"/revert", nil).want(t, http.StatusAccepted)
	jobID := str(r.data()["id"])
	if r.Header.Get("Location") != "/api/v1/jobs/"+jobID || r.data()["type"] != "import:revert" {
		t.Fatalf("revert accepted: Location %q, body %s", r.Header.Get("Location"), r.Raw)
	}
	job := e.client().WaitJob(jobID, time.Minute)
	if job["state"] != "completed" {
		t.Fatalf("revert job %v", job)
	}
	res, _ := job["result"].(map[string]any)
	var kept []string
	for _, k := range res["kept"].([]any) {
		km := k.(map[string]any)
		if km["reason"] != "changed since the import" {
			t.Fatalf("kept %v", km)
		}
		kept = append(kept, str(km["customer_id"]))
	}
	slices.Sort(kept)
	want := []string{bob, new2, new3}
	slices.Sort(want)
	if !slices.Equal(kept, want) || res["deleted"] != 1.0 || res["restored"] != 2.0 || res["kept_count"] != 3.0 {
		t.Fatalf("revert result %v, kept %v want %v", res, kept, want)
	}
	got := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data()
	if rv, _ := got["revert"].(map[string]any); got["status"] != "reverted" || rv["job_id"] != jobID || rv["kept_count"] != 3.0 {
		t.Fatalf("reverted import %v revert %v", got["status"], got["revert"])
	}
	// Untouched since: as before the import, row for row.
	after := dbSnapshot(t, e.env, bob, new2, new3)
	if wantSnap := dbSnapshot2(t, before, bob); after != wantSnap {
		t.Fatalf("state after revert differs from before the import:\n%s", diffLines(wantSnap, after))
	}
	if n := e.count("SELECT count(*) FROM customers WHERE organization_id = $1 AND email = 'new1@example.com'", e.org); n != 0 {
		t.Fatal("new1@example.com still exists")
	}
	if n := e.count("SELECT count(*) FROM customer_identities WHERE organization_id = $1 AND value LIKE '%7700900456'", e.org); n != 1 {
		t.Fatal("a kept customer lost its phone")
	}
	e.do("GET", "/api/v1/customers/lookup?email=new1@example.com", nil).want(t, http.StatusNotFound)

	// Again: the same job, nothing more done.
	again := e.do("POST", "/api/v1/imports/"+id+"/revert", nil).want(t, http.StatusAccepted).data()
	if again["id"] != jobID || again["state"] != "completed" {
		t.Fatalf("second revert %v, want job %s", again, jobID)
	}
	if snap := dbSnapshot(t, e.env, bob, new2, new3); snap != after {
		t.Fatalf("second revert changed the database:\n%s", diffLines(after, snap))
	}

	// A dry run wrote nothing; a running import cannot be undone yet.
	dry := e.importCSV("/api/v1/imports?dry_run=true", []byte("email\nzed@example.com\n"))
	e.do("POST", "/api/v1/imports/"+str(dry["id"])+"/revert", nil).wantError(t, http.StatusConflict)
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE imports SET status = 'processing' WHERE id = $1`, str(first["id"])); err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v1/imports/"+str(first["id"])+"/revert", nil).wantError(t, http.StatusConflict)
}

// dbSnapshot2 drops the lines of one customer from a snapshot.
func dbSnapshot2(t *testing.T, snap, customerID string) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(snap, "\n") {
		if strings.Contains(l, `"id": "`+customerID+`"`) || strings.Contains(l, `"customer_id": "`+customerID+`"`) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// A revert interrupted mid-way (its worker stopped while a batch waited)
// resumes where it stopped, and two deliveries of its task at once end in
// the same state as one.
func TestImportRevertResumes(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{revertBatch: 4})
	e.importCSV("/api/v1/imports", []byte("email,first_name\nold@example.com,Old\n"))
	before := dbSnapshot(t, e.env)
	var file strings.Builder
	file.WriteString("email,first_name,last_name\nold@example.com,Old,Timer\n")
	for i := range 30 {
		fmt.Fprintf(&file, "r%02d@example.com,R%d,Row\n", i, i)
	}
	im := e.importCSV("/api/v1/imports?tags=batch", []byte(file.String()))
	if c := counts(im); c["created"] != 30 || c["updated"] != 1 {
		t.Fatalf("import %v", im["counts"])
	}
	id := str(im["id"])
	ctx := context.Background()
	jobID, task := e.revertTask(t, id)

	// Hold the last customer created: the batches (arrays of 4 ids,
	// migration 00039) before it commit, its own waits.
	tx, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM customers WHERE organization_id = $1 AND id = (
		SELECT max(u) FROM import_created, unnest(customer_ids) u WHERE import_id = $2) FOR UPDATE`, e.org, id); err != nil {
		t.Fatal(err)
	}
	e.interruptRevert(t, task, "the revert's first batches to commit",
		28, "SELECT coalesce(sum(deleted), 0) FROM import_created WHERE import_id = $1 AND reverted", id)
	// The cancelled batch's session outlives the task: pgx drops the
	// connection and cancels its statement from a goroutine, so on a
	// loaded machine the resumed deliveries met it still holding its rows
	// (then of import_changes, now the last array of import_created),
	// skipped them and summed up without them (27 of 30 deleted). Make that
	// window certain: a session of the test takes those rows (once the
	// cancelled one let go) and keeps them until a delivery waits for it.
	lingering, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lingering.Rollback(ctx) }()
	var lingerPID, held int
	if err := lingering.QueryRow(ctx, `SELECT pg_backend_pid(), (SELECT count(*) FROM (SELECT 1 FROM import_created
		WHERE import_id = $1 AND NOT reverted FOR UPDATE) h)`, id).Scan(&lingerPID, &held); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if held == 0 {
		t.Fatal("nothing left to resume")
	}
	if got := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data(); got["status"] != "reverting" {
		t.Fatalf("interrupted revert: import %v", got["status"])
	}

	mux := workerMux(e)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- mux.ProcessTask(ctx, task) }()
	}
	delivered := make(chan struct{})
	go func() { wg.Wait(); close(delivered) }()
	deadline := time.Now().Add(time.Minute)
wait:
	for e.count("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", lingerPID) == 0 {
		select {
		case <-delivered:
			break wait // summed up without the held rows: the counts below say so
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the resumed deliveries neither ended nor waited for the rows another session holds")
		}
	}
	_ = lingering.Rollback(ctx)
	<-delivered
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("delivery: %v", err)
		}
	}
	done := e.client().WaitJob(jobID, time.Minute)
	if res, _ := done["result"].(map[string]any); res["deleted"] != 30.0 || res["restored"] != 1.0 || res["kept_count"] != 0.0 {
		t.Fatalf("resumed revert %v", done)
	}
	if snap := dbSnapshot(t, e.env); snap != before {
		t.Fatalf("state after the resumed revert:\n%s", diffLines(before, snap))
	}
}

// A revert's batches skip rows another transaction holds (SKIP LOCKED)
// and walk on from where their previous batch stopped; before it sums up,
// the revert waits for what they skipped, so no customer of the import is
// left behind (a batch of a failed job still rolling back, say).
func TestImportRevertWaitsForSkippedRows(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{revertBatch: 2})
	before := dbSnapshot(t, e.env)
	var file strings.Builder
	file.WriteString("email,first_name\n")
	for i := range 12 {
		fmt.Fprintf(&file, "w%02d@example.com,W%d\n", i, i)
	}
	id := str(e.importCSV("/api/v1/imports", []byte(file.String()))["id"])
	ctx := context.Background()
	jobID, task := e.revertTask(t, id)
	// Hold one array of created ids (of 2: migration 00039) in the middle
	// of the import's customers.
	tx, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM import_created WHERE import_id = $1 AND first_id = (
		SELECT first_id FROM import_created WHERE import_id = $1 ORDER BY first_id OFFSET 2 LIMIT 1) FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	go func() { finished <- workerMux(e).ProcessTask(ctx, task) }()
	e.waitCount(t, "the batches around the held row to commit",
		10, "SELECT coalesce(sum(deleted), 0) FROM import_created WHERE import_id = $1 AND reverted", id)
	select {
	case err := <-finished:
		t.Fatalf("the revert ended (%v) with a customer of the import not reverted", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = tx.Rollback(ctx)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	done := e.client().WaitJob(jobID, time.Minute)
	if res, _ := done["result"].(map[string]any); res["deleted"] != 12.0 || res["kept_count"] != 0.0 {
		t.Fatalf("revert %v", done)
	}
	if snap := dbSnapshot(t, e.env); snap != before {
		t.Fatalf("state after the revert:\n%s", diffLines(before, snap))
	}
}

// revertTask starts reverting an import as the API does (its job row, the
// import reverting) and returns the job and the task a worker receives.
func (e *queueEnv) revertTask(t *testing.T, importID string) (string, *asynq.Task) {
	t.Helper()
	job, _, err := e.store.StartImportRevert(context.Background(), e.org, importID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(queue.RevertPayload{JobID: job.ID, OrgID: e.org, ImportID: importID})
	return job.ID, asynq.NewTask(queue.TypeImportRevert, body)
}

// waitCount polls a count query until it reaches n (a minute at most; what
// names the condition).
func (e *queueEnv) waitCount(t *testing.T, what string, n int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for e.count(query, args...) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interruptRevert delivers a revert's task to a worker and cancels the
// delivery once the count query reaches n (waitCount): the delivery must
// fail, leaving the revert to resume.
func (e *queueEnv) interruptRevert(t *testing.T, task *asynq.Task, what string, n int, query string, args ...any) {
	t.Helper()
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan error, 1)
	go func() { failed <- workerMux(e).ProcessTask(stop, task) }()
	e.waitCount(t, what, n, query, args...)
	cancel()
	if err := <-failed; err == nil {
		t.Fatal("the interrupted revert reported success")
	}
}

// csvBytes writes records as a CSV file.
func csvBytes(t *testing.T, records [][]string) []byte {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(records); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// The corrected error report goes back into the same import: fixed rows
// are imported and leave the errors, rows still wrong get a fresh error,
// lines naming a row that was not in error are refused one by one, and
// the counts and error summary follow. Raw and multipart uploads alike.
func TestImportRetry(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	im := e.importCSV("/api/v1/imports?tags=fair", []byte("email,first_name,phone\n"+
		"ok1@example.com,Ann,\n"+
		"not-an-email,Bob,\n"+
		",Cy,12\n"+
		"ok2@example.com,Dee,\n"))
	id := str(im["id"])
	if c := counts(im); c["created"] != 2 || c["invalid"] != 2 {
		t.Fatalf("import %v", im["counts"])
	}
	if sum, _ := im["error_summary"].(map[string]any); len(sum) == 0 {
		t.Fatalf("error summary %v", im["error_summary"])
	}
	report := e.errorCSV(id)
	if len(report) != 3 || report[0][3] != "error" || !strings.HasPrefix(report[1][3], "row 3 error") {
		t.Fatalf("error report %q", report)
	}
	report[1][0] = "bob@example.com" // fixed; row 4 stays wrong
	report = append(report, []string{"ok1@example.com", "Ann", "", "row 2 error: made up"})
	_, otherKey := e.newOrg("Other", "")
	linkittest.Client{T: t, URL: e.url, Key: otherKey}.Upload("/api/v1/imports/"+id+"/retry", "", "text/csv", csvBytes(t, report)).Want(t, http.StatusNotFound)
	e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", []byte("email,first_name\nx@example.com,X\n")).wantError(t, http.StatusUnprocessableEntity, "file")

	got := e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", csvBytes(t, report)).want(t, http.StatusAccepted).data()
	rs, _ := got["retry"].(map[string]any)
	if rs["retried"] != 2.0 || rs["valid"] != 1.0 || rs["invalid"] != 1.0 || len(rs["rejected"].([]any)) != 1 {
		t.Fatalf("retry %v", rs)
	}
	if rej := rs["rejected"].([]any)[0].(map[string]any); rej["row"] != 2.0 || rej["line"] != 4.0 {
		t.Fatalf("rejected %v", rej)
	}
	done := e.waitImport(id)
	if c := counts(done); done["status"] != "completed" || c["created"] != 3 || c["invalid"] != 1 || c["rows"] != 4 || c["processed"] != 3 {
		t.Fatalf("after retry %v %v", done["status"], done["counts"])
	}
	if sum, _ := done["error_summary"].(map[string]any); len(sum) != 1 {
		t.Fatalf("error summary after retry %v", done["error_summary"])
	}
	errs := e.do("GET", "/api/v1/imports/"+id+"/errors", nil).want(t, http.StatusOK).list()
	if len(errs) != 1 || errs[0]["row"] != 4.0 {
		t.Fatalf("errors after retry %v", errs)
	}
	bob := e.do("GET", "/api/v1/customers/lookup?email=bob@example.com", nil).want(t, http.StatusOK).data()
	if bob["first_name"] != "Bob" || !strings.Contains(fmt.Sprint(bob["tags"]), "fair") {
		t.Fatalf("retried customer %v", bob)
	}

	// The last row, fixed, as a multipart upload.
	report = e.errorCSV(id)
	if len(report) != 2 || !strings.HasPrefix(report[1][3], "row 4 error") {
		t.Fatalf("second report %q", report)
	}
	report[1][2] = "+1 415 555 0100"
	e.upload("/api/v1/imports/"+id+"/retry", "fixed.csv", "", csvBytes(t, report)).want(t, http.StatusAccepted)
	done = e.waitImport(id)
	if c := counts(done); c["created"] != 4 || c["invalid"] != 0 || c["processed"] != 4 {
		t.Fatalf("after the second retry %v", done["counts"])
	}
	if n := len(e.errorCSV(id)); n != 1 {
		t.Fatalf("%d lines in the report of an import without errors", n)
	}

	// Retried rows are the import's too: reverting it removes them.
	job := str(e.do("POST", "/api/v1/imports/"+id+"/revert", nil).want(t, http.StatusAccepted).data()["id"])
	if res := e.client().WaitJob(job, time.Minute)["result"].(map[string]any); res["deleted"] != 4.0 {
		t.Fatalf("revert of a retried import %v", res)
	}
	if n := e.count("SELECT count(*) FROM customers WHERE organization_id = $1", e.org); n != 0 {
		t.Fatalf("%d customers after the revert", n)
	}
	e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", csvBytes(t, report)).wantError(t, http.StatusConflict)
}

// A dry run says what would happen, with the first rows of each outcome —
// invalid rows included — and writes no customer and no before-image.
func TestImportDryRunSamples(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	e.createCustomer(map[string]any{"email": "known@example.com"})
	im := e.importCSV("/api/v1/imports?dry_run=true", []byte("email,first_name\n"+
		"known@example.com,Test\n"+
		"fresh@example.com,Fay\n"+
		"not-an-email,Nat\n"+
		"FRESH@example.com,Fay\n"+
		",Nobody\n"))
	c := counts(im)
	if c["created"] != 1 || c["updated"] != 1 || c["merged_in_file"] != 1 || c["invalid"] != 2 {
		t.Fatalf("dry-run counts %v", c)
	}
	samples, _ := im["samples"].(map[string]any)
	for kind, want := range map[string]string{"update": "[2]", "create": "[3]", "invalid": "[4 6]", "merge_in_file": "[5]"} {
		if got := fmt.Sprint(samples[kind]); got != want {
			t.Fatalf("samples[%s] = %s, want %s (all: %v)", kind, got, want, samples)
		}
	}
	if n := e.count(`SELECT (SELECT count(*) FROM import_changes WHERE import_id = $1)
		+ (SELECT count(*) FROM import_created WHERE import_id = $1)`, str(im["id"])); n != 0 {
		t.Fatalf("a dry run recorded %d before-images or created ids", n)
	}
}
