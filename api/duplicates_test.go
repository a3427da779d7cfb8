package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/worker"
)

// orgRows dumps, table by table, every row of the organization's customers
// and what hangs off them, as JSON text in primary-key order: two dumps are
// equal only when the rows are.
func orgRows(e *env) map[string][]string {
	e.t.Helper()
	tables := map[string]string{
		"customers":                  "id",
		"customer_identities":        "kind, value",
		"shared_identifier_carriers": "kind, value, customer_id",
		"customer_tags":              "customer_id, location_id, tag_key",
		"group_members":              "group_id, customer_id",
		"customer_locations":         "customer_id, location_id",
		"customer_addresses":         "id",
		"customer_contacts":          "id",
		"orders":                     "id",
		"credit_checks":              "id",
		"customer_order_months":      "customer_id, month",
		"customer_product_months":    "customer_id, month, product_id",
	}
	out := map[string][]string{}
	for table, key := range tables {
		// An unmerge moves both customers' updated time on (a sync must see
		// it): the rest of their rows must be as before.
		drop := "'search_text'"
		if table == "customers" {
			drop = "'search_text' - 'updated'"
		}
		rows, err := e.store.Pool().Query(context.Background(),
			"SELECT (to_jsonb(t) - "+drop+")::text FROM "+table+" t WHERE organization_id = $1 ORDER BY "+key, e.org)
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

func diffRows(t *testing.T, before, after map[string][]string) {
	t.Helper()
	for table, rows := range before {
		if !slices.Equal(rows, after[table]) {
			t.Errorf("%s differ:\nbefore %s\nafter  %s", table, strings.Join(rows, "\n       "), strings.Join(after[table], "\n       "))
		}
	}
	for table, rows := range after {
		if _, ok := before[table]; !ok && len(rows) > 0 {
			t.Errorf("%s gained rows %v", table, rows)
		}
	}
}

// eventTypes lists a customer's history, newest first, as type:merge_id.
func eventTypes(e *env, id string) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.do("GET", "/api/v1/customers/"+id+"/history?limit=100", nil).want(e.t, http.StatusOK).list() {
		ch, _ := ev["changes"].(map[string]any)
		out = append(out, str(ev["type"])+":"+str(ch["merge_id"]))
	}
	return out
}

// twoPeople makes a survivor and a source with something of everything:
// identifiers, fields, tags, groups, visits, addresses, contacts, orders,
// and a conflict pair between them.
func twoPeople(t *testing.T, e *queueEnv) (a, b map[string]any, pairID string) {
	t.Helper()
	loc := e.createLocation(map[string]any{"name": "Mall " + t.Name()})
	g1, g2 := e.createGroup("Gold "+t.Name()), e.createGroup("Silver "+t.Name())
	a = e.createCustomer(map[string]any{"first_name": "Ann", "last_name": "Lee", "email": "ann@" + t.Name() + ".example"})
	time.Sleep(2 * time.Millisecond) // a is the older one
	b = e.createCustomer(map[string]any{"first_name": "Anne", "last_name": "Lee", "email": "bee@" + t.Name() + ".example",
		"phone": "+14155550199", "company_name": "Bee Co", "birthdate": "1984-03-02", "notes": "from the fair"})
	aID, bID := str(a["id"]), str(b["id"])
	for id, tags := range map[string][]string{aID: {"vip"}, bID: {"VIP", "new"}} {
		e.do("POST", "/api/v1/customers/"+id+"/tags", map[string]any{"tags": tags}).want(t, http.StatusOK)
	}
	e.addMembers(str(g1["id"]), map[string]any{"customer_ids": []string{aID, bID}})
	e.addMembers(str(g2["id"]), map[string]any{"customer_ids": []string{bID}})
	for _, body := range []map[string]any{{"email": a["email"]}, {"phone": "+14155550199"}} {
		body["location_id"] = loc["id"]
		e.do("POST", "/api/v1/customers/upsert", body).want(t, http.StatusOK)
	}
	for id, line := range map[string]string{aID: "1 Ann Street", bID: "2 Bee Road"} {
		e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": line,
			"city": "Austin", "state": "TX", "country": "US"}).want(t, http.StatusCreated)
	}
	e.do("POST", "/api/v1/customers/"+bID+"/contacts", map[string]any{"name": "Bee Assistant", "email": "assist@bee.example", "is_primary": true}).
		want(t, http.StatusCreated)
	e.do("POST", "/api/v1/orders", map[string]any{"customer_id": bID, "order_number": "SO-" + t.Name(), "total_amount": 80,
		"items": []map[string]any{{"product_id": "p1", "product_name": "Tea", "quantity": 2, "unit_price": 40}}}).want(t, http.StatusCreated)
	// Ann's email and Bee's phone on one request: a conflict pair.
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": a["email"], "phone": "+14155550199"}).want(t, http.StatusOK)
	list := e.do("GET", "/api/v1/duplicates?customer_id="+aID, nil).want(t, http.StatusOK).list()
	if len(list) != 1 {
		t.Fatalf("pairs of Ann %v", list)
	}
	return a, b, str(list[0]["id"])
}

// Merge, then unmerge: every row of the organization is as before the
// merge, and the history names the merge on both customers.
func TestMergeUnmergeRestoresRows(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a, b, pairID := twoPeople(t, e)
	aID, bID := str(a["id"]), str(b["id"])
	before := orgRows(e.env)

	res := e.do("POST", "/api/v1/customers/"+aID+"/merge", map[string]any{"source_ids": []string{bID}}).want(t, http.StatusOK)
	got := res.data()
	merges, _ := res.meta()["merges"].([]any)
	if len(merges) != 1 {
		t.Fatalf("merge answer %s", res.Raw)
	}
	mergeID := str(merges[0].(map[string]any)["merge_id"])
	if got["id"] != aID || got["first_name"] != "Ann" || got["company_name"] != "Bee Co" || got["phone"] != "+14155550199" ||
		got["birthdate"] != "1984-03-02" || got["total_orders"] != float64(1) || !strings.HasPrefix(mergeID, "mrg_") {
		t.Fatalf("survivor %s", res.Raw)
	}
	if tags, _ := got["tags"].([]any); len(tags) != 2 {
		t.Fatalf("tags %v", got["tags"])
	}
	if groups, _ := got["groups"].([]any); len(groups) != 2 {
		t.Fatalf("groups %v", got["groups"])
	}
	if !strings.Contains(res.Raw, "bee@"+strings.ToLower(t.Name())+".example") {
		t.Fatalf("Bee's email is not an alias of Ann: %s", res.Raw)
	}
	e.do("GET", "/api/v1/customers/"+bID, nil).want(t, http.StatusMovedPermanently)
	if n := len(e.do("GET", "/api/v1/customers/"+aID+"/addresses", nil).want(t, http.StatusOK).list()); n != 2 {
		t.Fatalf("%d addresses on the survivor", n)
	}
	if n := len(e.do("GET", "/api/v1/customers/"+aID+"/contacts", nil).want(t, http.StatusOK).list()); n != 1 {
		t.Fatalf("%d contacts on the survivor", n)
	}
	// The pair left the open queue.
	if d := e.do("GET", "/api/v1/duplicates/"+pairID, nil).want(t, http.StatusOK).data(); d["status"] != "merged" || d["resolved"] == nil {
		t.Fatalf("pair after merge %v", d)
	}
	if n := len(e.do("GET", "/api/v1/duplicates", nil).want(t, http.StatusOK).list()); n != 0 {
		t.Fatalf("%d open pairs after the merge", n)
	}
	for _, id := range []string{aID, bID} {
		if ev := eventTypes(e.env, id); !slices.Contains(ev, "customer.merged:"+mergeID) {
			t.Fatalf("history of %s: %v", id, ev)
		}
	}
	// Merging it again is a conflict.
	e.do("POST", "/api/v1/customers/"+aID+"/merge", map[string]any{"source_ids": []string{bID}}).wantError(t, http.StatusConflict)

	un := e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{"source_id": bID}).want(t, http.StatusOK).data()
	if un["merge_id"] != mergeID {
		t.Fatalf("unmerge %v", un)
	}
	after := orgRows(e.env)
	diffRows(t, before, after)
	for _, id := range []string{aID, bID} {
		if ev := eventTypes(e.env, id); ev[0] != "customer.unmerged:"+mergeID {
			t.Fatalf("history of %s: %v", id, ev)
		}
	}
	// Unmerging says "not one person": the pair is dismissed.
	if d := e.do("GET", "/api/v1/duplicates/"+pairID, nil).want(t, http.StatusOK).data(); d["status"] != "dismissed" {
		t.Fatalf("pair after unmerge %v", d)
	}
	e.do("GET", "/api/v1/customers/"+bID, nil).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{"source_id": bID}).wantError(t, http.StatusConflict, "source_id")
}

// What the survivor got after the merge stays; what the source brought
// goes back; a field the merge filled and nobody touched is blank again.
func TestUnmergeKeepsLaterChanges(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a, b, _ := twoPeople(t, e)
	aID, bID := str(a["id"]), str(b["id"])
	e.do("POST", "/api/v1/customers/"+aID+"/merge", map[string]any{"source_ids": []string{bID}}).want(t, http.StatusOK)
	e.do("PATCH", "/api/v1/customers/"+aID, map[string]any{"company_name": "Ann Ltd"}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+aID+"/tags", map[string]any{"tags": []string{"later"}}).want(t, http.StatusOK)
	res := e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{"source_id": bID}).want(t, http.StatusOK).data()
	sv, src := res["survivor"].(map[string]any), res["source"].(map[string]any)
	if sv["company_name"] != "Ann Ltd" || sv["birthdate"] != nil || sv["phone"] != nil || sv["notes"] != nil || sv["total_orders"] != float64(0) {
		t.Fatalf("survivor after unmerge %v", sv)
	}
	if src["company_name"] != "Bee Co" || src["phone"] != "+14155550199" || src["birthdate"] != "1984-03-02" || src["total_orders"] != float64(1) {
		t.Fatalf("source after unmerge %v", src)
	}
	if tags := fmt.Sprint(sv["tags"]); !strings.Contains(tags, "later") || strings.Contains(tags, "new") {
		t.Fatalf("survivor tags %v", tags)
	}
	look := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550199", nil).want(t, http.StatusOK)
	if look.data()["id"] != bID {
		t.Fatalf("Bee's phone resolves to %v", look.data()["id"])
	}
}

// An engine merge (merge_conflicts) is recorded too and can be undone.
func TestUnmergeEngineMerge(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a := e.createCustomer(map[string]any{"email": "eng-a@example.com", "first_name": "Amal"})
	b := e.createCustomer(map[string]any{"phone": "+14155550177", "company_name": "Khan Co"})
	before := orgRows(e.env)
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "eng-a@example.com", "phone": "+14155550177",
		"merge_policy": "merge_conflicts"}).want(t, http.StatusOK)
	e.do("GET", "/api/v1/customers/"+str(b["id"]), nil).want(t, http.StatusMovedPermanently)
	e.do("POST", "/api/v1/customers/"+str(a["id"])+"/unmerge", map[string]any{"source_id": b["id"]}).want(t, http.StatusOK)
	diffRows(t, before, orgRows(e.env))
}

// An import chunk's merge (merge_conflicts) is recorded and undone too.
func TestUnmergeImportMerge(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	// Imani's source is the import's already: the row itself changes nothing of her.
	a := e.createCustomer(map[string]any{"email": "imp-a@example.com", "first_name": "Imani", "source": "import"})
	b := e.createCustomer(map[string]any{"phone": "+14155550133", "company_name": "Imani Foods"})
	before := orgRows(e.env)
	im := e.importCSV("/api/v1/imports?merge_policy=merge_conflicts", []byte("email,phone\nimp-a@example.com,+14155550133\n"))
	if im["status"] != "completed" {
		t.Fatalf("import %v", im)
	}
	e.do("GET", "/api/v1/customers/"+str(b["id"]), nil).want(t, http.StatusMovedPermanently)
	if ev := eventTypes(e.env, str(b["id"])); len(ev) == 0 || !strings.HasPrefix(ev[0], "customer.merged:mrg_") {
		t.Fatalf("history of the source %v", ev)
	}
	e.do("POST", "/api/v1/customers/"+str(a["id"])+"/unmerge", map[string]any{"source_id": b["id"]}).want(t, http.StatusOK)
	diffRows(t, before, orgRows(e.env))
}

// Several sources at once, then one of them back; a customer merged
// earlier into a source redirects to it again.
func TestUnmergeOneOfSeveral(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i, f := range []map[string]any{{"company_name": "First Co"}, {"notes": "second"}, {"website": "https://third.example"}, {"gender": "female"}} {
		f["email"] = fmt.Sprintf("several%d@example.com", i)
		ids = append(ids, str(e.createCustomer(f)["id"]))
	}
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	e.do("POST", "/api/v1/customers/"+b+"/merge", map[string]any{"source_ids": []string{d}}).want(t, http.StatusOK)
	sv := e.do("POST", "/api/v1/customers/"+a+"/merge", map[string]any{"source_ids": []string{b, c}}).want(t, http.StatusOK).data()
	if sv["notes"] != "second" || sv["website"] != "https://third.example" || sv["gender"] != "female" {
		t.Fatalf("survivor of three %v", sv)
	}
	if loc := e.do("GET", "/api/v1/customers/"+d, nil).want(t, http.StatusMovedPermanently).Header.Get("Location"); loc != "/api/v1/customers/"+a {
		t.Fatalf("d redirects to %q", loc)
	}
	res := e.do("POST", "/api/v1/customers/"+a+"/unmerge", map[string]any{"source_id": b}).want(t, http.StatusOK).data()
	sv, src := res["survivor"].(map[string]any), res["source"].(map[string]any)
	// b's notes and d's gender (which b carried) go back with b; c's website stays on a.
	if sv["notes"] != nil || sv["gender"] != nil || sv["website"] != "https://third.example" || src["notes"] != "second" || src["gender"] != "female" {
		t.Fatalf("after unmerging b: survivor %v source %v", sv, src)
	}
	if loc := e.do("GET", "/api/v1/customers/"+d, nil).want(t, http.StatusMovedPermanently).Header.Get("Location"); loc != "/api/v1/customers/"+b {
		t.Fatalf("d redirects to %q after the unmerge", loc)
	}
	e.do("GET", "/api/v1/customers/"+c, nil).want(t, http.StatusMovedPermanently)
	e.do("GET", "/api/v1/customers/lookup?email=several1@example.com", nil).want(t, http.StatusOK)
	if got := e.do("GET", "/api/v1/customers/lookup?email=several3@example.com", nil).want(t, http.StatusOK).data(); got["id"] != b {
		t.Fatalf("d's email resolves to %v", got["id"])
	}
}

func TestMergeValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createCustomer(map[string]any{"email": "val-a@example.com"})
	b := e.createCustomer(map[string]any{"email": "val-b@example.com"})
	aID, bID := str(a["id"]), str(b["id"])
	path := "/api/v1/customers/" + aID + "/merge"
	e.do("POST", path, map[string]any{}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	e.do("POST", path, map[string]any{"source_ids": []string{}}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	e.do("POST", path, map[string]any{"source_ids": []string{aID}}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	e.do("POST", path, map[string]any{"source_ids": []string{bID, bID}}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	e.do("POST", path, map[string]any{"source_ids": "x"}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("cust_%d", i)
	}
	e.do("POST", path, map[string]any{"source_ids": many}).wantError(t, http.StatusUnprocessableEntity, "source_ids")
	e.do("POST", path, map[string]any{"source_ids": []string{bID}, "merge_policy": "best"}).wantError(t, http.StatusUnprocessableEntity, "merge_policy")
	if d := e.do("POST", path, map[string]any{"source_ids": []string{"cust_nobody"}}).wantError(t, http.StatusNotFound).details(); d["id"] != "cust_nobody" {
		t.Fatalf("404 details %v", d)
	}
	// Another organization's customer is unknown here, both ways.
	_, otherKey := e.newOrg("Other", "US")
	other := e.doKey(otherKey, "POST", "/api/v1/customers", map[string]any{"first_name": "O", "last_name": "Ther", "email": "o@example.com"}).
		want(t, http.StatusCreated).data()
	e.do("POST", path, map[string]any{"source_ids": []string{str(other["id"])}}).wantError(t, http.StatusNotFound)
	e.doKey(otherKey, "POST", "/api/v1/customers/"+str(other["id"])+"/merge", map[string]any{"source_ids": []string{bID}}).
		wantError(t, http.StatusNotFound)
	e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{}).wantError(t, http.StatusUnprocessableEntity, "source_id")
	e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{"source_id": bID}).wantError(t, http.StatusConflict, "source_id")
	e.do("POST", "/api/v1/customers/"+aID+"/unmerge", map[string]any{"source_id": "cust_nobody"}).wantError(t, http.StatusNotFound)
	// do_not_update moves identifiers but no field.
	res := e.do("POST", path, map[string]any{"source_ids": []string{bID}, "merge_policy": "do_not_update"}).want(t, http.StatusOK).data()
	if res["email"] != "val-a@example.com" {
		t.Fatalf("survivor %v", res)
	}
	e.do("GET", "/api/v1/customers/lookup?email=val-b@example.com", nil).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+bID+"/merge", map[string]any{"source_ids": []string{aID}}).wantError(t, http.StatusConflict)
}

// Overlapping merges at once: none deadlocks or fails, and no customer is
// lost — every one is live or redirects, through its chain, to a live one
// that holds its identifiers.
func TestConcurrentOverlappingMerges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := range 6 {
		ids = append(ids, str(e.createCustomer(map[string]any{"email": fmt.Sprintf("cc%d@example.com", i)})["id"]))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			into, from := ids[i%6], ids[(i*5+1)%6]
			if into == from {
				from = ids[(i+3)%6]
			}
			res := e.do("POST", "/api/v1/customers/"+into+"/merge", map[string]any{"source_ids": []string{from, ids[(i+2)%6]}})
			mu.Lock()
			statuses[res.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for st := range statuses {
		if st != http.StatusOK && st != http.StatusConflict && st != http.StatusUnprocessableEntity {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if statuses[http.StatusOK] == 0 {
		t.Fatalf("no merge succeeded: %v", statuses)
	}
	live := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL")
	merges := e.count("SELECT count(*) FROM customer_merges")
	if live+merges != 6 || live < 1 {
		t.Fatalf("%d live customers and %d merges of 6", live, merges)
	}
	if n := e.count(`SELECT count(*) FROM customer_identities i JOIN customers c ON c.organization_id = i.organization_id
		AND c.id = i.customer_id AND c.merged_into IS NULL`); n != 6 {
		t.Fatalf("%d identities on live customers, want 6", n)
	}
	for i := range 6 {
		e.do("GET", fmt.Sprintf("/api/v1/customers/lookup?email=cc%d@example.com", i), nil).want(t, http.StatusOK)
	}
}

// The review queue: filters, order, one pair, dismiss, tenant isolation.
func TestDuplicateListAndDismiss(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a := e.createCustomer(map[string]any{"email": "q-a@example.com"})
	b := e.createCustomer(map[string]any{"phone": "+14155550155"})
	c := e.createCustomer(map[string]any{"email": "q-c@example.com"})
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "q-a@example.com", "phone": "+14155550155"}).want(t, http.StatusOK)
	// A fuzzy pair, as the scorer writes them.
	lo, hi := min(str(a["id"]), str(c["id"])), max(str(a["id"]), str(c["id"]))
	if _, err := e.store.Pool().Exec(context.Background(), `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b,
		reasons, score, source) VALUES ($1, $2, $3, '{same birthdate,names similar}', 0.75, 'fuzzy')`, e.org, lo, hi); err != nil {
		t.Fatal(err)
	}
	res := e.do("GET", "/api/v1/duplicates", nil).want(t, http.StatusOK)
	list := res.list()
	if len(list) != 2 || res.meta()["total"] != float64(2) || list[0]["score"] != 0.9 || list[1]["score"] != 0.75 {
		t.Fatalf("queue %s", res.Raw)
	}
	if r := fmt.Sprint(list[0]["reasons"]); r != "[same phone]" || list[0]["status"] != "open" || list[0]["source"] != "engine" {
		t.Fatalf("engine pair %v", list[0])
	}
	ids, _ := list[0]["customer_ids"].([]any)
	if len(ids) != 2 || !slices.Contains(ids, any(a["id"])) || !slices.Contains(ids, any(b["id"])) {
		t.Fatalf("customer_ids %v", ids)
	}
	if got := e.do("GET", "/api/v1/duplicates?min_score=0.8", nil).want(t, http.StatusOK).list(); len(got) != 1 {
		t.Fatalf("min_score 0.8: %v", got)
	}
	if got := e.do("GET", "/api/v1/duplicates?customer_id="+str(c["id"]), nil).want(t, http.StatusOK).list(); len(got) != 1 || got[0]["source"] != "fuzzy" {
		t.Fatalf("customer_id filter: %v", got)
	}
	if got := e.do("GET", "/api/v1/duplicates?limit=1&page=2", nil).want(t, http.StatusOK); len(got.list()) != 1 || got.meta()["hasMore"] != false {
		t.Fatalf("page 2: %s", got.Raw)
	}
	for q, field := range map[string]string{"status=maybe": "status", "min_score=2": "min_score", "min_score=x": "min_score",
		"limit=0": "limit", "page=0": "page"} {
		e.do("GET", "/api/v1/duplicates?"+q, nil).wantError(t, http.StatusUnprocessableEntity, field)
	}
	pairID := str(list[0]["id"])
	if !strings.HasPrefix(pairID, "dup_") {
		t.Fatalf("pair id %q", pairID)
	}
	_, otherKey := e.newOrg("Other", "US")
	e.doKey(otherKey, "GET", "/api/v1/duplicates/"+pairID, nil).wantError(t, http.StatusNotFound)
	e.doKey(otherKey, "POST", "/api/v1/duplicates/"+pairID+"/dismiss", nil).wantError(t, http.StatusNotFound)
	if n := len(e.doKey(otherKey, "GET", "/api/v1/duplicates", nil).want(t, http.StatusOK).list()); n != 0 {
		t.Fatalf("other org sees %d pairs", n)
	}

	d := e.do("POST", "/api/v1/duplicates/"+pairID+"/dismiss", nil).want(t, http.StatusOK).data()
	if d["status"] != "dismissed" || d["resolved"] == nil {
		t.Fatalf("dismissed %v", d)
	}
	e.do("POST", "/api/v1/duplicates/"+pairID+"/dismiss", nil).want(t, http.StatusOK)
	// The same conflict again: the engine does not reopen the pair.
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "q-a@example.com", "phone": "+14155550155"}).want(t, http.StatusOK)
	if got := e.do("GET", "/api/v1/duplicates/"+pairID, nil).want(t, http.StatusOK).data(); got["status"] != "dismissed" {
		t.Fatalf("pair reopened: %v", got)
	}
	if got := e.do("GET", "/api/v1/duplicates?status=dismissed", nil).want(t, http.StatusOK).list(); len(got) != 1 || got[0]["id"] != pairID {
		t.Fatalf("dismissed list %v", got)
	}
	// Deleting a customer takes its open pairs out of the queue.
	e.do("DELETE", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusNoContent)
	if got := e.do("GET", "/api/v1/duplicates", nil).want(t, http.StatusOK).list(); len(got) != 0 {
		t.Fatalf("open after delete %v", got)
	}
	e.do("GET", "/api/v1/duplicates/dup_nothing", nil).wantError(t, http.StatusNotFound)
}

// insertPair writes a fuzzy pair and returns its id.
func insertPair(e *env, x, y string, score float64) string {
	e.t.Helper()
	var id string
	if err := e.store.Pool().QueryRow(context.Background(), `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b,
		reasons, score, source) VALUES ($1, least($2::text, $3::text), greatest($2::text, $3::text), '{names similar}', $4, 'fuzzy')
		RETURNING id`, e.org, x, y, score).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// POST /duplicates/merge is a job: each pair merged, the older customer
// surviving; a pair whose customer was merged by an earlier pair merges the
// survivors.
func TestDuplicatesMergeJob(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	var ids []string
	for i := range 4 {
		ids = append(ids, str(e.createCustomer(map[string]any{"email": fmt.Sprintf("job%d@example.com", i)})["id"]))
		time.Sleep(2 * time.Millisecond)
	}
	p1, p2, p3 := insertPair(e.env, ids[1], ids[0], 0.9), insertPair(e.env, ids[1], ids[2], 0.8), insertPair(e.env, ids[3], ids[2], 0.7)
	e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{}}).wantError(t, http.StatusUnprocessableEntity, "ids")
	e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{p1, "dup_nothing"}}).wantError(t, http.StatusNotFound)
	res := e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{p1, p2, p3}}).want(t, http.StatusAccepted)
	jobID := str(res.data()["id"])
	if res.Header.Get("Location") != "/api/v1/jobs/"+jobID {
		t.Fatalf("Location %q", res.Header.Get("Location"))
	}
	job := e.client().WaitJob(jobID, 30*time.Second)
	result, _ := job["result"].(map[string]any)
	if job["state"] != "completed" || result["merged"] != float64(3) || job["type"] != "duplicates:merge" {
		t.Fatalf("job %v", job)
	}
	pairs, _ := result["pairs"].([]any)
	first := pairs[0].(map[string]any)
	if first["survivor_id"] != ids[0] || first["source_id"] != ids[1] || !strings.HasPrefix(str(first["merge_id"]), "mrg_") {
		t.Fatalf("first pair %v", first)
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != 1 {
		t.Fatalf("%d live customers", n)
	}
	for _, p := range []string{p1, p2, p3} {
		if d := e.do("GET", "/api/v1/duplicates/"+p, nil).want(t, http.StatusOK).data(); d["status"] != "merged" {
			t.Fatalf("pair %s %v", p, d)
		}
	}
	// A merged pair cannot be dismissed; merging it again skips it.
	e.do("POST", "/api/v1/duplicates/"+p1+"/dismiss", nil).wantError(t, http.StatusConflict)
	again := e.client().WaitJob(str(e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{p1}}).
		want(t, http.StatusAccepted).data()["id"]), 30*time.Second)
	if r := again["result"].(map[string]any); r["merged"] != float64(0) || r["skipped"] != float64(1) {
		t.Fatalf("second job %v", again)
	}
}

// A duplicates merge task delivered twice merges each pair once.
func TestDuplicatesMergeDuplicateDelivery(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	a := str(e.createCustomer(map[string]any{"email": "dd-a@example.com"})["id"])
	b := str(e.createCustomer(map[string]any{"email": "dd-b@example.com"})["id"])
	pair := insertPair(e.env, a, b, 0.9)
	jobID := str(e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{pair}}).want(t, http.StatusAccepted).data()["id"])
	inspector := asynq.NewInspector(e.opt)
	defer inspector.Close()
	info, err := inspector.GetTaskInfo(e.names.Default(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	mux := workerMux(e)
	task := asynq.NewTask(info.Type, info.Payload)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- mux.ProcessTask(context.Background(), task)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("SELECT count(*) FROM customer_merges"); n != 1 {
		t.Fatalf("%d merges recorded", n)
	}
	if n := e.count("SELECT count(*) FROM audit_events WHERE type = 'customer.merged'"); n != 2 {
		t.Fatalf("%d merge events", n)
	}
	job := e.client().WaitJob(jobID, 5*time.Second)
	if job["result"].(map[string]any)["merged"] != float64(1) {
		t.Fatalf("job %v", job)
	}
}

// An upsert is not held up by background work: with one worker goroutine
// busy on a duplicates merge that waits for a lock, a checkout is still
// answered by its own pool (it used to wait for the merge's goroutine).
func TestUpsertNotBehindBackgroundTask(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	a := str(e.createCustomer(map[string]any{"email": "bg-a@example.com"})["id"])
	b := str(e.createCustomer(map[string]any{"email": "bg-b@example.com"})["id"])
	pair := insertPair(e.env, a, b, 0.9)
	jobID := str(e.do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{pair}}).want(t, http.StatusAccepted).data()["id"])
	// The merge locks its job row first: hold it.
	tx, err := e.store.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", jobID); err != nil {
		t.Fatal(err)
	}
	e.stack.StartWorker(worker.Config{Concurrency: 1})
	for deadline := time.Now().Add(20 * time.Second); e.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the merge never started waiting for its job row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.do("POST", "/api/v1/customers/upsert?wait=5", map[string]any{"email": "bg-c@example.com"}).want(t, http.StatusCreated)
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if job := e.client().WaitJob(jobID, 30*time.Second); job["state"] != "completed" {
		t.Fatalf("merge job %v", job)
	}
}
