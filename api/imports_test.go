package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gocarina/gocsv"

	"github.com/linkitworks/customers/api"
)

// upload posts a file as multipart (field "file") or, with a content type,
// as a raw body; query carries the options.
func (e *env) upload(path, fileName, contentType string, body []byte) response {
	e.t.Helper()
	return response{e.client().Upload(path, fileName, contentType, body)}
}

// importCSV uploads a CSV file to path (the imports endpoint and its
// options), expects it accepted (202) and returns the import once it ends.
func (e *env) importCSV(path string, file []byte) map[string]any {
	e.t.Helper()
	return e.client().ImportCSV(path, file)
}

// waitImport polls an import until it ends.
func (e *env) waitImport(id string) map[string]any {
	e.t.Helper()
	return e.client().WaitImport(id, time.Minute)
}

func counts(im map[string]any) map[string]int {
	out := map[string]int{}
	c, _ := im["counts"].(map[string]any)
	for k, v := range c {
		out[k] = int(v.(float64))
	}
	return out
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestImportMessyCustomersCSV(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 30})
	file, err := os.ReadFile("../importer/testdata/messy-customers/datablist_customers-100.csv")
	if err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v1/locations", map[string]any{"name": "Main St", "default_tags": []string{"store"}}).want(t, http.StatusCreated)
	loc := str(e.do("GET", "/api/v1/locations", nil).list()[0]["id"])
	res := e.upload("/api/v1/imports?tags=spring,vip&location_id="+loc, "customers.csv", "", file).want(t, http.StatusAccepted)
	im := res.data()
	if !strings.HasPrefix(str(im["id"]), "imp_") || im["file_name"] != "customers.csv" || im["format"] != "csv" || im["delimiter"] != "," {
		t.Fatalf("import %s", res.Raw)
	}
	if m, _ := im["mapping"].(map[string]any); m["Email"] != "email" || m["Phone 1"] != "phone" || m["First Name"] != "first_name" {
		t.Fatalf("mapping %v", im["mapping"])
	}
	done := e.waitImport(str(im["id"]))
	c := counts(done)
	if done["status"] != "completed" || c["rows"] != 100 || c["created"] != 100 || c["invalid"] != 0 || done["progress"] != float64(1) {
		t.Fatalf("import %v", done)
	}
	// The Datablist files hold no duplicate people: nothing may be merged.
	if n := e.count("SELECT count(*) FROM customers WHERE merged_into IS NULL"); n != 100 {
		t.Fatalf("%d customers, want 100", n)
	}
	if n := e.count("SELECT count(*) FROM customer_tags WHERE tag IN ('spring', 'vip', 'store') AND location_id = $1", loc); n != 300 {
		t.Fatalf("%d tags at the location, want 300", n)
	}
	if n := e.count("SELECT count(*) FROM customer_locations WHERE location_id = $1 AND source = 'import'", loc); n != 100 {
		t.Fatalf("%d visits, want 100", n)
	}
	if n := e.count("SELECT count(*) FROM audit_created, unnest(customer_ids) WHERE import_id = $1", im["id"]); n != 100 {
		t.Fatalf("%d audit events, want 100", n)
	}
	// Unmapped columns land in attributes; the first row reads back whole.
	look := e.do("GET", "/api/v1/customers/lookup?email=zunigavanessa@smith.info", nil).want(t, http.StatusOK).data()
	if look["first_name"] != "Sheryl" || look["company_name"] != "Rasmussen Group" || look["source"] != "import" {
		t.Fatalf("row 2 read back as %v", look)
	}
	// City and Country without a street make no address: they are kept as
	// attributes under their columns, not dropped.
	if attrs, _ := look["attributes"].(map[string]any); attrs["Subscription Date"] != "2020-08-24" ||
		attrs["City"] != "East Leonard" || attrs["Country"] != "Chile" {
		t.Fatalf("attributes %v", look["attributes"])
	}
	// Importing the same file again changes nothing and creates no one.
	again := e.waitImport(str(e.upload("/api/v1/imports", "customers.csv", "text/csv", file).want(t, http.StatusAccepted).data()["id"]))
	if c := counts(again); c["created"] != 0 || c["unchanged"] != 100 {
		t.Fatalf("re-import counts %v", c)
	}
	list := e.do("GET", "/api/v1/imports", nil).want(t, http.StatusOK)
	if list.meta()["total"] != float64(2) {
		t.Fatalf("imports list %s", list.Raw)
	}
}

const problemCSV = "First Name,Last Name,Email,Phone,Birthday,Notes\r\n" +
	"Ann,Lee,ann@example.com,+1 415 555 0101,1990-04-01,ok\r\n" +
	"Bob,Ray,not-an-email,+1 415 555 0102,1985-13-45,\"multi\nline note\"\r\n" +
	"Cid,,,,,no identifier\r\n" +
	"Dee,Fox,dee@example.com\r\n" +
	"\r\n" +
	"=HYPERLINK(\"x\"),Evil,bad@@example.com,12,,\r\n" +
	"Eve,Lin,EVE@Example.com,,,\"=1+2\"\r\n"

func TestImportRowProblems(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	// An unquoted comma splits Fay's address into a seventh cell.
	file := problemCSV + "Fay,Kim,fay@example.com,+1 415 555 0103,,12 Main St, Apt 4\r\n"
	im := e.upload("/api/v1/imports", "people.csv", "text/csv", []byte(file)).want(t, http.StatusAccepted).data()
	done := e.waitImport(str(im["id"]))
	c := counts(done)
	// Rows: Ann, Bob (warnings), Cid (error), Dee (ragged), =HYPERLINK (error), Eve, Fay (ragged).
	if done["status"] != "completed" || c["rows"] != 7 || c["invalid"] != 4 || c["created"] != 3 || c["warnings"] != 1 {
		t.Fatalf("counts %v", c)
	}
	bob := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550102", nil).want(t, http.StatusOK).data()
	if bob["email"] != nil || bob["birthdate"] != nil || bob["notes"] != "multi\nline note" {
		t.Fatalf("Bob imported as %v", bob)
	}
	errs := e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors?limit=100", nil).want(t, http.StatusOK)
	byRow := map[int][]string{}
	for _, p := range errs.list() {
		byRow[int(p["row"].(float64))] = append(byRow[int(p["row"].(float64))], str(p["severity"])+" "+str(p["column"])+" "+str(p["reason"]))
		if p["original"] == nil {
			t.Fatalf("problem without original row: %v", p)
		}
	}
	// Row numbers are spreadsheet rows: header 1, first record 2; the quoted
	// newline keeps Bob one row; the blank line is skipped and not counted.
	want := map[int]string{3: "warning Email", 4: "error", 5: "error", 6: "error", 8: "error"}
	for row, prefix := range want {
		found := false
		for _, p := range byRow[row] {
			if strings.HasPrefix(p, prefix) {
				found = true
			}
		}
		if !found {
			t.Errorf("row %d: %v, want a %q problem (all: %v)", row, byRow[row], prefix, byRow)
		}
	}
	if !slices.ContainsFunc(byRow[3], func(s string) bool { return strings.Contains(s, "Birthday") }) {
		t.Errorf("row 3 birthdate warning missing: %v", byRow[3])
	}
	summary, _ := done["error_summary"].(map[string]any)
	if len(summary) == 0 {
		t.Fatalf("no error_summary in %v", done)
	}
	// The finished import's summary is stored once, not regrouped per poll:
	// the row holds what the API answered, and answers stay the same.
	var stored map[string]any
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT error_summary FROM imports WHERE id = $1`,
		str(im["id"])).Scan(&stored); err != nil || !reflect.DeepEqual(stored, summary) {
		t.Fatalf("stored error_summary %v (%v), API answered %v", stored, err, summary)
	}
	if again := e.do("GET", "/api/v1/imports/"+str(im["id"]), nil).want(t, http.StatusOK).data()["error_summary"]; !reflect.DeepEqual(again, summary) {
		t.Fatalf("error_summary changed between polls: %v then %v", summary, again)
	}
	if summary["error: no email, phone or external id"] != 1.0 {
		t.Errorf("error_summary %v: want the missing-identifier reason counted", summary)
	}
	// The list shows the same import object.
	if listed := e.do("GET", "/api/v1/imports", nil).want(t, http.StatusOK).list(); len(listed) != 1 ||
		!reflect.DeepEqual(listed[0]["error_summary"], summary) {
		t.Fatalf("listed imports %v, want the error_summary %v", listed, summary)
	}

	// The error CSV: original columns + error, error rows only, formulas defused.
	records := e.errorCSV(str(im["id"]))
	if strings.Join(records[0], ",") != "First Name,Last Name,Email,Phone,Birthday,Notes,error" || len(records) != 5 {
		t.Fatalf("error csv %q", records)
	}
	if records[1][0] != "Cid" || records[3][0] != `'=HYPERLINK("x")` || !strings.Contains(records[3][6], "row 6 error") {
		t.Fatalf("error csv rows %q", records[1:])
	}
	// The fixed rows can be uploaded again as they are.
	if !strings.Contains(records[2][6], "row 5") || records[2][0] != "Dee" {
		t.Fatalf("ragged row %q", records[2])
	}
	// A row longer than the header keeps its columns aligned; the cells past
	// the header are in its error text.
	if got := strings.Join(records[4], "|"); got != `Fay|Kim|fay@example.com|'+1 415 555 0103||12 Main St|`+
		`row 8 error: has 7 fields, the header has 6; cells past the header: " Apt 4"` {
		t.Fatalf("long ragged row %q", records[4])
	}

	// Fixed in a spreadsheet and uploaded again, the rows import as if typed
	// right the first time: the apostrophes that defused "+1 …" and "=…"
	// are a spreadsheet's text markers, not part of the values.
	var fixed strings.Builder
	cw := csv.NewWriter(&fixed)
	for i, rec := range records {
		rec = rec[:len(rec)-1] // the error column
		switch {
		case i == 0:
		case rec[0] == "Cid":
			rec[2] = "cid@example.com"
		case rec[0] == "Fay":
			rec[5] = "12 Main St, Apt 4"
		default:
			continue
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	again := e.upload("/api/v1/imports?default_region=US", "fixed.csv", "text/csv", []byte(fixed.String())).
		want(t, http.StatusAccepted).data()
	if c := counts(e.waitImport(str(again["id"]))); c["created"] != 2 || c["invalid"] != 0 || c["warnings"] != 0 {
		t.Fatalf("fixed file: counts %v", c)
	}
	fay := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550103", nil).want(t, http.StatusOK).data()
	if fay["first_name"] != "Fay" || fay["notes"] != "12 Main St, Apt 4" {
		t.Fatalf("Fay after the fixed upload: %v", fay)
	}
}

// Staged rows go once the import has ended a while; what users read back —
// the import, its error report — stays.
func TestImportStagingPurged(t *testing.T) {
	t.Parallel()
	// Two-row chunks: the last row repeats Ann's email and moves to her chunk;
	// Eve exists already, so her row is marked owned at planning.
	e := newQueueEnv(t, queueOpts{reconcile: 100 * time.Millisecond, stagingTTL: -1, chunkRows: 2})
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Eve", "last_name": "Lin", "email": "eve@example.com"}).
		want(t, http.StatusCreated)
	file := problemCSV + "Ann,Lee,ANN@example.com,,,again\r\n"
	id := str(e.upload("/api/v1/imports", "people.csv", "text/csv", []byte(file)).want(t, http.StatusAccepted).data()["id"])
	if done := e.waitImport(id); done["status"] != "completed" {
		t.Fatalf("import %v", done)
	}
	staged := func() int {
		return e.count("SELECT count(*) FROM import_rows WHERE import_id = $1", id) +
			e.count("SELECT count(*) FROM import_row_moves WHERE import_id = $1", id) +
			e.count("SELECT count(*) FROM import_owned_rows WHERE import_id = $1", id)
	}
	deadline := time.Now().Add(15 * time.Second)
	for staged() > 0 || e.count("SELECT count(*) FROM imports WHERE id = $1 AND staging_purged", id) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d staged rows, moves and owned-row marks left", staged())
		}
		time.Sleep(50 * time.Millisecond)
	}
	im := e.do("GET", "/api/v1/imports/"+id, nil).want(t, http.StatusOK).data()
	if c := counts(im); c["rows"] != 7 || c["created"] != 2 || c["merged_in_file"] != 1 || c["invalid"] != 3 ||
		c["updated"]+c["unchanged"] != 1 {
		t.Fatalf("import after purge %v", im)
	}
	if n := len(e.do("GET", "/api/v1/imports/"+id+"/errors?limit=100", nil).want(t, http.StatusOK).list()); n != 5 {
		t.Fatalf("%d problems after purge, want 5", n)
	}
}

// errorCSV downloads an import's error report as CSV (asserting its content
// type) and parses it.
func (e *env) errorCSV(id string) [][]string {
	e.t.Helper()
	res, err := http.DefaultClient.Do(authGet(e, "/api/v1/imports/"+id+"/errors?format=csv"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		e.t.Fatalf("error CSV content type %q", ct)
	}
	records, err := csv.NewReader(res.Body).ReadAll()
	if err != nil {
		e.t.Fatal(err)
	}
	return records
}

func authGet(e *env, path string) *http.Request {
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	return req
}

// A phone column that a spreadsheet stored as numbers: "4155550100.0" is
// the number; "4.15555E+9" lost its digits, and the report says why.
func TestImportSpreadsheetNumberPhones(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	file := "Name,Email,Phone\n" +
		"Ann Lee,ann@example.com,4155550100.0\n" +
		"Bob Ray,bob@example.com,4.15555E+9\n" +
		"Cy Fox,,9.66501E+11\n"
	done := e.importCSV("/api/v1/imports?default_region=US", []byte(file))
	if c := counts(done); c["created"] != 2 || c["warnings"] != 1 || c["invalid"] != 1 {
		t.Fatalf("counts %v", c)
	}
	if ann := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550100", nil).want(t, http.StatusOK).data(); ann["first_name"] != "Ann" {
		t.Fatalf("Ann by phone: %v", ann)
	}
	var got []string
	for _, p := range e.do("GET", "/api/v1/imports/"+str(done["id"])+"/errors", nil).want(t, http.StatusOK).list() {
		got = append(got, fmt.Sprintf("%v %v %v: %v", p["row"], p["severity"], p["column"], p["reason"]))
	}
	want := []string{
		`3 warning Phone: phone is in scientific notation: a spreadsheet stored the column as numbers and rounded its ` +
			`last digits away; format the column as text and export again: "4.15555E+9" dropped`,
		`4 error Phone: no valid email, phone or external id: phone is in scientific notation: a spreadsheet stored ` +
			`the column as numbers and rounded its last digits away; format the column as text and export again: "9.66501E+11"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems\n%q\nwant\n%q", got, want)
	}
}

// "03/04/1990" is March 4th in the US and 3 April in Riyadh: an ambiguous
// date is read in the custom of the import's region; an unambiguous one
// ("25/12/1990", "12/25/1990") reads the same everywhere.
func TestImportAmbiguousDates(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	for _, tc := range []struct{ region, ann string }{{"US", "1990-03-04"}, {"SA", "1990-04-03"}, {"GB", "1990-04-03"}} {
		file := strings.ReplaceAll("Email,Birthday\nann@R.example,03/04/1990\nbob@R.example,25/12/1990\ncy@R.example,12/25/1990\n", "R", tc.region)
		done := e.importCSV("/api/v1/imports?default_region="+tc.region, []byte(file))
		if c := counts(done); c["created"] != 3 || c["warnings"] != 0 {
			t.Fatalf("%s: counts %v", tc.region, c)
		}
		for name, want := range map[string]string{"ann": tc.ann, "bob": "1990-12-25", "cy": "1990-12-25"} {
			email := name + "@" + strings.ToLower(tc.region) + ".example"
			if got := e.customerByEmail(email)["birthdate"]; got != want {
				t.Errorf("%s: %s born %v, want %s", tc.region, email, got, want)
			}
		}
	}
}

// An address needs its street line: a row with one gets an address (the
// customer's first, so the default); a row with only city and country keeps
// them as attributes under the file's columns. French headers map too.
func TestImportAddressParts(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	file := "Prénom;Nom;E-mail;Adresse;Ville;Code postal;Pays\n" +
		"Ann;Lee;ann@example.com;1 Main St;Springfield;12345;us\n" +
		"Bob;Ray;bob@example.com;;Shelbyville;;FR\n" +
		// Countries by name, as HubSpot and spreadsheets write them.
		"Cy;Roy;cy@example.com;2 Rue Haute;Lyon;69001;Frankreich\n" +
		"Di;Fay;di@example.com;3 Elm St;Boston;02110;United States\n" +
		"Ed;Gil;ed@example.com;4 Oak St;Nowhere;;Atlantis\n"
	done := e.importCSV("/api/v1/imports", []byte(file))
	if c := counts(done); c["created"] != 5 || c["warnings"] != 1 {
		t.Fatalf("counts %v", c)
	}
	for email, country := range map[string]string{"cy@example.com": "FR", "di@example.com": "US", "ed@example.com": ""} {
		c := e.do("GET", "/api/v1/customers/lookup?email="+email, nil).want(t, http.StatusOK).data()
		addrs := e.do("GET", "/api/v1/customers/"+str(c["id"])+"/addresses", nil).want(t, http.StatusOK).list()
		if len(addrs) != 1 || str(addrs[0]["country"]) != country {
			t.Fatalf("%s: addresses %v, want country %q", email, addrs, country)
		}
	}
	errs := e.do("GET", "/api/v1/imports/"+str(done["id"])+"/errors", nil).want(t, http.StatusOK).list()
	if len(errs) != 1 || errs[0]["column"] != "Pays" || !strings.Contains(str(errs[0]["reason"]), `"Atlantis"`) {
		t.Fatalf("problems %v", errs)
	}
	ann := e.do("GET", "/api/v1/customers/lookup?email=ann@example.com", nil).want(t, http.StatusOK).data()
	if ann["first_name"] != "Ann" || ann["last_name"] != "Lee" || len(ann["attributes"].(map[string]any)) != 0 {
		t.Fatalf("ann %v", ann)
	}
	addrs := e.do("GET", "/api/v1/customers/"+str(ann["id"])+"/addresses", nil).want(t, http.StatusOK).list()
	if len(addrs) != 1 || addrs[0]["address_line1"] != "1 Main St" || addrs[0]["city"] != "Springfield" ||
		addrs[0]["postal_code"] != "12345" || addrs[0]["country"] != "US" || addrs[0]["is_default"] != true {
		t.Fatalf("ann's addresses %v", addrs)
	}
	bob := e.do("GET", "/api/v1/customers/lookup?email=bob@example.com", nil).want(t, http.StatusOK).data()
	if attrs := bob["attributes"].(map[string]any); bob["last_name"] != "Ray" || len(attrs) != 2 ||
		attrs["Ville"] != "Shelbyville" || attrs["Pays"] != "FR" {
		t.Fatalf("bob %v", bob)
	}
	if n := len(e.do("GET", "/api/v1/customers/"+str(bob["id"])+"/addresses", nil).want(t, http.StatusOK).list()); n != 0 {
		t.Fatalf("bob has %d addresses", n)
	}
}

// Without any region a phone typed without country code cannot be read:
// it is kept as typed and the row gets a warning saying how to fix it;
// with default_region the same number is understood.
func TestImportPhonesWithoutRegion(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	file := "Email,Phone\nann@example.com,(415) 555-0100\nbob@example.com,+1 415 555 0101\n"
	im := e.importCSV("/api/v1/imports", []byte(file))
	if c := counts(im); c["created"] != 2 || c["warnings"] != 1 {
		t.Fatalf("counts %v, want 2 created, 1 warning", c)
	}
	problems := e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors", nil).want(t, http.StatusOK).list()
	if len(problems) != 1 || problems[0]["row"] != 2.0 || problems[0]["severity"] != "warning" ||
		problems[0]["column"] != "Phone" || !strings.Contains(str(problems[0]["reason"]), "phone without country code and no default region") {
		t.Fatalf("problems %v", problems)
	}
	if ann := e.do("GET", "/api/v1/customers/lookup?email=ann@example.com", nil).want(t, http.StatusOK).data(); ann["phone"] != "4155550100" {
		t.Fatalf("ann's phone %v", ann["phone"])
	}
	file = "Email,Phone\ncid@example.com,(415) 555-0102\n"
	im = e.importCSV("/api/v1/imports?default_region=US", []byte(file))
	if c := counts(im); c["created"] != 1 || c["warnings"] != 0 {
		t.Fatalf("with a region: counts %v", c)
	}
	if cid := e.do("GET", "/api/v1/customers/lookup?email=cid@example.com", nil).want(t, http.StatusOK).data(); cid["phone"] != "+14155550102" {
		t.Fatalf("cid's phone %v", cid["phone"])
	}
}

func TestImportFormats(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	jsonBody := `[{"email":"j1@example.com","first_name":"J1","tags":["a","b"]},{"phone":"+14155550111","name":"Jay Two"},{"oops":1}]`
	ndjson := "{\"email\":\"n1@example.com\"}\n{broken\n{\"E-mail\":\"N2@example.com\",\"Mobile\":\"+1 415 555 0112\"}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("email;first name\ng1@example.com;Gee\ng2@example.com;Gee Two\n"))
	zw.Close()
	for _, tc := range []struct {
		name, ct, file string
		body           []byte
		rows, created  int
		format         string
	}{
		{"json", "application/json", "", []byte(jsonBody), 3, 2, "json"},
		{"ndjson", "application/x-ndjson", "", []byte(ndjson), 3, 2, "ndjson"},
		{"gzip csv multipart", "", "x.csv.gz", gz.Bytes(), 2, 2, "csv"},
		// Excel's delimiter hint, and a phone kept as text with ="…".
		{"excel sep line", "text/csv", "", []byte("sep=;\r\nE-mail;Phone\r\nx1@example.com;=\"0501234567\"\r\n"), 1, 1, "csv"},
	} {
		im := e.upload("/api/v1/imports", tc.file, tc.ct, tc.body).want(t, http.StatusAccepted).data()
		done := e.waitImport(str(im["id"]))
		if c := counts(done); c["rows"] != tc.rows || c["created"] != tc.created || done["format"] != tc.format {
			t.Errorf("%s: %v %v", tc.name, done["format"], c)
		}
	}
	j1 := e.do("GET", "/api/v1/customers/lookup?email=j1@example.com", nil).want(t, http.StatusOK).data()
	if fmt.Sprint(j1["tags"]) != "[a b]" {
		t.Fatalf("json tags %v", j1["tags"])
	}
	e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550112", nil).want(t, http.StatusOK)
	g2 := e.do("GET", "/api/v1/customers/lookup?email=g2@example.com", nil).want(t, http.StatusOK).data()
	if g2["first_name"] != "Gee Two" || g2["last_name"] != nil {
		t.Fatalf("semicolon csv row %v", g2)
	}
	if x1 := e.do("GET", "/api/v1/customers/lookup?email=x1@example.com", nil).want(t, http.StatusOK).data(); x1["phone"] != "0501234567" { // no region: the digits as typed
		t.Fatalf("excel row %v", x1)
	}
}

func TestImportDuplicatesAcrossChunks(t *testing.T) {
	t.Parallel()
	t.Run("one chunk size", func(t *testing.T) {
		t.Parallel()
		importDuplicatesAcrossChunks(t, queueOpts{chunkRows: 10})
	})
	// The API stages with 7-row chunks, the worker is configured with 20:
	// the plan must number chunks as the rows were staged, or staged chunks
	// 3 and up would never run.
	t.Run("worker configured with another chunk size", func(t *testing.T) {
		t.Parallel()
		importDuplicatesAcrossChunks(t, queueOpts{chunkRows: 7, workerChunkRows: 20})
	})
	// Chunks of 10 rows read 10 at a time: a page that is full and the
	// chunk's only one.
	t.Run("chunks of exactly one page", func(t *testing.T) {
		t.Parallel()
		importDuplicatesAcrossChunks(t, queueOpts{chunkRows: 10, pageRows: 10})
	})
}

func importDuplicatesAcrossChunks(t *testing.T, opts queueOpts) {
	e := newQueueEnv(t, opts)
	existing := e.createCustomer(map[string]any{"email": "old@example.com", "first_name": "Old", "last_name": "Timer"})
	var b strings.Builder
	b.WriteString("email,phone,first_name,company\n")
	for i := range 60 {
		switch {
		case i == 0:
			b.WriteString("dup@example.com,,Dup,\n")
		case i == 25:
			b.WriteString("DUP@example.com,+1 (415) 555-0199,,Acme\n") // links the phone
		case i == 50:
			b.WriteString(",14155550199,dup,Other Co\n") // matches through the phone only
		case i == 55:
			b.WriteString("old@example.com,,,Timer Co\n") // an existing customer
		default:
			fmt.Fprintf(&b, "u%d@example.com,,U%d,\n", i, i)
		}
	}
	im := e.upload("/api/v1/imports", "", "text/csv", []byte(b.String())).want(t, http.StatusAccepted).data()
	done := e.waitImport(str(im["id"]))
	c := counts(done)
	if c["created"] != 57 || c["merged_in_file"] != 2 || c["updated"] != 1 || done["chunks"].(float64) < 5 {
		t.Fatalf("counts %v chunks %v", c, done["chunks"])
	}
	dup := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550199", nil).want(t, http.StatusOK).data()
	// fill_blanks in file order: the first row's name stays, the first company wins.
	if dup["email"] != "dup@example.com" || dup["first_name"] != "Dup" || dup["company_name"] != "Acme" || dup["phone"] != "+14155550199" {
		t.Fatalf("merged in file as %v", dup)
	}
	old := e.do("GET", "/api/v1/customers/"+str(existing["id"]), nil).want(t, http.StatusOK).data()
	if old["company_name"] != "Timer Co" || old["first_name"] != "Old" {
		t.Fatalf("existing customer %v", old)
	}
}

// A file split into many parallel chunks must end exactly like processing it
// row by row in order (one chunk), whatever the links between rows.
func TestImportChunkingEqualsSequential(t *testing.T) {
	t.Parallel()
	file := linkedFile(rand.New(rand.NewPCG(7, 11)), 1500)
	var states []string
	// Chunks of 25 rows; one chunk; one chunk read 7 rows at a time; chunks
	// cut by their bytes (~600: a dozen rows each); one chunk read ~1 KB at
	// a time; chunks of 25 rows where every row weighs in the plan, its
	// groups spread over chunks of 2,000 bytes.
	for i, o := range []queueOpts{{chunkRows: 25}, {chunkRows: 1 << 30}, {chunkRows: 1 << 30, pageRows: 7},
		{chunkRows: 1 << 30, chunkBytes: 600}, {chunkRows: 1 << 30, pageBytes: 1000},
		{chunkRows: 25, chunkBytes: 2000, fatRowBytes: 1}} {
		e := newQueueEnv(t, o)
		for i := range 20 {
			e.createCustomer(map[string]any{"email": fmt.Sprintf("e%d@example.com", i*7), "first_name": fmt.Sprintf("Pre%d", i)})
		}
		im := e.upload("/api/v1/imports?merge_policy=fill_blanks", "", "text/csv", file).want(t, http.StatusAccepted).data()
		done := e.waitImport(str(im["id"]))
		if done["status"] != "completed" {
			t.Fatalf("import %v", done)
		}
		if n, single := done["chunks"].(float64), i == 1 || i == 2 || i == 4; single != (n == 1) || n > 100 {
			t.Fatalf("options %d: %v chunks", i, n)
		}
		states = append(states, canonicalState(t, e.env)+fmt.Sprint(counts(done)))
	}
	if states[0] != states[1] {
		t.Fatalf("chunked and sequential imports differ:\n%s\n---\n%s", head(states[0]), head(states[1]))
	}
	if states[2] != states[1] {
		t.Fatalf("a chunk read in pages differs:\n%s\n---\n%s", head(states[2]), head(states[1]))
	}
	if states[3] != states[1] {
		t.Fatalf("chunks cut by bytes differ:\n%s\n---\n%s", head(states[3]), head(states[1]))
	}
	if states[4] != states[1] {
		t.Fatalf("a chunk read in pages of bytes differs:\n%s\n---\n%s", head(states[4]), head(states[1]))
	}
	if states[5] != states[1] {
		t.Fatalf("groups spread by weight differ:\n%s\n---\n%s", head(states[5]), head(states[1]))
	}
}

// Rows of people who come back later on fat rows: the natural chunk of
// their first rows would gather every fat customer. The plan spreads such
// groups over extra chunks whose fat rows stay within the chunk's bytes, and
// the result equals the one-chunk import's.
func TestImportSpreadsFatGroups(t *testing.T) {
	t.Parallel()
	const people, fat, budget = 30, 2000, 16 << 10
	var b strings.Builder
	b.WriteString("email,first_name,notes\n")
	for i := range people {
		fmt.Fprintf(&b, "u%d@example.com,U%d,\n", i, i)
	}
	for i := range people {
		fmt.Fprintf(&b, "U%d@EXAMPLE.COM,,%s\n", i, strings.Repeat(string(rune('a'+i%26)), fat))
	}
	file := []byte(b.String())
	var states []string
	for i, o := range []queueOpts{{chunkRows: 1 << 30}, {chunkRows: 1 << 30, chunkBytes: budget, fatRowBytes: 1 << 10}} {
		e := newQueueEnv(t, o)
		done := e.importCSV("/api/v1/imports", file)
		if c := counts(done); done["status"] != "completed" || c["created"] != people || c["merged_in_file"] != people {
			t.Fatalf("options %d: import %v", i, done)
		}
		got := e.do("GET", "/api/v1/customers/lookup?email=u7%40example.com", nil).want(t, http.StatusOK).data()
		if got["first_name"] != "U7" || got["notes"] != strings.Repeat("h", fat) {
			t.Fatalf("options %d: merged as %v", i, got)
		}
		states = append(states, canonicalState(t, e.env))
		if i == 0 {
			continue
		}
		// Every chunk's fat rows, where the plan put them.
		var natural, chunks, lastChunk, maxBytes int
		if err := e.store.Pool().QueryRow(context.Background(), `
			SELECT (SELECT cardinality(chunk_starts) FROM imports WHERE id = $1), count(*), max(chunk), max(bytes) FROM (
				SELECT coalesce(m.chunk, r.chunk) AS chunk, sum(r.size_bytes) AS bytes FROM import_rows r
				LEFT JOIN import_row_moves m ON m.organization_id = r.organization_id AND m.import_id = r.import_id AND m.row_num = r.row_num
				WHERE r.import_id = $1 GROUP BY 1) c`, done["id"]).Scan(&natural, &chunks, &lastChunk, &maxBytes); err != nil {
			t.Fatal(err)
		}
		// 30 groups of 2,000 bytes, 8 to a chunk: the first chunk and three extra ones.
		if chunks != 4 || lastChunk < natural || maxBytes > budget || done["chunks"].(float64) != float64(chunks) {
			t.Fatalf("%d natural chunks, %d planned (the last %d; import says %v), the fattest holds %d bytes of fat rows (budget %d)",
				natural, chunks, lastChunk, done["chunks"], maxBytes, budget)
		}
	}
	if states[0] != states[1] {
		t.Fatalf("spread groups end differently:\n%s\n---\n%s", head(states[1]), head(states[0]))
	}
}

func head(s string) string {
	if len(s) > 3000 {
		return s[:3000]
	}
	return s
}

// fileRow is one generated customer row (gocsv writes the header from the tags).
type fileRow struct {
	Email     string `csv:"Email"`
	Phone     string `csv:"Phone"`
	FirstName string `csv:"First Name"`
	LastName  string `csv:"Last Name"`
	Company   string `csv:"Company"`
	Tags      string `csv:"Tags"`
}

// linkedFile makes rows whose emails and phones repeat and chain across the
// file, in varied formats, so identities span many chunks.
func linkedFile(rng *rand.Rand, rows int) []byte {
	out := make([]fileRow, 0, rows)
	for range rows {
		var r fileRow
		if rng.IntN(10) < 8 {
			r.Email = fmt.Sprintf("e%d@example.com", rng.IntN(rows/3))
			if rng.IntN(3) == 0 {
				r.Email = strings.ToUpper(r.Email)
			}
		}
		if rng.IntN(10) < 6 {
			formats := []string{"+1415555%04d", "(415) 555-%04d", "1-415-555-%04d", "001 415 555 %04d"}
			r.Phone = fmt.Sprintf(formats[rng.IntN(len(formats))], rng.IntN(rows/3))
		}
		if r.Email == "" && r.Phone == "" && rng.IntN(2) == 0 {
			r.Email = "bad-email"
		}
		r.FirstName, r.LastName = fmt.Sprintf("F%d", rng.IntN(50)), fmt.Sprintf("L%d", rng.IntN(50))
		r.Company, r.Tags = fmt.Sprintf("C%d", rng.IntN(5)), fmt.Sprintf("t%d", rng.IntN(4))
		out = append(out, r)
	}
	b, err := gocsv.MarshalBytes(&out)
	if err != nil {
		panic(err)
	}
	return b
}

// canonicalState renders every live customer by its identifiers, fields and
// tags, independent of generated ids.
func canonicalState(t *testing.T, e *env) string {
	t.Helper()
	rows, err := e.store.Pool().Query(context.Background(), `
		SELECT c.first_name, c.last_name, c.company_name, c.email, c.phone,
			(SELECT coalesce(string_agg(kind || ':' || value || ':' || is_primary, ' ' ORDER BY kind, value), '') FROM customer_identities i
				WHERE i.organization_id = c.organization_id AND i.customer_id = c.id) ||
			(SELECT coalesce(string_agg(' shared ' || kind || ':' || value, '' ORDER BY kind, value), '') FROM shared_identifier_carriers s
				WHERE s.organization_id = c.organization_id AND s.customer_id = c.id),
			(SELECT coalesce(string_agg(tag, ' ' ORDER BY tag), '') FROM customer_tags g
				WHERE g.organization_id = c.organization_id AND g.customer_id = c.id)
		FROM customers c WHERE c.merged_into IS NULL AND c.organization_id = $1`, e.org)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var f [7]string
		if err := rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Join(f[:], "|"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestImportDryRun(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	e.createCustomer(map[string]any{"email": "known@example.com", "first_name": "Known", "last_name": "Person"})
	file := "email,first_name\nknown@example.com,Known\nnew@example.com,New\nNEW@example.com,new\n,nobody\n"
	im := e.upload("/api/v1/imports?dry_run=true", "", "text/csv", []byte(file)).want(t, http.StatusAccepted).data()
	done := e.waitImport(str(im["id"]))
	c := counts(done)
	if c["created"] != 1 || c["updated"] != 1 || c["merged_in_file"] != 1 || c["invalid"] != 1 {
		t.Fatalf("dry-run counts %v", c)
	}
	if samples, _ := done["samples"].(map[string]any); fmt.Sprint(samples["create"]) != "[3]" || fmt.Sprint(samples["merge_in_file"]) != "[4]" {
		t.Fatalf("samples %v", done["samples"])
	}
	if n := e.count("SELECT count(*) FROM customers"); n != 1 {
		t.Fatalf("dry run wrote customers: %d", n)
	}
	if opts, _ := done["options"].(map[string]any); opts["dry_run"] != true {
		t.Fatalf("options %v", done["options"])
	}
}

func TestImportPreview(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	file := "\xef\xbb\xbfE-mail Address;Mobile;Given Name;Loyalty\nA@Example.com;(415) 555-0123;Ann;gold\nbad;;Bo;silver\n"
	res := e.upload("/api/v1/imports/preview?default_region=US", "", "text/csv", []byte(file)).want(t, http.StatusOK)
	d := res.data()
	if d["encoding"] != "utf-8-sig" || d["delimiter"] != ";" {
		t.Fatalf("detected %v %v", d["encoding"], d["delimiter"])
	}
	rows, _ := d["rows"].([]any)
	r0 := rows[0].(map[string]any)
	if len(rows) != 2 || r0["email"] != "a@example.com" || r0["phone"] != "+14155550123" || r0["valid"] != true {
		t.Fatalf("rows %v", rows)
	}
	if attrs, _ := r0["attributes"].(map[string]any); attrs["Loyalty"] != "gold" {
		t.Fatalf("attributes %v", r0["attributes"])
	}
	if r1 := rows[1].(map[string]any); r1["valid"] != false || r1["row"] != float64(3) {
		t.Fatalf("row 3 %v", r1)
	}
	if n := e.count("SELECT count(*) FROM imports"); n != 0 {
		t.Fatalf("preview stored an import")
	}
}

func TestImportValidationAndLimits(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true, cfg: api.Config{MaxImportBytes: 2048}})
	ok := []byte("email\na@example.com\n")
	for q, field := range map[string]string{
		"merge_policy=smash":                          "merge_policy",
		"location_id=loc_nowhere":                     "location_id",
		"mapping=%7Bnot-json":                         "mapping",
		"mapping=%7B%22email%22%3A%22shoe_size%22%7D": "mapping",
		"default_region=ZZ":                           "default_region",
		"dry_run=maybe":                               "dry_run",
		"group_ids=grp_missing":                       "group_ids",
		"kind=invoices":                               "kind",
	} {
		e.upload("/api/v1/imports?"+q, "", "text/csv", ok).wantError(t, http.StatusUnprocessableEntity, field)
	}
	e.upload("/api/v1/imports", "", "application/pdf", ok).wantError(t, http.StatusUnsupportedMediaType)
	e.upload("/api/v1/imports", "x.xlsx", "", []byte("PK\x03\x04rest-of-zip")).wantError(t, http.StatusUnprocessableEntity, "file")
	big := bytes.Repeat([]byte("a@example.com\n"), 400)
	e.upload("/api/v1/imports", "", "text/csv", append([]byte("email\n"), big...)).wantError(t, http.StatusRequestEntityTooLarge)
	if n := e.count("SELECT count(*) FROM imports WHERE status NOT IN ('failed')"); n != 0 {
		t.Fatalf("%d imports left unfinished", n)
	}
	e.do("GET", "/api/v1/imports/imp_missing", nil).wantError(t, http.StatusNotFound)
	_, keyB := e.newOrg("B", "")
	im := e.upload("/api/v1/imports", "", "text/csv", ok).want(t, http.StatusAccepted).data()
	e.doKey(keyB, "GET", "/api/v1/imports/"+str(im["id"]), nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/v1/imports/"+str(im["id"])+"/errors", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "POST", "/api/v1/imports/"+str(im["id"])+"/cancel", nil).wantError(t, http.StatusNotFound)
	// No worker runs here: the import waits, and can be cancelled.
	cancelled := e.do("POST", "/api/v1/imports/"+str(im["id"])+"/cancel", nil).want(t, http.StatusOK).data()
	if cancelled["status"] != "cancelled" {
		t.Fatalf("cancel %v", cancelled)
	}
	e.do("POST", "/api/v1/imports/"+str(im["id"])+"/cancel", nil).wantError(t, http.StatusConflict)
	// A chunk running at the cancel may still add problems: the summary is
	// counted on each read until no chunk can be (a task's timeout), then
	// stored like a completed import's.
	storedSummary := func() int {
		e.do("GET", "/api/v1/imports", nil).want(t, http.StatusOK)
		return e.count("SELECT count(*) FROM imports WHERE id = $1 AND error_summary IS NOT NULL", im["id"])
	}
	if n := storedSummary(); n != 0 {
		t.Fatalf("summary stored at the cancel")
	}
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE imports SET finished = now() - interval '11 minutes' WHERE id = $1`, im["id"]); err != nil {
		t.Fatal(err)
	}
	if n := storedSummary(); n != 1 {
		t.Fatalf("summary of a long-cancelled import not stored")
	}
}

// A phone typed on every walk-in (the store's own number) would merge a
// whole file into one customer. Shared by rows of more than
// PlaceholderShare different people (emails, or names on rows without
// one), it is a placeholder: it matches no one, each row with an email
// keeps its own customer with a warning, and a row with nothing else is an
// error. A family sharing a phone, or two emails of one person, still merge.
func TestImportPlaceholderIdentifiers(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 8, pageRows: 3}) // chunks read 3 rows at a time
	store := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "Corner", "last_name": "Store",
		"email": "store@example.com", "phone": "+1 415 555 0100"}).want(t, http.StatusCreated).data()
	var b strings.Builder
	b.WriteString("First Name,Last Name,Email,Mobile\r\n")
	const walkIns, anonymous = 30, 25 // rows 2–31 with an email, rows 32–56 with a name only
	for i := range walkIns {
		fmt.Fprintf(&b, "Walk%d,In,walkin%d@example.com,+1 (415) 555-0100\r\n", i, i)
	}
	for i := range anonymous {
		fmt.Fprintf(&b, "Guest%d,Visitor,,415.555.0100\r\n", i)
	}
	b.WriteString("Kim,Ng,kim@example.com,+1 415 555 0199\r\n") // one person, two emails
	b.WriteString("Kim,Ng,kim.ng@example.com,(415) 555-0199\r\n")
	for _, name := range []string{"Ann", "Bob", "Cid"} { // a family's landline: three people (names differ), the phone shared
		fmt.Fprintf(&b, "%s,Fam,,+1 415 555 0188\r\n", name)
	}
	const dummies = 25 // rows 62–86: a dummy email beside the store's phone, both placeholders
	for i := range dummies {
		fmt.Fprintf(&b, "Dummy%d,Walker,none@none.com,+1 415 555 0100\r\n", i)
	}
	wantCounts := func(what string, im map[string]any) {
		t.Helper()
		if c := counts(im); im["status"] != "completed" || c["created"] != walkIns+4 || c["merged_in_file"] != 1 ||
			c["invalid"] != anonymous+dummies || c["warnings"] != walkIns+2 || c["updated"]+c["unchanged"] != 0 {
			t.Fatalf("%s %v counts %v", what, im["status"], c)
		}
	}
	// A dry run tells the same and writes no customer.
	dry := e.upload("/api/v1/imports?default_region=US&dry_run=true", "walkins.csv", "text/csv", []byte(b.String())).
		want(t, http.StatusAccepted).data()
	wantCounts("dry run", e.waitImport(str(dry["id"])))
	if n := e.count("SELECT count(*) FROM customers"); n != 1 {
		t.Fatalf("%d customers after a dry run, want only the store", n)
	}
	im := e.upload("/api/v1/imports?default_region=US", "walkins.csv", "text/csv", []byte(b.String())).
		want(t, http.StatusAccepted).data()
	wantCounts("import", e.waitImport(str(im["id"])))
	if n := e.count("SELECT count(*) FROM customers"); n != walkIns+5 {
		t.Fatalf("%d customers, want %d: the store, each walk-in, Kim, the family's three", n, walkIns+5)
	}
	if got := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550100", nil).want(t, http.StatusOK).data(); got["id"] != store["id"] {
		t.Fatalf("the store's phone now resolves to %v, want the store %v", got["id"], store["id"])
	}
	walk := e.do("GET", "/api/v1/customers/lookup?email=walkin7@example.com", nil).want(t, http.StatusOK).data()
	if walk["phone"] != nil || walk["first_name"] != "Walk7" {
		t.Fatalf("walk-in 7: %v, want its own customer without the placeholder phone", walk)
	}
	kim := e.do("GET", "/api/v1/customers/lookup?email=kim.ng@example.com", nil).want(t, http.StatusOK).data()
	if kim["email"] != "kim@example.com" {
		t.Fatalf("kim.ng@example.com resolves to %v, want Kim's customer (merged by phone)", kim)
	}

	problems := e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors?limit=100", nil).want(t, http.StatusOK).list()
	if len(problems) != walkIns+anonymous+dummies+2 {
		t.Fatalf("%d problems, want %d", len(problems), walkIns+anonymous+dummies+2)
	}
	for _, p := range problems {
		row, sev := int(p["row"].(float64)), p["severity"]
		switch {
		case row >= walkIns+2 && row < walkIns+2+anonymous && sev == "error" && p["column"] == "Mobile":
		case row >= walkIns+anonymous+7 && sev == "error" && p["column"] == "Email":
		case row >= 2 && row <= walkIns+1 && sev == "warning" && p["column"] == "Mobile" &&
			strings.Contains(str(p["reason"]), "placeholder"):
		case (row == 60 || row == 61) && sev == "warning" && p["column"] == "Mobile" &&
			strings.Contains(str(p["reason"]), "shared"): // Bob and Cid on Ann's landline
		default:
			t.Errorf("unexpected problem %v", p)
		}
	}
	sum, _ := e.do("GET", "/api/v1/imports/"+str(im["id"]), nil).want(t, http.StatusOK).data()["error_summary"].(map[string]any)
	if sum["warning: phone shared by more than 20 different people in this file: treated as a placeholder, not imported"] != float64(walkIns) {
		t.Errorf("error_summary %v", sum)
	}
	// The error CSV gives the rows that rested on the placeholder as they were.
	records := e.errorCSV(str(im["id"]))
	if len(records) != anonymous+dummies+1 {
		t.Fatalf("error CSV: %d records, want a header and %d rows", len(records), anonymous+dummies)
	}
	if got := strings.Join(records[4][:4], "|"); got != "Guest3|Visitor||415.555.0100" || !strings.Contains(records[4][4], "row 35 error: Mobile") {
		t.Errorf("error CSV row of Guest3: %q", records[4])
	}
	// A row whose email and phone are both placeholders too (row 65; the
	// phone's "+" escaped against formula injection).
	if got := strings.Join(records[anonymous+4][:4], "|"); got != "Dummy3|Walker|none@none.com|'+1 415 555 0100" ||
		!strings.Contains(records[anonymous+4][4], "row 65 error: Email") {
		t.Errorf("error CSV row of Dummy3: %q", records[anonymous+4])
	}
	// Warnings keep the original row too (row 9: walk-in 7).
	for _, p := range problems {
		if p["row"] == float64(9) && fmt.Sprint(p["original"]) != "[Walk7 In walkin7@example.com +1 (415) 555-0100]" {
			t.Errorf("walk-in 7's warning: original %v", p["original"])
		}
	}
}

// A file none of whose columns is an identifier would import no row: the
// upload is refused with a reason naming the file's columns and the
// mapping option, the preview says the same, and the mapping fixes it.
func TestImportWithoutIdentifierColumn(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	file := []byte("Name,City,Kontakt\nBob Stone,Paris,bob@example.com\nAnn Lee,Lyon,ann@example.com\n")
	res := e.upload("/api/v1/imports", "", "text/csv", file).wantError(t, http.StatusUnprocessableEntity, "mapping")
	msg, _ := res.details()["mapping"].(string)
	if !strings.Contains(msg, "no column maps to email, phone or external_id") || !strings.Contains(msg, "Name, City, Kontakt") {
		t.Fatalf("reason %q", msg)
	}
	if n := e.count("SELECT count(*) FROM imports"); n != 0 {
		t.Fatalf("%d imports stored for a refused file", n)
	}
	orders := []byte("Order,Kontakt,Total\n#1001,bob@example.com,10.00\n")
	res = e.upload("/api/v1/imports?kind=orders", "", "text/csv", orders).wantError(t, http.StatusUnprocessableEntity, "mapping")
	if msg, _ := res.details()["mapping"].(string); !strings.Contains(msg, "no column maps to order_date") ||
		!strings.Contains(msg, "no column maps to email, phone or customer_external_id") || strings.Contains(msg, "order_number") {
		t.Fatalf("orders reason %q", msg)
	}

	pre := e.upload("/api/v1/imports/preview", "", "text/csv", file).want(t, http.StatusOK).data()
	if m, _ := pre["missing_columns"].([]any); len(m) != 1 || !strings.Contains(str(m[0]), "email, phone or external_id") {
		t.Fatalf("preview missing_columns %v", pre["missing_columns"])
	}
	q := "?mapping=" + url.QueryEscape(`{"Kontakt":"email"}`)
	pre = e.upload("/api/v1/imports/preview"+q, "", "text/csv", file).want(t, http.StatusOK).data()
	if m, _ := pre["missing_columns"].([]any); m == nil || len(m) != 0 {
		t.Fatalf("preview with mapping: missing_columns %v", pre["missing_columns"])
	}
	im := e.importCSV("/api/v1/imports"+q, file)
	if c := counts(im); c["created"] != 2 || c["invalid"] != 0 {
		t.Fatalf("with mapping: counts %v", im["counts"])
	}
	// JSON records bring their own keys: a record without an identifier is
	// a row error, as before.
	im = e.waitImport(str(e.upload("/api/v1/imports", "", "application/json",
		[]byte(`[{"name":"Cy","city":"Nice"},{"name":"Di","email":"di@example.com"}]`)).want(t, http.StatusAccepted).data()["id"]))
	if c := counts(im); c["created"] != 1 || c["invalid"] != 1 {
		t.Fatalf("json: counts %v", im["counts"])
	}
}

// The reading limits are the server's configuration: a header with too
// many columns refuses the file; a row holding more than the row limit is
// a row error whose cells the report cuts short; every other row lands.
func TestImportConfiguredLimits(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{cfg: api.Config{ImportLimits: api.ImportLimits{MaxColumns: 3, MaxFieldBytes: 300, MaxRowBytes: 400}}})
	e.upload("/api/v1/imports", "", "text/csv", []byte("email,name,notes,extra\na@example.com,A,,\n")).
		wantError(t, http.StatusUnprocessableEntity, "file")
	fat := strings.Repeat("n", 290)
	file := "email,name,notes\n" +
		"a@example.com,Ann," + fat + "\n" +
		"b@example.com," + fat + "," + fat + "\n" + // 593 bytes: over the row limit
		"c@example.com,Cy," + strings.Repeat("x", 301) + "\n" // a field over its limit: dropped, row imported
	im := e.importCSV("/api/v1/imports", []byte(file))
	if c := counts(im); c["created"] != 2 || c["invalid"] != 1 {
		t.Fatalf("counts %v", im["counts"])
	}
	e.do("GET", "/api/v1/customers/lookup?email=b@example.com", nil).wantError(t, http.StatusNotFound)
	records := e.errorCSV(str(im["id"]))
	if len(records) != 2 || records[1][0] != "b@example.com" || len(records[1][1]) > 140 || !strings.HasSuffix(records[1][1], "…") ||
		!strings.Contains(records[1][3], "the row holds 593 bytes of values, more than the limit of 400 bytes") {
		t.Fatalf("error csv %q", records)
	}
}
