package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/linkitworks/customers/customer"
)

// testWorkbook builds a two-sheet workbook as Excel saves one: a phone
// typed as a number (and one stored in exponent form), a birthday as a
// date cell (a serial with a date format), a zip code as text with its
// leading zeros, a blank row, trailing empty cells.
func testWorkbook(t testing.TB) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Customers"); err != nil {
		t.Fatal(err)
	}
	set := func(sheet, cell string, v any) {
		t.Helper()
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range []string{"First Name", "Email", "Phone", "Birthday", "Zip", "Loyalty Tier"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		set("Customers", cell, h)
	}
	set("Customers", "A2", "Layla")
	set("Customers", "B2", "layla@example.com")
	set("Customers", "C2", 15551234567)
	set("Customers", "D2", time.Date(1990, 3, 15, 0, 0, 0, 0, time.UTC))
	set("Customers", "E2", "00123")
	set("Customers", "F2", "VIP")
	// Row 3 blank; row 4 a phone stored in exponent form, no notes.
	set("Customers", "A4", "Omar")
	if err := f.SetCellDefault("Customers", "C4", "1.5551239876E+10"); err != nil {
		t.Fatal(err)
	}
	set("Customers", "E4", "0042")

	if _, err := f.NewSheet("Second"); err != nil {
		t.Fatal(err)
	}
	set("Second", "A1", "email")
	set("Second", "B1", "first_name")
	set("Second", "A2", "second@example.com")
	set("Second", "B2", "Sami")
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readRows(t *testing.T, rd *Reader) []Row {
	t.Helper()
	var rows []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

func TestXLSX(t *testing.T) {
	t.Parallel()
	book := testWorkbook(t)
	tmp := t.TempDir()
	// The spooled upload is deleted once read.
	rd, err := Open(bytes.NewReader(book), Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	det := rd.Detected()
	if det.Format != FormatXLSX || det.Sheet != "Customers" || len(det.Sheets) != 2 || det.Sheets[1] != "Second" {
		t.Fatalf("detected %+v", det)
	}
	if det.Mapping["Phone"] != "phone" || det.Mapping["Birthday"] != "birthdate" || det.Mapping["Zip"] != "postal_code" {
		t.Fatalf("mapping %v", det.Mapping)
	}
	rows := readRows(t, rd)
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if r.Num != 2 || r.Fields["first_name"] != "Layla" || r.Fields["phone"] != "15551234567" ||
		r.Fields["birthdate"] != "1990-03-15" || r.Fields["postal_code"] != "00123" || r.Attributes["Loyalty Tier"] != "VIP" {
		t.Errorf("row 2: %+v", r)
	}
	// Sheet row numbers: the blank row 3 is skipped, not renumbered.
	r = rows[1]
	if r.Num != 4 || r.Fields["phone"] != "15551239876" || r.Fields["postal_code"] != "0042" || len(r.Raw) != 6 {
		t.Errorf("row 4: %+v", r)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}

	// The normalizer reads the date as a date and the phone as a phone.
	norm := NewNormalizer(det, "US", nil, "US")
	staged, probs, ok := norm.Normalize(rows[0])
	if !ok || staged.Phone != "+15551234567" || staged.Record.Fields["birthdate"] != "1990-03-15" {
		t.Errorf("normalized %+v %v %v", staged, probs, ok)
	}

	// The second sheet, by name and by index.
	for _, sheet := range []string{"Second", "second", "2"} {
		rd, err := Open(bytes.NewReader(book), Options{Sheet: sheet})
		if err != nil {
			t.Fatalf("sheet %q: %v", sheet, err)
		}
		rows := readRows(t, rd)
		if rd.Detected().Sheet != "Second" || len(rows) != 1 || rows[0].Fields["email"] != "second@example.com" {
			t.Errorf("sheet %q: %+v", sheet, rows)
		}
	}
}

func TestXLSXErrors(t *testing.T) {
	t.Parallel()
	book := testWorkbook(t)

	_, err := Open(bytes.NewReader(book), Options{Sheet: "Orders"})
	var se *SheetError
	if !errors.As(err, &se) || len(se.Sheets) != 2 {
		t.Fatalf("unknown sheet: %v", err)
	}
	if p := Problem(err); p.Code != customer.EINVALID || p.Details.(map[string]string)["sheet"] == "" {
		t.Errorf("unknown sheet problem %+v", p)
	}
	if _, err := Open(bytes.NewReader(book), Options{Sheet: "3"}); !errors.As(err, &se) {
		t.Errorf("sheet 3 of 2: %v", err)
	}

	// Cut short: not a readable workbook, a file error.
	var fe *FileError
	if _, err := Open(bytes.NewReader(book[:len(book)/2]), Options{}); !errors.As(err, &fe) {
		t.Errorf("truncated workbook: %v", err)
	}
	// A zip of something else.
	var zipped bytes.Buffer
	writeZip(t, &zipped, "readme.txt", []byte("hello"))
	if _, err := Open(bytes.NewReader(zipped.Bytes()), Options{}); !errors.As(err, &fe) {
		t.Errorf("plain zip: %v", err)
	}

	// Over the decompressed limit (a zip bomb): 413 before extracting.
	_, err = Open(bytes.NewReader(book), Options{MaxBytes: 1000})
	var ce *customer.Error
	if !errors.As(err, &ce) || ce.Code != customer.ETOOLARGE {
		t.Errorf("over the decompressed limit: %v", err)
	}
}

// writeZip writes a one-file zip.
func writeZip(t *testing.T, w io.Writer, name string, data []byte) {
	t.Helper()
	zw := zip.NewWriter(w)
	fw, err := zw.Create(name)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}
