package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/worker"
)

// revertRows is every row of the organization a customer import, its
// merges or its revert can write, as JSON text per table — customers with
// their updated time (a revert restores it) — beside the merge records.
func revertRows(e *env) map[string][]string {
	e.t.Helper()
	tables := map[string]string{
		"customers":                  "id",
		"customer_identities":        "kind, value",
		"shared_identifiers":         "kind, value",
		"shared_identifier_carriers": "kind, value, customer_id",
		"customer_tags":              "customer_id, location_id, tag_key",
		"group_members":              "group_id, customer_id",
		"customer_locations":         "customer_id, location_id",
		"customer_addresses":         "id",
		"customer_contacts":          "id",
		"orders":                     "id",
		"order_items":                "order_id, line",
		"credit_checks":              "id",
		"customer_order_months":      "customer_id, month",
		"customer_product_months":    "customer_id, month, product_id",
		"duplicate_suggestions":      "customer_a, customer_b",
		"customer_merges":            "id",
	}
	out := map[string][]string{}
	for table, key := range tables {
		rows, err := e.store.Pool().Query(context.Background(),
			"SELECT (to_jsonb(t) - 'search_text')::text FROM "+table+" t WHERE organization_id = $1 ORDER BY "+key, e.org)
		if err != nil {
			e.t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				e.t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		rows.Close()
	}
	return out
}

// revertImport reverts an import and waits for its job; it returns the result.
func (e *queueEnv) revertImport(t *testing.T, id string) map[string]any {
	t.Helper()
	r := e.do("POST", "/api/v1/imports/"+id+"/revert", nil).want(t, http.StatusAccepted)
	job := e.client().WaitJob(str(r.data()["id"]), time.Minute)
	if job["state"] != "completed" {
		t.Fatalf("revert job %v", job)
	}
	res, _ := job["result"].(map[string]any)
	return res
}

// An import whose rows merge two existing customers (each with
// identifiers, tags, groups, visits, addresses, contacts, an order, a
// pair, one an earlier merge's survivor), an existing customer into a
// customer created by an earlier row of the same chunk, and a created
// customer into an existing one: its revert puts every row of the
// organization back as it was before the import, and no merge record of
// the import is left to unmerge.
func TestImportRevertMerges(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a, b, _ := twoPeople(t, e)
	old := e.createCustomer(map[string]any{"email": "old-bee@example.com", "notes": "merged long ago"})
	e.do("POST", "/api/v1/customers/"+str(b["id"])+"/merge", map[string]any{"source_ids": []string{str(old["id"])}}).want(t, http.StatusOK)
	f := e.createCustomer(map[string]any{"phone": "+14155550222", "company_name": "Eff Co"})
	e.do("POST", "/api/v1/customers/"+str(f["id"])+"/tags", map[string]any{"tags": []string{"eff"}}).want(t, http.StatusOK)
	e.createCustomer(map[string]any{"email": "ex-isting@example.com", "notes": "was here"})
	before := revertRows(e.env)

	im := e.importCSV("/api/v1/imports?merge_policy=merge_conflicts&tags=merging", []byte("email,phone\n"+
		str(a["email"])+",+14155550199\n"+ // Ann's email, Bee's phone: Bee into Ann
		"new-n@example.com,\n"+ // creates N
		"new-n@example.com,+14155550222\n"+ // N's email, F's phone: existing F into created N
		",+14155550333\n"+ // creates M
		"ex-isting@example.com,+14155550333\n")) // existing E, M's phone: created M into E
	if im["status"] != "completed" {
		t.Fatalf("import %v", im)
	}
	id := str(im["id"])
	e.do("GET", "/api/v1/customers/"+str(b["id"]), nil).want(t, http.StatusMovedPermanently)
	e.do("GET", "/api/v1/customers/"+str(f["id"]), nil).want(t, http.StatusMovedPermanently)
	if n := e.count(`SELECT count(*) FROM customer_merges WHERE organization_id = $1 AND import_id = $2`, e.org, id); n == 0 {
		t.Fatal("the import recorded no merge")
	}

	res := e.revertImport(t, id)
	if res["kept_count"] != 0.0 || res["deleted"] != 1.0 {
		t.Fatalf("revert %v", res)
	}
	diffRows(t, before, revertRows(e.env))
	e.do("GET", "/api/v1/customers/"+str(b["id"]), nil).want(t, http.StatusOK)
	e.do("GET", "/api/v1/customers/lookup?email=new-n@example.com", nil).want(t, http.StatusNotFound)
	if loc := e.do("GET", "/api/v1/customers/"+str(old["id"]), nil).want(t, http.StatusMovedPermanently).Header.Get("Location"); loc != "/api/v1/customers/"+str(b["id"]) {
		t.Fatalf("the earlier merge's source redirects to %q", loc)
	}
}

// Before-images are kept for LINKIT_RETENTION_IMPORT_CHANGES after an
// import finished; once the reconciler purged them, a revert is refused
// with a 409 naming why, and the import's customers stay as they are.
func TestImportRevertAfterRetention(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	e.stack.StartWorker(worker.Config{Concurrency: 4, ReconcileEvery: 100 * time.Millisecond,
		RetentionJobs: -1, RetentionImportErrors: -1, RetentionImportChanges: time.Millisecond})
	im := e.importCSV("/api/v1/imports", []byte("email\nkept.past.window@example.com\nalso.kept@example.com\n"))
	if counts(im)["created"] != 2 {
		t.Fatalf("import %v", im)
	}
	id := str(im["id"])
	deadline := time.Now().Add(30 * time.Second)
	for e.count(`SELECT count(*) FROM imports WHERE id = $1 AND changes_purge = 'purged'`, id) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the before-images were not purged")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.count(`SELECT (SELECT count(*) FROM import_changes WHERE import_id = $1)
		+ (SELECT count(*) FROM import_created WHERE import_id = $1)`, id); n != 0 {
		t.Fatalf("%d before-images or created ids left", n)
	}
	d := e.do("POST", "/api/v1/imports/"+id+"/revert", nil).wantError(t, http.StatusConflict).details()
	if d["reason"] != "before_images_purged" {
		t.Fatalf("409 details %v", d)
	}
	e.do("GET", "/api/v1/customers/lookup?email=kept.past.window@example.com", nil).want(t, http.StatusOK)
	if got := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data(); got["status"] != "completed" {
		t.Fatalf("import after the refused revert: %v", got["status"])
	}
}

// A JSON import is retried like a CSV one: its error report (CSV, the
// flattened keys as columns), corrected, goes back into the same import.
// An order import answers a 409 saying why and what to do instead.
func TestImportRetryJSON(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	body := `[{"email":"jr1@example.com","first_name":"Jo","address":{"city":"Leeds"}},` +
		`{"email":"not-an-email","first_name":"Kim","address":{"city":"York"}},{"email":"jr3@example.com"}]`
	im := e.waitImport(str(e.upload("/api/v1/imports?tags=json", "", "application/json", []byte(body)).want(t, http.StatusAccepted).data()["id"]))
	id := str(im["id"])
	if c := counts(im); im["format"] != "json" || c["created"] != 2 || c["invalid"] != 1 {
		t.Fatalf("import %v %v", im["format"], im["counts"])
	}
	// The report holds each row's object: corrected in place.
	report := e.errorCSV(id)
	if len(report) != 2 || report[0][0] != "original" || !strings.Contains(report[1][0], "not-an-email") {
		t.Fatalf("error report %q", report)
	}
	report[1][0] = strings.Replace(report[1][0], "not-an-email", "kim@example.com", 1)
	e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", []byte("email,error\nkim@example.com,row 3 error: x\n")).
		wantError(t, http.StatusUnprocessableEntity, "file")
	got := e.upload("/api/v1/imports/"+id+"/retry", "", "text/csv", csvBytes(t, report)).want(t, http.StatusAccepted).data()
	if rs, _ := got["retry"].(map[string]any); rs["retried"] != 1.0 || rs["valid"] != 1.0 {
		t.Fatalf("retry %v", got["retry"])
	}
	done := e.waitImport(id)
	if c := counts(done); done["status"] != "completed" || c["created"] != 3 || c["invalid"] != 0 {
		t.Fatalf("after retry %v %v", done["status"], done["counts"])
	}
	kim := e.do("GET", "/api/v1/customers/lookup?email=kim@example.com", nil).want(t, http.StatusOK).data()
	if kim["first_name"] != "Kim" || !strings.Contains(fmt.Sprint(kim["tags"]), "json") {
		t.Fatalf("retried customer %v", kim)
	}

	orders := e.upload("/api/v1/imports?kind=orders&default_region=US", "orders.csv", "", []byte(
		"order_number,order_date,email,total\nO-1,2026-01-02,bad-email,10\n")).want(t, http.StatusAccepted).data()
	e.waitImport(str(orders["id"]))
	d := e.upload("/api/v1/imports/"+str(orders["id"])+"/retry", "", "text/csv", []byte("order_number,email,total,error\nO-1,a@example.com,10,row 2 error: x\n")).
		wantError(t, http.StatusConflict).details()
	if d["kind"] != "orders" {
		t.Fatalf("409 details %v", d)
	}
}

// What happened to an import's customers afterwards: a customer deleted
// since is kept (not brought back), one erased since stays erased (its
// before-image went with the erasure), and a later import of the same
// customers, reverted first, hands them back: the first import's revert
// then restores them as they were before it.
func TestImportRevertAfterLaterChanges(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	e.importCSV("/api/v1/imports", []byte("email,first_name\npat@example.com,Pat\ndel@example.com,Del\nera@example.com,Era\n"))
	del, era := e.customerID("del@example.com"), e.customerID("era@example.com")
	before := dbSnapshot(t, e.env, del, era)

	first := e.importCSV("/api/v1/imports?tags=first", []byte("email,last_name\npat@example.com,One\nquinn@example.com,Quinn\n"+
		"del@example.com,Gone\nera@example.com,Erased\n"))
	if c := counts(first); c["created"] != 1 || c["updated"] != 3 {
		t.Fatalf("first import %v", first["counts"])
	}
	afterFirst := dbSnapshot(t, e.env, del, era)
	e.do("DELETE", "/api/v1/customers/"+del, nil).want(t, http.StatusNoContent)
	e.do("POST", "/api/v1/customers/"+era+"/erase", nil).want(t, http.StatusOK)

	second := e.importCSV("/api/v1/imports?tags=second", []byte("email,company\npat@example.com,Two Co\nquinn@example.com,Quinn Co\n"))
	if c := counts(second); c["updated"] != 2 {
		t.Fatalf("second import %v", second["counts"])
	}
	if res := e.revertImport(t, str(second["id"])); res["restored"] != 2.0 || res["kept_count"] != 0.0 {
		t.Fatalf("revert of the second import %v", res)
	}
	if snap := dbSnapshot(t, e.env, del, era); snap != afterFirst {
		t.Fatalf("after reverting the second import:\n%s", diffLines(afterFirst, snap))
	}
	res := e.revertImport(t, str(first["id"]))
	kept, _ := res["kept"].([]any)
	if res["restored"] != 1.0 || res["deleted"] != 1.0 || len(kept) != 1 {
		t.Fatalf("revert of the first import %v", res)
	}
	if k := kept[0].(map[string]any); k["customer_id"] != del || k["reason"] != "deleted since the import" {
		t.Fatalf("kept %v", k)
	}
	if snap := dbSnapshot(t, e.env, del, era); snap != before {
		t.Fatalf("after reverting both imports:\n%s", diffLines(before, snap))
	}
	e.do("GET", "/api/v1/customers/"+del, nil).want(t, http.StatusNotFound)
	e.do("GET", "/api/v1/customers/"+era, nil).want(t, http.StatusGone)
	if n := e.count(`SELECT count(*) FROM customers WHERE organization_id = $1 AND id = $2 AND email = ''`, e.org, era); n != 1 {
		t.Fatal("the erased customer got its email back")
	}
}
