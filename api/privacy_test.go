package api_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// eraseRedisDB is the Redis database of the erase tests: the test greps
// every key of it, so it holds only these tests' queues.
const eraseRedisDB = 8

// person is one planted person: their identifiers in every form the test
// greps for afterwards.
type person struct {
	first, last          string
	emailA, emailB       string // the first email, then the one replacing it (alias A)
	phoneA, phoneB       string // E.164; B is on the second record, merged in
	phoneAFormatted      string // as typed in the import file
	street, shipStreet   string
	contactEmail, source string
	orderNumber          string // not personal data: kept
}

func newPerson() person {
	letters := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rand.IntN(26))
		}
		return string(b)
	}
	s := letters(8)
	// NANP numbers of New York with exchanges 7xx: valid, and unique per run.
	a, b := 7000000+rand.IntN(999999), 8000000+rand.IntN(999999)
	return person{
		first: "Zel" + letters(5), last: "Vorn" + letters(5),
		emailA: "zq." + s + "@erase.example", emailB: "zq." + s + "@new.erase.example",
		phoneA: fmt.Sprintf("+1212%07d", a), phoneB: fmt.Sprintf("+1212%07d", b),
		phoneAFormatted: fmt.Sprintf("+1 (212) %03d-%04d", a/10000, a%10000),
		street:          "12 " + letters(6) + " Lane", shipStreet: "9 " + letters(6) + " Road",
		contactEmail: "assistant." + s + "@erase.example", source: "sh_" + s,
		orderNumber: "SO-" + letters(8),
	}
}

// traces are the strings that must not survive an erase: emails, phones in
// E.164, as digits, as national digits and as typed, names, addresses.
func (p person) traces() []string {
	out := []string{p.first, p.last, p.emailA, p.emailB, p.street, p.shipStreet, p.contactEmail, p.source, p.phoneAFormatted}
	for _, ph := range []string{p.phoneA, p.phoneB} {
		out = append(out, ph, strings.TrimPrefix(ph, "+"), strings.TrimPrefix(ph, "+1"))
	}
	return out
}

// plant puts the person through every path that stores personal data and
// returns their customer id, the merged-away record's id and the order's.
func (p person) plant(t *testing.T, e *queueEnv) (id, mergedID, orderID string) {
	t.Helper()
	// An upsert (a job, its task) with email and phone.
	up := e.do("POST", "/api/v1/customers/upsert", map[string]any{
		"first_name": p.first, "last_name": p.last, "email": p.emailA, "phone": p.phoneA}).want(t, http.StatusCreated)
	id = str(up.data()["id"])
	// An import: their row (staged rows stay for LINKIT_IMPORT_STAGING_TTL)
	// and a bad row carrying their email (import_errors keeps its cells).
	csv := "first_name,last_name,email,phone\n" +
		p.first + "," + p.last + "," + p.emailA + ",\"" + p.phoneAFormatted + "\"\n" +
		p.first + "," + p.last + "," + p.emailA + "," + p.phoneA + ",one cell too many\n"
	im := e.importCSV("/api/v1/imports", []byte(csv))
	if im["status"] != "completed" || counts(im)["invalid"] != 1 {
		t.Fatalf("import %v", im)
	}
	// A new email: the first becomes an alias.
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"email": p.emailB}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": p.street,
		"city": "New York", "state": "NY", "country": "US"}).want(t, http.StatusCreated)
	e.do("POST", "/api/v1/customers/"+id+"/contacts", map[string]any{"name": p.first + " Assistant",
		"email": p.contactEmail}).want(t, http.StatusCreated)
	// A source record (unified customer): matched on the email.
	e.do("POST", "/api/v1/unified/customer", map[string]any{"email": p.emailB, "name": p.first + " " + p.last,
		"phone": p.phoneA, "shipping_address_line1": p.shipStreet, "shipping_address_city": "New York",
		"shipping_address_country": "US", "source_system": "shopify", "source_id": p.source,
		"external_system_data": map[string]any{"note": "met " + p.last}}).want(t, http.StatusOK)
	// An order: shipped to their shipping address (the customer's default).
	o := e.do("POST", "/api/v1/orders", map[string]any{"customer_id": id, "order_number": p.orderNumber,
		"status": "delivered", "order_date": "2024-01-15",
		"items": []map[string]any{{"product_id": "w1", "product_name": "Widget", "quantity": 2, "unit_price": 10.5}}}).
		want(t, http.StatusCreated).data()
	if o["shipping_address"] == nil {
		t.Fatalf("order without the customer's shipping address: %v", o)
	}
	orderID = str(o["id"])
	// A second record of theirs, merged into them.
	// (Created with an Idempotency-Key: its answer is remembered.)
	mergedID = str(e.do("POST", "/api/v1/customers", map[string]any{"first_name": p.first, "last_name": p.last, "phone": p.phoneB},
		"Idempotency-Key", "create-"+p.orderNumber).want(t, http.StatusCreated).data()["id"])
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": p.emailB, "phone": p.phoneB,
		"merge_policy": "merge_conflicts"}).want(t, http.StatusOK)
	e.do("GET", "/api/v1/customers/"+mergedID, nil).want(t, http.StatusMovedPermanently)
	// Tasks in Redis naming them: one waiting for later, one failed for good.
	body, _ := json.Marshal(queue.UpsertPayload{JobID: customer.NewID(customer.PrefixJob), OrgID: e.org,
		Request: &dedupe.Request{Record: dedupe.Incoming{Email: p.emailB, Phone: p.phoneB}}})
	client := asynq.NewClient(e.opt)
	defer client.Close()
	for i := range 2 {
		info, err := client.Enqueue(asynq.NewTask(queue.TypeUpsert, body), asynq.Queue(e.names.Critical()), asynq.ProcessIn(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := e.stack.Inspector.ArchiveTask(e.names.Critical(), info.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return id, mergedID, orderID
}

// TestErasePersonEverywhere plants one person through every path, erases
// them, then greps every row of every table and every key of the Redis
// database for their emails, phones and names (issue 21).
func TestErasePersonEverywhere(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{redisURL: linkittest.RedisDBURL(eraseRedisDB)})
	p := newPerson()
	id, mergedID, orderID := p.plant(t, e)

	// Before: the export has all of it.
	exp := e.do("GET", "/api/v1/customers/"+id+"/export", nil).want(t, http.StatusOK)
	for _, want := range []string{p.emailA, p.emailB, p.phoneA, p.phoneB, p.street, p.shipStreet, p.contactEmail,
		"shopify:" + strings.ToLower(p.source), p.orderNumber, "Widget", mergedID, "customer.merged"} {
		if !strings.Contains(string(exp.Raw), want) {
			t.Errorf("export lacks %q: %s", want, exp.Raw)
		}
	}
	ex := exp.data()
	if n := len(ex["merged_records"].([]any)); n != 1 || len(ex["orders"].([]any)) != 1 || len(ex["addresses"].([]any)) != 1 {
		t.Fatalf("export lists: %s", exp.Raw)
	}

	// Another organization can neither erase nor export them.
	_, otherKey := e.newOrg("Other", "")
	e.doKey(otherKey, "POST", "/api/v1/customers/"+id+"/erase", nil).wantError(t, http.StatusNotFound)
	e.doKey(otherKey, "GET", "/api/v1/customers/"+id+"/export", nil).wantError(t, http.StatusNotFound)
	e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK)
	// A merged-away record redirects to the person.
	e.do("POST", "/api/v1/customers/"+mergedID+"/erase", nil).want(t, http.StatusMovedPermanently)

	res := e.do("POST", "/api/v1/customers/"+id+"/erase", nil).want(t, http.StatusOK).data()
	if recs, _ := res["records"].([]any); len(recs) != 2 || res["tasks_deleted"].(float64) < 2 {
		t.Fatalf("erase answer %v", res)
	}
	scrubbed := res["scrubbed"].(map[string]any)
	for _, table := range []string{"jobs", "audit_events", "import_rows", "import_errors", "orders", "customer_identities",
		"customer_addresses", "customer_contacts", "customer_merges", "idempotency_keys", "customers"} {
		if n, _ := scrubbed[table].(float64); n < 1 {
			t.Errorf("nothing scrubbed in %s: %v", table, scrubbed)
		}
	}

	grepDatabase(t, e, p.traces())
	grepRedis(t, e.stack.Redis, p.traces())

	// Gone, both records; the history keeps the events without values.
	e.do("GET", "/api/v1/customers/"+id, nil).wantError(t, http.StatusGone)
	e.do("GET", "/api/v1/customers/"+mergedID, nil).wantError(t, http.StatusGone)
	e.do("GET", "/api/v1/customers/"+id+"/export", nil).wantError(t, http.StatusGone)
	hist := e.do("GET", "/api/v1/customers/"+id+"/history?limit=100", nil).want(t, http.StatusOK).list()
	if len(hist) < 3 || hist[0]["type"] != "customer.erased" {
		t.Fatalf("history after erase: %v", hist)
	}
	for _, ev := range hist[1:] {
		if ch, _ := ev["changes"].(map[string]any); len(ch) != 0 {
			t.Errorf("event %v kept its changes", ev)
		}
	}
	// The order keeps its amounts, lines and number; not the address.
	o := e.do("GET", "/api/v1/orders/"+orderID, nil).want(t, http.StatusOK).data()
	if o["total_amount"] != 21.0 || o["currency"] == nil || o["order_number"] != p.orderNumber || o["shipping_address"] != nil ||
		len(o["items"].([]any)) != 1 {
		t.Fatalf("order after erase: %v", o)
	}
	if got := e.count(`SELECT count(*) FROM orders WHERE organization_id = $1 AND customer_id = $2 AND total_amount = 21`, e.org, id); got != 1 {
		t.Fatalf("%d orders kept their amount", got)
	}
	// Lists and lookups know nobody.
	if list := e.do("GET", "/api/v1/customers?search="+p.last, nil).want(t, http.StatusOK).list(); len(list) != 0 {
		t.Fatalf("erased customer listed: %v", list)
	}
	e.do("GET", "/api/v1/customers/lookup?email="+p.emailB, nil).wantError(t, http.StatusNotFound)

	// Idempotent: the same answer's time, nothing left to scrub.
	again := e.do("POST", "/api/v1/customers/"+id+"/erase", nil).want(t, http.StatusOK).data()
	if again["erased"] != res["erased"] || e.count(`SELECT count(*) FROM audit_events WHERE type = 'customer.erased'`) != 1 {
		t.Fatalf("second erase %v (first %v)", again, res)
	}
	// Their email is free: a new record is a new customer.
	fresh := e.createCustomer(map[string]any{"email": p.emailA})
	if fresh["id"] == id {
		t.Fatal("the erased customer came back")
	}
}

// grepDatabase fails on any row of any table whose text mentions a trace.
func grepDatabase(t *testing.T, e *queueEnv, traces []string) {
	t.Helper()
	ctx := context.Background()
	pool := e.store.Pool()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if rows.Err() != nil || len(tables) < 20 {
		t.Fatalf("tables %v: %v", tables, rows.Err())
	}
	for _, table := range tables {
		// Each row as text: every column, generated ones included.
		r, err := pool.Query(ctx, `SELECT lower(t::text) FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var text string
			if err := r.Scan(&text); err != nil {
				t.Fatal(err)
			}
			for _, tr := range traces {
				// bytea columns read as hex.
				if strings.Contains(text, strings.ToLower(tr)) || strings.Contains(text, hex.EncodeToString([]byte(tr))) {
					t.Errorf("%s still holds %q: %s", table, tr, text)
				}
			}
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}
}

// grepRedis fails on any key of the database whose value mentions a trace.
func grepRedis(t *testing.T, rdb redis.UniversalClient, traces []string) {
	t.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	keys := 0
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		var values []string
		switch rdb.Type(ctx, key).Val() {
		case "string":
			values = []string{rdb.Get(ctx, key).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, key).Val() {
				values = append(values, f, v)
			}
		case "list":
			values = rdb.LRange(ctx, key, 0, -1).Val()
		case "set":
			values = rdb.SMembers(ctx, key).Val()
		case "zset":
			values = rdb.ZRange(ctx, key, 0, -1).Val()
		}
		values = append(values, key)
		for _, v := range values {
			for _, tr := range traces {
				if strings.Contains(strings.ToLower(v), strings.ToLower(tr)) {
					t.Errorf("redis key %s still holds %q", key, tr)
				}
			}
		}
	}
	if err := iter.Err(); err != nil || keys == 0 {
		t.Fatalf("scanned %d keys: %v", keys, err)
	}
}

// TestRetentionPurgesJobsAndImportErrors runs the worker with windows of a
// millisecond: finished jobs and the error reports of finished imports go,
// the import keeps its counts and error summary.
func TestRetentionPurgesJobsAndImportErrors(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	e.stack.StartWorker(worker.Config{Concurrency: 4, ReconcileEvery: 100 * time.Millisecond,
		RetentionJobs: time.Millisecond, RetentionImportErrors: time.Millisecond})
	up := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "kept.briefly@example.com"}).want(t, http.StatusCreated)
	jobID := str(metaOf(up)["job_id"])
	im := e.importCSV("/api/v1/imports", []byte("email,phone\nrow.one@example.com,+14155550101\nbad,+14155550102,extra\n"))
	if counts(im)["invalid"] != 1 {
		t.Fatalf("import %v", im)
	}
	imp := str(im["id"])
	// A request that failed for good: asynq keeps it (payload and all) in
	// its archive.
	client := asynq.NewClient(e.opt)
	defer client.Close()
	info, err := client.Enqueue(asynq.NewTask(queue.TypeUpsert, []byte(`{"request":{"record":{"email":"failed.once@example.com"}}}`)),
		asynq.Queue(e.names.Critical()), asynq.ProcessIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.stack.Inspector.ArchiveTask(e.names.Critical(), info.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobGone := e.do("GET", "/api/v1/jobs/"+jobID, nil).Status == http.StatusNotFound
		errs := e.do("GET", "/api/v1/imports/"+imp+"/errors", nil).want(t, http.StatusOK).list()
		_, err := e.stack.Inspector.GetTaskInfo(e.names.Critical(), info.ID)
		archiveGone := errors.Is(err, asynq.ErrTaskNotFound)
		if jobGone && len(errs) == 0 && archiveGone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not purged within 30 s: job gone %v, %d import errors, archived task gone %v", jobGone, len(errs), archiveGone)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := e.do("GET", "/api/v1/imports/"+imp, nil).want(t, http.StatusOK).data()
	if counts(after)["invalid"] != 1 || len(after["error_summary"].(map[string]any)) != 1 {
		t.Fatalf("import after the purge %v", after)
	}
	if n := e.count(`SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("%d jobs left", n)
	}
	// The customer the job created is not the job: it stays.
	e.do("GET", "/api/v1/customers/lookup?email=kept.briefly@example.com", nil).want(t, http.StatusOK)
}

// TestEraseRacingUpserts erases a person while their upserts keep coming:
// every upsert answers, none lands on the erased record, and whatever was
// created after the erase is one new customer owning the email.
func TestEraseRacingUpserts(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	c := e.createCustomer(map[string]any{"first_name": "Rhea", "last_name": "Quill", "email": "rhea.quill@example.com", "phone": "+14155550177"})
	id := str(c["id"])
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := range 40 {
		wg.Go(func() {
			if i == 10 {
				statuses <- e.do("POST", "/api/v1/customers/"+id+"/erase", nil).Status
				return
			}
			statuses <- e.do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": "Rhea", "last_name": "Quill",
				"email": "rhea.quill@example.com", "phone": "+14155550177", "notes": fmt.Sprint("visit ", i)}).Status
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK && s != http.StatusCreated {
			t.Errorf("status %d", s)
		}
	}
	e.do("GET", "/api/v1/customers/"+id, nil).wantError(t, http.StatusGone)
	if n := e.count(`SELECT count(*) FROM customer_identities i JOIN customers c
		ON c.organization_id = i.organization_id AND c.id = i.customer_id WHERE c.merged_into = ''`); n != 0 {
		t.Fatalf("%d identities point at the erased customer", n)
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE merged_into IS NULL`); n > 1 {
		t.Fatalf("%d live customers: the upserts after the erase made more than one", n)
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE merged_into = '' AND (email <> '' OR phone <> '' OR notes <> '')`); n != 0 {
		t.Fatalf("an upsert wrote onto the erased record")
	}
}
