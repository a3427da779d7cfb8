package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// warnings returns an answer's meta.warnings.
func warnings(r response) []map[string]any {
	var out []map[string]any
	ws, _ := r.meta()["warnings"].([]any)
	for _, w := range ws {
		m, _ := w.(map[string]any)
		out = append(out, m)
	}
	return out
}

// sharedAliases lists the identifiers a customer shows as shared.
func sharedAliases(c map[string]any) []string {
	var out []string
	as, _ := c["aliases"].([]any)
	for _, a := range as {
		m, _ := a.(map[string]any)
		if m["shared"] == true {
			out = append(out, str(m["kind"])+":"+str(m["value"]))
		}
	}
	return out
}

// The store's phone typed on two people's upserts: two customers, the
// second told why, nothing of Bob copied onto Alice.
func TestSharedStorePhone(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	alice := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+1 415 555 0100"}).
		want(t, http.StatusCreated).data()
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Bob Dylan", "phone": "+1 (415) 555-0100",
		"email": "bob@example.com", "company_name": "Bob Co"}).want(t, http.StatusCreated)
	bob := res.data()
	if bob["id"] == alice["id"] || bob["first_name"] != "Bob" || bob["phone"] != "+14155550100" || bob["email"] != "bob@example.com" {
		t.Fatalf("Bob %s", res.Raw)
	}
	ws := warnings(res)
	if len(ws) != 1 || ws[0]["code"] != "shared_identifier" || ws[0]["field"] != "phone" || ws[0]["customer_id"] != alice["id"] {
		t.Fatalf("warnings %v", ws)
	}
	if m := res.meta(); m["action"] != "created" || m["matched_on"] != nil {
		t.Fatalf("meta %v", m)
	}
	a := e.do("GET", "/api/v1/customers/"+str(alice["id"]), nil).want(t, http.StatusOK).data()
	if a["first_name"] != "Alice" || a["email"] != nil || a["company_name"] != nil {
		t.Fatalf("Bob's data reached Alice: %v", a)
	}
	for _, c := range []map[string]any{a, e.do("GET", "/api/v1/customers/"+str(bob["id"]), nil).want(t, http.StatusOK).data()} {
		if got := sharedAliases(c); !slices.Equal(got, []string{"phone:+14155550100"}) {
			t.Fatalf("%v shows shared %v", c["id"], got)
		}
	}
	// The pair waits in duplicate review.
	if n := e.count(`SELECT count(*) FROM duplicate_suggestions WHERE 'shared_identifier' = ANY(reasons)
		AND ARRAY[customer_a, customer_b] @> ARRAY[$1, $2]`, alice["id"], bob["id"]); n != 1 {
		t.Fatalf("%d suggestions of the pair", n)
	}
	list := e.do("GET", "/api/v1/shared-identifiers", nil).want(t, http.StatusOK)
	items := list.list()
	if len(items) != 1 || items[0]["kind"] != "phone" || items[0]["value"] != "+14155550100" || items[0]["reason"] != "names_differ" ||
		items[0]["customer_count"] != float64(2) || items[0]["since"] == nil || list.meta()["total"] != float64(1) {
		t.Fatalf("shared identifiers %s", list.Raw)
	}

	// Alice again, through the shared phone: her name agrees.
	again := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "alice walker", "phone": "+14155550100"}).want(t, http.StatusOK)
	if again.data()["id"] != alice["id"] || again.meta()["matched_on"] != "phone" || len(warnings(again)) != 0 {
		t.Fatalf("Alice again %s", again.Raw)
	}
	// A third person: a new customer carrying the phone.
	carl := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Carl Sagan", "phone": "+14155550100"}).want(t, http.StatusCreated)
	if ws := warnings(carl); len(ws) != 1 || ws[0]["field"] != "phone" {
		t.Fatalf("Carl %s", carl.Raw)
	}
	// No name, only the shared phone: which one is meant?
	conflict := e.do("POST", "/api/v1/customers/upsert", map[string]any{"phone": "001 415 555 0100"}).wantError(t, http.StatusConflict)
	d := conflict.details()
	cands, _ := d["candidates"].([]any)
	if d["phone"] != "shared" || len(cands) != 3 || !slices.Contains(cands, any(alice["id"])) || !slices.Contains(cands, any(bob["id"])) {
		t.Fatalf("409 %s", conflict.Raw)
	}
	// The customers API stores a shared phone without a 409.
	dan := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Dan", "last_name": "Brown", "phone": "+14155550100"}).
		want(t, http.StatusCreated).data()
	if dan["phone"] != "+14155550100" || !slices.Equal(sharedAliases(dan), []string{"phone:+14155550100"}) {
		t.Fatalf("Dan %v", dan)
	}
	// And PUT gives one to an existing customer without a 409.
	eve := e.createCustomer(map[string]any{"first_name": "Eve", "last_name": "Moss", "email": "eve@example.com"})
	put := e.do("PUT", "/api/v1/customers/"+str(eve["id"]), map[string]any{"first_name": "Eve", "last_name": "Moss",
		"email": "eve@example.com", "phone": "+14155550100"}).want(t, http.StatusOK).data()
	if put["phone"] != "+14155550100" || !slices.Equal(sharedAliases(put), []string{"phone:+14155550100"}) {
		t.Fatalf("Eve %v", put)
	}
	if n := e.do("GET", "/api/v1/shared-identifiers", nil).want(t, http.StatusOK).list()[0]["customer_count"]; n != float64(5) {
		t.Fatalf("customer_count %v, want 5", n)
	}
	// An unshared email still belongs to one customer: 409.
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Fay", "last_name": "Lin", "email": "bob@example.com"}).
		wantError(t, http.StatusConflict)
}

// The name check is conservative: variants of one person's name match.
func TestSharedNameVariantsStillMatch(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	for _, tc := range []struct{ first, second map[string]any }{
		{map[string]any{"name": "Jon Doe", "email": "jon@example.com"}, map[string]any{"name": "Jonathan Doe", "email": "jon@example.com"}},
		{map[string]any{"name": "J. Smith", "phone": "+1 415 555 0111"}, map[string]any{"name": "John Smith", "phone": "+1 415 555 0111"}},
		{map[string]any{"first_name": "José", "last_name": "Müller", "email": "jm@example.com"}, map[string]any{"name": "Mueller Jose", "email": "jm@example.com"}},
		{map[string]any{"name": "Ana Pérez", "email": "ana@example.com"}, map[string]any{"email": "ana@example.com"}},
	} {
		first := e.do("POST", "/api/v1/customers/upsert", tc.first).want(t, http.StatusCreated).data()
		res := e.do("POST", "/api/v1/customers/upsert", tc.second).want(t, http.StatusOK)
		if res.data()["id"] != first["id"] || len(warnings(res)) != 0 {
			t.Fatalf("%v then %v: %s", tc.first, tc.second, res.Raw)
		}
	}
	if n := e.count("SELECT count(*) FROM shared_identifiers"); n != 0 {
		t.Fatalf("%d shared identifiers, want none", n)
	}
}

// In an import, Jon Doe on Ann Lee's phone does not give Ann his email.
func TestSharedFamilyPhoneImport(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	ann := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Ann Lee", "email": "ann@example.com", "phone": "+1 415 555 0123"}).
		want(t, http.StatusCreated).data()
	file := "first_name,last_name,email,phone\nJon,Doe,jon@example.com,(415) 555-0123\nAnnie,Lee,,415-555-0123\n"
	im := e.upload("/api/v1/imports?default_region=US", "", "text/csv", []byte(file)).want(t, http.StatusAccepted).data()
	done := e.waitImport(str(im["id"]))
	if c := counts(done); done["status"] != "completed" || c["created"] != 1 || c["updated"]+c["unchanged"] != 1 || c["warnings"] != 1 {
		t.Fatalf("import %v counts %v", done["status"], c)
	}
	a := e.do("GET", "/api/v1/customers/"+str(ann["id"]), nil).want(t, http.StatusOK).data()
	if a["email"] != "ann@example.com" || len(a["aliases"].([]any)) != 1 || a["first_name"] != "Ann" {
		t.Fatalf("Ann %v", a)
	}
	jon := e.do("GET", "/api/v1/customers/lookup?email=jon@example.com", nil).want(t, http.StatusOK).data()
	if jon["id"] == ann["id"] || jon["first_name"] != "Jon" || jon["phone"] != "+14155550123" {
		t.Fatalf("Jon %v", jon)
	}
	problems := e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors", nil).want(t, http.StatusOK).list()
	if len(problems) != 1 || problems[0]["row"] != float64(2) || problems[0]["severity"] != "warning" || problems[0]["column"] != "phone" ||
		!strings.Contains(str(problems[0]["reason"]), str(ann["id"])) {
		t.Fatalf("problems %v", problems)
	}
	if items := e.do("GET", "/api/v1/shared-identifiers", nil).want(t, http.StatusOK).list(); len(items) != 1 || items[0]["customer_count"] != float64(2) {
		t.Fatalf("shared identifiers %v", items)
	}
	// A second import meets the phone shared: a nameless row is an error
	// naming both, a named one goes to its carrier.
	file = "first_name,last_name,phone\n,,4155550123\nJon,Doe,+14155550123\n"
	im = e.upload("/api/v1/imports?default_region=US", "", "text/csv", []byte(file)).want(t, http.StatusAccepted).data()
	done = e.waitImport(str(im["id"]))
	if c := counts(done); c["invalid"] != 1 || c["created"] != 0 || c["updated"]+c["unchanged"] != 1 {
		t.Fatalf("second import counts %v", c)
	}
	problems = e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors", nil).want(t, http.StatusOK).list()
	if len(problems) != 1 || problems[0]["severity"] != "error" || !strings.Contains(str(problems[0]["reason"]), str(jon["id"])) {
		t.Fatalf("second import problems %v", problems)
	}
}

// Orders resolve their customer through the same engine.
func TestSharedOrders(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	alice := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+1 415 555 0100"}).
		want(t, http.StatusCreated).data()
	res := e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-1", "total_amount": 10,
		"customer": map[string]any{"name": "Bob Dylan", "phone": "+1 415 555 0100"}}).want(t, http.StatusCreated)
	c, _ := res.meta()["customer"].(map[string]any)
	ws, _ := c["warnings"].([]any)
	if c["customer_id"] == alice["id"] || c["action"] != "created" || len(ws) != 1 || res.data()["customer_id"] != c["customer_id"] {
		t.Fatalf("order %s", res.Raw)
	}
	e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-2", "total_amount": 10,
		"customer": map[string]any{"phone": "+1 415 555 0100"}}).wantError(t, http.StatusConflict)
	again := e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-3", "total_amount": 10,
		"customer": map[string]any{"name": "Alice Walker", "phone": "+1 415 555 0100"}}).want(t, http.StatusCreated)
	if again.data()["customer_id"] != alice["id"] {
		t.Fatalf("Alice's order %s", again.Raw)
	}
}

// Settings steer every matching path: a blocklisted phone is shared from
// the start; match_keys ["phone"] makes an email match no one.
func TestSharedSettings(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	// Customers from before the blocklist keep their phones.
	gus := e.createCustomer(map[string]any{"first_name": "Gus", "last_name": "Grey", "phone": "+14155550001"})
	oli := e.createCustomer(map[string]any{"first_name": "Oli", "last_name": "Park", "phone": "+14155550002"})
	e.do("PATCH", "/api/v1/settings", map[string]any{"blocklist": map[string]any{"phones": []string{"(415) 555-0000", "+14155550001", "+14155550002"}}}).
		want(t, http.StatusOK)
	// Now another customer may carry them: no 409, the first owner carries too.
	e.createCustomer(map[string]any{"first_name": "Hal", "last_name": "Ross", "phone": "+14155550001"})
	if got := sharedAliases(e.do("GET", "/api/v1/customers/"+str(gus["id"]), nil).want(t, http.StatusOK).data()); len(got) != 1 {
		t.Fatalf("Gus shows shared %v", got)
	}
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Ida Bell", "phone": "+14155550002"}).want(t, http.StatusCreated)
	if got := sharedAliases(e.do("GET", "/api/v1/customers/"+str(oli["id"]), nil).want(t, http.StatusOK).data()); len(got) != 1 {
		t.Fatalf("Oli shows shared %v", got)
	}
	if n := e.count("SELECT count(*) FROM shared_identifier_carriers WHERE value IN ('14155550001', '14155550002')"); n != 4 {
		t.Fatalf("%d carriers of the two blocklisted phones, want 4", n)
	}
	e.do("DELETE", "/api/v1/customers/"+str(gus["id"]), nil).want(t, http.StatusNoContent)
	e.do("DELETE", "/api/v1/customers/"+str(oli["id"]), nil).want(t, http.StatusNoContent)
	first := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+14155550000"}).
		want(t, http.StatusCreated).data()
	if got := sharedAliases(first); !slices.Equal(got, []string{"phone:+14155550000"}) {
		t.Fatalf("blocklisted phone not shown shared: %v", first)
	}
	// Even a name that would agree needs it to: no name → 409.
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"phone": "+14155550000"}).wantError(t, http.StatusConflict)
	same := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+14155550000"}).want(t, http.StatusOK)
	if same.data()["id"] != first["id"] {
		t.Fatalf("Alice %s", same.Raw)
	}
	other := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Bea Stone", "phone": "+14155550000",
		"email": "bea@example.com"}).want(t, http.StatusCreated)
	if other.data()["id"] == first["id"] {
		t.Fatalf("Bea %s", other.Raw)
	}
	items := e.do("GET", "/api/v1/shared-identifiers", nil).want(t, http.StatusOK).list() // newest first
	if len(items) != 3 || items[0]["value"] != "+14155550000" || items[0]["reason"] != "blocklist" || items[0]["customer_count"] != float64(2) ||
		items[1]["customer_count"] != float64(1) {
		t.Fatalf("shared identifiers %v", items)
	}

	e.do("PATCH", "/api/v1/settings", map[string]any{"match_keys": []string{"phone"}}).want(t, http.StatusOK)
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Bea Stone", "email": "bea@example.com", "phone": "+14155550177"}).
		want(t, http.StatusCreated)
	if res.data()["id"] == other.data()["id"] || res.data()["email"] != nil {
		t.Fatalf("matched on email with match_keys [phone]: %s", res.Raw)
	}
	if cs, _ := res.meta()["conflicts"].([]any); len(cs) != 1 {
		t.Fatalf("conflicts %s", res.Raw)
	}
	// The phone matches as before.
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Bea Stone", "phone": "+14155550177"}).want(t, http.StatusOK)

	// name_check off: the old trust in a shared identifier, for this org.
	e.do("PATCH", "/api/v1/settings", map[string]any{"name_check": false, "match_keys": nil}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Zed Zulu", "phone": "+14155550177"}).want(t, http.StatusOK)
}

// 32 upserts at once on one phone by 8 people: one customer each, no 500,
// no identifier but the phone on two customers.
func TestSharedPhoneConcurrency(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	people := []string{"Alice Walker", "Bob Dylan", "Carmen Ortiz", "Dmitri Ivanov", "Emeka Obi", "Fatima Zahra", "Gustav Berg", "Hiro Tanaka"}
	var wg sync.WaitGroup
	statuses := make([]int, 32)
	for i := range 32 {
		wg.Go(func() {
			p := people[i%len(people)]
			r := e.do("POST", "/api/v1/customers/upsert?wait=30", map[string]any{"name": p, "phone": "+1 415 555 0100",
				"email": strings.ToLower(strings.Fields(p)[0]) + "@example.com"})
			statuses[i] = r.Status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK && s != http.StatusCreated {
			t.Fatalf("upsert %d answered %d", i, s)
		}
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != len(people) {
		t.Fatalf("%d customers, want %d", n, len(people))
	}
	if n := e.count("SELECT count(DISTINCT email) FROM customers"); n != len(people) {
		t.Fatalf("%d distinct emails on customers, want %d", n, len(people))
	}
	if n := e.count("SELECT count(*) FROM customer_identities WHERE kind = 'email'"); n != len(people) {
		t.Fatalf("%d email identities, want %d", n, len(people))
	}
	if n := e.count("SELECT count(*) FROM shared_identifier_carriers WHERE kind = 'phone'"); n != len(people) {
		t.Fatalf("%d carriers of the phone, want %d", n, len(people))
	}
	if n := e.count("SELECT count(*) FROM customer_identities WHERE kind = 'phone'"); n != 1 {
		t.Fatalf("%d phone identities, want its first carrier's", n)
	}
}

// A shared phone glues no strangers into one chunk, but one person's rows
// on it stay together: one customer, whatever chunk the rows fall in.
func TestSharedPhoneImportChunks(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 2})
	e.do("PATCH", "/api/v1/settings", map[string]any{"blocklist": map[string]any{"phones": []string{"+1 415 555 0100"}}}).
		want(t, http.StatusOK)
	var b strings.Builder
	b.WriteString("name,phone,email\n")
	for i := range 12 {
		switch i {
		case 0, 11:
			b.WriteString("Carl Sagan,+1 415 555 0100,\n")
		case 5:
			b.WriteString("Vera Rubin,+1 415 555 0100,\n")
		default:
			fmt.Fprintf(&b, "Filler %c,,f%d@example.com\n", 'a'+i, i)
		}
	}
	done := e.importCSV("/api/v1/imports?default_region=US", []byte(b.String()))
	if c := counts(done); c["created"] != 11 || c["merged_in_file"] != 1 || done["chunks"].(float64) < 4 {
		t.Fatalf("counts %v chunks %v", c, done["chunks"])
	}
	if n := e.count("SELECT count(*) FROM customers WHERE first_name IN ('Carl', 'Vera')"); n != 2 {
		t.Fatalf("%d customers for Carl and Vera, want 2", n)
	}
	items := e.do("GET", "/api/v1/shared-identifiers", nil).want(t, http.StatusOK).list()
	if len(items) != 1 || items[0]["reason"] != "blocklist" || items[0]["customer_count"] != float64(2) {
		t.Fatalf("shared identifiers %v", items)
	}
}

// Order imports match their customers through the same engine.
func TestSharedOrderImport(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	alice := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+1 415 555 0100"}).
		want(t, http.StatusCreated).data()
	file := "Name,Phone,Billing Name,Created at,Total,Currency\n#1,+1 415 555 0100,Bob Dylan,2024-01-01,10,USD\n#2,+1 415 555 0100,Alice Walker,2024-01-02,20,USD\n"
	done := orderImport(e, "&default_region=US", file)
	if c := counts(done); done["status"] != "completed" || c["orders_created"] != 2 || c["created"] != 1 || c["warnings"] != 1 {
		t.Fatalf("import %v counts %v", done["status"], c)
	}
	a := e.do("GET", "/api/v1/customers/"+str(alice["id"]), nil).want(t, http.StatusOK).data()
	if a["total_orders"] != float64(1) || a["lifetime_value"] != float64(20) {
		t.Fatalf("Alice got Bob's order: %v", a)
	}
	if n := e.count("SELECT count(*) FROM orders o JOIN customers c ON c.organization_id = o.organization_id AND c.id = o.customer_id WHERE c.first_name = 'Bob'"); n != 1 {
		t.Fatalf("Bob has %d orders, want 1", n)
	}
}

// An import and upserts at once on one shared phone: each person once, the
// phone's carriers once each, no email on two customers.
func TestSharedPhoneImportAndUpsertsAtOnce(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 20})
	people := []string{"Alice Walker", "Bob Dylan", "Carmen Ortiz", "Dmitri Ivanov", "Emeka Obi", "Fatima Zahra", "Gustav Berg", "Hiro Tanaka"}
	email := func(p string) string { return strings.ToLower(strings.Fields(p)[0]) + "@example.com" }
	var b strings.Builder
	b.WriteString("name,email,phone\n")
	for i := range 160 {
		p := people[i%len(people)]
		fmt.Fprintf(&b, "%s,%s,+1 415 555 0100\n", p, email(p))
	}
	im := e.upload("/api/v1/imports?default_region=US", "", "text/csv", []byte(b.String())).want(t, http.StatusAccepted).data()
	var wg sync.WaitGroup
	statuses := make([]int, 32)
	for i := range 32 {
		wg.Go(func() {
			p := people[(i*3)%len(people)]
			statuses[i] = e.do("POST", "/api/v1/customers/upsert?wait=30", map[string]any{"name": p, "phone": "+14155550100", "email": email(p)}).Status
		})
	}
	wg.Wait()
	if done := e.waitImport(str(im["id"])); done["status"] != "completed" {
		t.Fatalf("import %v", done)
	}
	for i, s := range statuses {
		if s != http.StatusOK && s != http.StatusCreated {
			t.Fatalf("upsert %d answered %d", i, s)
		}
	}
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != len(people) {
		t.Fatalf("%d customers, want %d", n, len(people))
	}
	if n := e.count("SELECT count(*) FROM (SELECT email FROM customers GROUP BY email HAVING count(*) > 1) d"); n != 0 {
		t.Fatalf("%d emails on several customers", n)
	}
	if n := e.count("SELECT count(*) FROM shared_identifier_carriers WHERE kind = 'phone'"); n != len(people) {
		t.Fatalf("%d carriers of the phone, want %d", n, len(people))
	}
}

// A shared identifier a customer carries as an alias is removed like any
// alias: the customer stops carrying it, the other carriers keep it.
func TestSharedAliasDeleted(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	alice := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Alice Walker", "phone": "+1 415 555 0100"}).
		want(t, http.StatusCreated).data()
	bob := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Bob Dylan", "phone": "+1 415 555 0100",
		"email": "bob@example.com"}).want(t, http.StatusCreated).data()
	bobPath := "/api/v1/customers/" + str(bob["id"])
	// The shared phone is Bob's primary: not an alias.
	e.do("DELETE", bobPath+"/aliases/+14155550100", nil).want(t, http.StatusUnprocessableEntity)
	// Bob's own number replaces it; the shared one stays as his alias.
	e.do("PATCH", bobPath, map[string]any{"phone": "+1 415 555 0199"}).want(t, http.StatusOK)
	b := e.do("GET", bobPath, nil).want(t, http.StatusOK).data()
	if b["phone"] != "+14155550199" || !slices.Contains(sharedAliases(b), "phone:+14155550100") {
		t.Fatalf("after the edit Bob is %v", b)
	}
	e.do("DELETE", bobPath+"/aliases/+1%20415%20555%200100", nil).want(t, http.StatusNoContent)
	b = e.do("GET", bobPath, nil).want(t, http.StatusOK).data()
	if slices.Contains(sharedAliases(b), "phone:+14155550100") {
		t.Fatalf("Bob still carries the shared phone: %v", b["aliases"])
	}
	a := e.do("GET", "/api/v1/customers/"+str(alice["id"]), nil).want(t, http.StatusOK).data()
	if a["phone"] != "+14155550100" {
		t.Fatalf("Alice lost her phone: %v", a)
	}
}
