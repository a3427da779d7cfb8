package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The customers an import created are recorded as arrays of ids
// (import_created, migration 00039), each reverted whole in one
// transaction. A revert cancelled while it waits on an array leaves that
// array untouched (none of its customers deleted) and, delivered again,
// deletes exactly the customers the import created: not one it changed
// (restored), nor one changed since (kept, with its reason); one a
// retried row of the same import changed after creating it goes too.
func TestImportRevertResumesOverArrays(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{revertBatch: 4})
	e.importCSV("/api/v1/imports", []byte("email,first_name\nold@example.com,Old\n"))
	old := e.customerID("old@example.com")
	var file strings.Builder
	file.WriteString("email,first_name,last_name\nold@example.com,Old,Timer\nnot-an-email,Bad,\n")
	for i := range 10 {
		fmt.Fprintf(&file, "n%02d@example.com,N%d,\n", i, i)
	}
	im := e.importCSV("/api/v1/imports", []byte(file.String()))
	id := str(im["id"])
	if c := counts(im); c["created"] != 10 || c["updated"] != 1 || c["invalid"] != 1 {
		t.Fatalf("import %v", im["counts"])
	}
	if n := e.count(`SELECT count(*) FROM import_created WHERE import_id = $1`, id); n != 3 {
		t.Fatalf("%d arrays of created ids, want 3 (of 4, 4 and 2)", n)
	}
	// A retried row of the import changes a customer it created.
	report := e.errorCSV(id)
	report[1][0], report[1][1], report[1][2] = "n03@example.com", "N3", "Later"
	e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", csvBytes(t, report)).want(t, http.StatusAccepted)
	if c := counts(e.waitImport(id)); c["created"] != 10 || c["updated"] != 2 {
		t.Fatalf("after the retry %v", c)
	}
	changed := e.customerID("n07@example.com")
	e.do("PATCH", "/api/v1/customers/"+changed, map[string]any{"last_name": "Since"}).want(t, http.StatusOK)

	ctx := context.Background()
	jobID, task := e.revertTask(t, id)

	// Hold a customer of the second array: the others are reverted, that
	// one waits until the delivery is cancelled.
	var held []string
	if err := e.store.Pool().QueryRow(ctx, `SELECT customer_ids FROM import_created WHERE import_id = $1
		ORDER BY first_id OFFSET 1 LIMIT 1`, id).Scan(&held); err != nil {
		t.Fatal(err)
	}
	tx, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM customers WHERE organization_id = $1 AND id = $2 FOR UPDATE`, e.org, held[len(held)-1]); err != nil {
		t.Fatal(err)
	}
	e.interruptRevert(t, task, "the arrays around the held customer to be reverted",
		2, `SELECT count(*) FROM import_created WHERE import_id = $1 AND reverted`, id)
	_ = tx.Rollback(ctx)
	if n := e.count(`SELECT count(*) FROM customers WHERE organization_id = $1 AND id = ANY($2)`, e.org, held); n != len(held) {
		t.Fatalf("the interrupted array lost %d of its %d customers", len(held)-n, len(held))
	}
	if n := e.count(`SELECT count(*) FROM import_created WHERE import_id = $1 AND NOT reverted`, id); n != 1 {
		t.Fatalf("%d arrays left to revert, want the held one", n)
	}

	if err := workerMux(e).ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	res, _ := e.client().WaitJob(jobID, time.Minute)["result"].(map[string]any)
	kept, _ := res["kept"].([]any)
	if res["deleted"] != 9.0 || res["restored"] != 1.0 || res["kept_count"] != 1.0 || len(kept) != 1 {
		t.Fatalf("resumed revert %v", res)
	}
	if k := kept[0].(map[string]any); k["customer_id"] != changed || k["created"] != true || k["reason"] != "changed since the import" {
		t.Fatalf("kept %v", k)
	}
	rows, err := e.store.Pool().Query(ctx, `SELECT id || ' ' || first_name FROM customers WHERE organization_id = $1 ORDER BY id`, e.org)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	want := []string{old + " Old", changed + " N7"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("customers after the revert %q, want %q", left, want)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE organization_id = $1 AND import_id = $2 AND type = 'customer.deleted'`,
		e.org, id); n != 9 {
		t.Fatalf("%d deletion events, want 9", n)
	}
}

// Erasing a customer an import created takes its id out of the import's
// array (it names the person), and only out of that: another import's
// arrays stay as they were. The import's revert then leaves the erased
// record alone (no deletion, no event, still erased) and deletes the others.
func TestEraseTakesImportCreatedID(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	im := e.importCSV("/api/v1/imports", []byte("email\nera.a@example.com\nera.b@example.com\nera.c@example.com\n"))
	id := str(im["id"])
	other := str(e.importCSV("/api/v1/imports", []byte("email\nother.a@example.com\nother.b@example.com\n"))["id"])
	otherIDs := func() string {
		var ids string
		if err := e.store.Pool().QueryRow(context.Background(), `SELECT string_agg(u, ',' ORDER BY u) FROM import_created, unnest(customer_ids) u
			WHERE import_id = $1`, other).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	otherBefore := otherIDs()
	era := e.customerID("era.b@example.com")
	// What erasure finds the array by: the customer's creation event, of
	// the import, written in the chunk's transaction (the array's).
	if n := e.count(`SELECT count(*) FROM audit_created ev JOIN import_created a ON a.organization_id = ev.organization_id
		AND a.import_id = ev.import_id AND (a.written::text::bigint % 4294967296)::text = ev.xmin::text
		WHERE $1 = ANY(ev.customer_ids) AND $2 = ANY(a.customer_ids)`, era, era); n != 1 {
		t.Fatalf("%d arrays written with the customer's creation event, want 1", n)
	}
	e.do("POST", "/api/v1/customers/"+era+"/erase", nil).want(t, http.StatusOK)
	if n := e.count(`SELECT count(*) FROM import_created, unnest(customer_ids) u WHERE import_id = $1 AND u = $2`, id, era); n != 0 {
		t.Fatal("the erased customer's id is still in the import's array")
	}
	if n := e.count(`SELECT count(*) FROM import_created, unnest(customer_ids) u WHERE import_id = $1`, id); n != 2 {
		t.Fatalf("%d ids left in the import's arrays, want 2", n)
	}
	if got := otherIDs(); got != otherBefore || strings.Count(got, ",") != 1 {
		t.Fatalf("another import's arrays changed by the erasure: %q, were %q", got, otherBefore)
	}
	res := e.revertImport(t, id)
	if res["deleted"] != 2.0 || res["kept_count"] != 0.0 {
		t.Fatalf("revert %v", res)
	}
	e.do("GET", "/api/v1/customers/"+era, nil).want(t, http.StatusGone)
	if n := e.count(`SELECT (SELECT count(*) FROM audit_events WHERE customer_id = $1 AND type <> $2)
		+ (SELECT count(*) FROM audit_created WHERE $1 = ANY(customer_ids))`, era, "customer.erased"); n != 1 {
		t.Fatalf("%d events of the erased customer besides its erasure, want its creation only (the revert touched it)", n)
	}
	if n := e.count(`SELECT count(*) FROM import_changes WHERE customer_id = $1`, era); n != 0 {
		t.Fatalf("the revert recorded the erased customer (%d rows)", n)
	}
}
