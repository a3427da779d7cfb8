package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// workbook builds an .xlsx: a first sheet of notes, then "Customers" with
// a phone typed as a number, a birthday as a date cell and a zip code with
// leading zeros.
func workbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "Read me"))
	must(f.SetCellValue("Read me", "A1", "Exported from the till"))
	_, err := f.NewSheet("Customers")
	must(err)
	must(f.SetSheetRow("Customers", "A1", &[]any{"Name", "Email", "Mobile", "Date of Birth", "Zip"}))
	must(f.SetSheetRow("Customers", "A2", &[]any{"Layla Haddad", "layla@example.com", 4155550123, time.Date(1990, 3, 15, 0, 0, 0, 0, time.UTC), "02134"}))
	must(f.SetSheetRow("Customers", "A3", &[]any{"Omar Saleh", "omar@example.com", "+966 50 123 4567"}))
	must(f.SetSheetRow("Customers", "A4", &[]any{"Nobody"}))
	var buf bytes.Buffer
	must(f.Write(&buf))
	return buf.Bytes()
}

func TestImportXLSX(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	book := workbook(t)

	// Multipart with the file's name; the sheet by name.
	res := e.upload("/api/v1/imports?default_region=US&sheet=Customers", "customers.xlsx", "", book).want(t, http.StatusAccepted)
	done := e.waitImport(str(res.data()["id"]))
	if done["status"] != "completed" || done["format"] != "xlsx" {
		t.Fatalf("import %v", done)
	}
	if c := counts(done); c["rows"] != 3 || c["created"] != 2 || c["invalid"] != 1 {
		t.Fatalf("counts %v", c)
	}
	layla := e.do("GET", "/api/v1/customers/lookup?phone=%2B14155550123", nil).want(t, http.StatusOK).data()
	if layla["email"] != "layla@example.com" || layla["birthdate"] != "1990-03-15" {
		t.Fatalf("Layla %v", layla)
	}
	// No street line: the zip is kept as an attribute, leading zero and all.
	if attrs, _ := layla["attributes"].(map[string]any); attrs["Zip"] != "02134" {
		t.Fatalf("zip: attributes %v", layla["attributes"])
	}
	// The rejected row, with the sheet's headers and row number.
	rows := e.errorCSV(str(done["id"]))
	if len(rows) != 2 || rows[0][0] != "Name" || rows[1][0] != "Nobody" {
		t.Fatalf("error CSV %q", rows)
	}

	// A raw body is known by its content (octet-stream), the sheet by index.
	res = e.upload("/api/v1/imports?sheet=2&default_region=US", "", "application/octet-stream", book).want(t, http.StatusAccepted)
	if again := e.waitImport(str(res.data()["id"])); counts(again)["unchanged"] != 2 {
		t.Fatalf("again %v", again)
	}
}

func TestImportXLSXPreviewAndErrors(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	book := workbook(t)
	const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

	// The first sheet by default: the preview says which, and which exist.
	d := e.upload("/api/v1/imports/preview", "", xlsx, book).want(t, http.StatusOK).data()
	sheets, _ := d["sheets"].([]any)
	if d["format"] != "xlsx" || d["sheet"] != "Read me" || len(sheets) != 2 || sheets[1] != "Customers" {
		t.Fatalf("preview %v", d)
	}
	d = e.upload("/api/v1/imports/preview?sheet=customers&default_region=US", "book.xlsx", "", book).want(t, http.StatusOK).data()
	rows, _ := d["rows"].([]any)
	if d["sheet"] != "Customers" || len(rows) != 3 {
		t.Fatalf("preview of Customers %v", d)
	}
	if r0 := rows[0].(map[string]any); r0["phone"] != "+14155550123" || r0["valid"] != true || r0["row"] != float64(2) {
		t.Fatalf("row 2 %v", r0)
	}

	e.upload("/api/v1/imports/preview?sheet=Orders", "", xlsx, book).wantError(t, http.StatusUnprocessableEntity, "sheet")
	e.upload("/api/v1/imports?sheet=9", "", xlsx, book).wantError(t, http.StatusUnprocessableEntity, "sheet")
	// Corrupt (cut short) and not a workbook at all.
	e.upload("/api/v1/imports", "broken.xlsx", "", book[:len(book)/2]).wantError(t, http.StatusUnprocessableEntity, "file")
	e.upload("/api/v1/imports/preview", "", xlsx, []byte("Name,Email\nA,a@example.com\n")).wantError(t, http.StatusUnprocessableEntity, "file")
	if n := e.count("SELECT count(*) FROM imports"); n != 0 {
		t.Fatalf("%d imports stored for refused workbooks", n)
	}
}
