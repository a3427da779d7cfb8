package importer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/linkitworks/customers/customer"
)

func readAll(t testing.TB, data []byte, opts Options) (*Reader, []Row) {
	t.Helper()
	rd, err := Open(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next after %d rows: %v", len(rows), err)
		}
		rows = append(rows, row)
	}
	return rd, rows
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// records rebuilds header → cell maps from Raw, as csv-spectrum expects.
func records(t testing.TB, rd *Reader, rows []Row) []map[string]string {
	t.Helper()
	h := rd.Detected().Headers
	var out []map[string]string
	for _, r := range rows {
		if r.Err != nil {
			t.Fatalf("row %d: %v", r.Num, r.Err)
		}
		m := map[string]string{}
		for i, c := range r.Raw {
			m[h[i]] = c
		}
		out = append(out, m)
	}
	return out
}

func TestCSVSpectrum(t *testing.T) {
	files, _ := filepath.Glob("testdata/csv-spectrum/csvs/*.csv")
	if len(files) != 11 {
		t.Fatalf("found %d csv-spectrum files", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".csv")
		t.Run(name, func(t *testing.T) {
			data := readFile(t, "csv-spectrum/csvs/"+name+".csv")
			var want []map[string]string
			if err := json.Unmarshal(readFile(t, "csv-spectrum/json/"+name+".json"), &want); err != nil {
				t.Fatal(err)
			}
			// CRLF inside quoted fields is normalized to LF (encoding/csv
			// behaviour); the stored *_crlf files lost their CRs anyway.
			for _, m := range want {
				for k, v := range m {
					m[k] = strings.ReplaceAll(v, "\r\n", "\n")
				}
			}
			variants := map[string][]byte{"as-is": data}
			if strings.HasSuffix(name, "_crlf") {
				variants["crlf"] = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			}
			for vn, d := range variants {
				rd, rows := readAll(t, d, Options{})
				if got := records(t, rd, rows); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %q\nwant %q", vn, got, want)
				}
				if det := rd.Detected(); det.Delimiter != "," || det.Encoding != "utf-8" || det.Format != FormatCSV {
					t.Errorf("%s: detected %+v", vn, det)
				}
			}
		})
	}
}

func TestBOM(t *testing.T) {
	rd, rows := readAll(t, readFile(t, "frictionless-py/bom.csv"), Options{})
	det := rd.Detected()
	if det.Encoding != "utf-8-sig" || !reflect.DeepEqual(det.Headers, []string{"id", "name"}) {
		t.Fatalf("detected %+v", det)
	}
	if len(rows) != 2 || rows[1].Raw[1] != "中国人" || rows[1].Fields["name"] != "中国人" || rows[1].Fields["external_id"] != "2" {
		t.Fatalf("rows %+v", rows)
	}
}

func TestLatin1(t *testing.T) {
	rd, rows := readAll(t, readFile(t, "frictionless-py/latin1.csv"), Options{})
	if rd.Detected().Encoding != "windows-1252" || rows[1].Raw[1] != "©" {
		t.Fatalf("%+v %+v", rd.Detected(), rows)
	}
	for _, f := range []string{"CSV-basic-ISO-8859-1.CRLF.csv", "CSV-basic-ISO-8859-1.LF.csv"} {
		rd, rows := readAll(t, readFile(t, "CharlesNepote-CSV-test-files/"+f), Options{})
		if rd.Detected().Encoding != "windows-1252" || len(rows) != 3 {
			t.Fatalf("%s: %+v %d rows", f, rd.Detected(), len(rows))
		}
		last := rows[2]
		if last.Num != 4 || last.Fields["first_name"] != "Hélène" || last.Fields["last_name"] != "Mahé" || last.Attributes["age"] != "42" {
			t.Fatalf("%s: %+v", f, last)
		}
	}
	rd, rows = readAll(t, readFile(t, "frictionless-py/table-with-accents.csv"), Options{})
	det := rd.Detected()
	if det.Encoding != "windows-1252" || det.Delimiter != ";" || det.Headers[3] != "Année" || len(det.Headers) != 8 {
		t.Fatalf("%+v", det)
	}
	for _, r := range rows {
		if r.Err != nil || len(r.Raw) != 8 || strings.ContainsAny(strings.Join(r.Raw, ""), "\r\n") {
			t.Fatalf("row %d: %+v", r.Num, r)
		}
	}
}

// Excel for Mac saves "Comma Separated Values" in Mac Roman, where é is
// 0x8E (Ž in Windows-1252). Windows-1252 text with its own use of those
// bytes inside words (’ in O’Brien, Š in Šimon) beside its accented
// letters stays Windows-1252.
func TestMacRoman(t *testing.T) {
	mac := "first name;last name;city\rJos\x8e;M\x9fller;Z\x9frich\rFran\x8dois;Cr\x8fme;Orl\x8eans\r"
	rd, rows := readAll(t, []byte(mac), Options{})
	if rd.Detected().Encoding != "macintosh" || len(rows) != 2 {
		t.Fatalf("%+v %d rows", rd.Detected(), len(rows))
	}
	if r := rows[0]; r.Fields["first_name"] != "José" || r.Fields["last_name"] != "Müller" || r.Fields["city"] != "Zürich" {
		t.Fatalf("%+v", r)
	}
	if r := rows[1]; r.Fields["first_name"] != "François" || r.Fields["last_name"] != "Crème" {
		t.Fatalf("%+v", r)
	}
	win := "first name,last name\nSean,O\x92Brien\n\x8aimon,Nov\xe1k\nH\xe9l\xe8ne,Mah\xe9\n"
	rd, rows = readAll(t, []byte(win), Options{})
	if rd.Detected().Encoding != "windows-1252" || rows[0].Fields["last_name"] != "O’Brien" || rows[1].Fields["first_name"] != "Šimon" {
		t.Fatalf("%+v %+v", rd.Detected(), rows)
	}
}

// A Latin-1 file whose first accent comes after the sniffed prefix.
func TestLateLatin1(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("first name,last name\n")
	for b.Len() < 100<<10 {
		b.WriteString("John,Smith\n")
	}
	b.WriteString("H\xe9l\xe8ne,Mah\xe9\n")
	rd, rows := readAll(t, b.Bytes(), Options{})
	if rd.Detected().Encoding != "utf-8" {
		t.Fatal(rd.Detected().Encoding)
	}
	last := rows[len(rows)-1]
	if last.Fields["first_name"] != "Hélène" || last.Fields["last_name"] != "Mahé" || last.Raw[0] != "Hélène" || len(last.Warnings) != 2 {
		t.Fatalf("%+v", last)
	}
	if last.Warnings[0].Column != "first name" || !strings.Contains(last.Warnings[0].Reason, "windows-1252") {
		t.Fatalf("%+v", last.Warnings)
	}
}

// A UTF-8 file with one stray Latin-1 byte stays UTF-8.
func TestMostlyUTF8(t *testing.T) {
	rd, rows := readAll(t, []byte("name,city\nZoé,Zürich\nRen\xe9,Köln\nJosé,Málaga\n"), Options{})
	if rd.Detected().Encoding != "utf-8" || rows[0].Fields["name"] != "Zoé" || rows[1].Fields["name"] != "René" ||
		rows[1].Fields["city"] != "Köln" || len(rows[1].Warnings) != 1 {
		t.Fatalf("%+v %+v", rd.Detected(), rows)
	}
}

func TestNULRemoved(t *testing.T) {
	_, rows := readAll(t, []byte("email,x\na\x00@b.c,1\n"), Options{})
	if rows[0].Fields["email"] != "a@b.c" || len(rows[0].Warnings) != 1 {
		t.Fatalf("%+v", rows)
	}
}

func TestUTF16(t *testing.T) {
	src := "Email;First Name\r\nzoé@example.com;Zoé\r\nli@example.com;李\r\n"
	cases := []struct {
		enc  string
		bom  unicode.BOMPolicy
		end  unicode.Endianness
		want string
	}{
		{"le-bom", unicode.UseBOM, unicode.LittleEndian, "utf-16le"},
		{"be-bom", unicode.UseBOM, unicode.BigEndian, "utf-16be"},
		{"le-nobom", unicode.IgnoreBOM, unicode.LittleEndian, "utf-16le"},
		{"be-nobom", unicode.IgnoreBOM, unicode.BigEndian, "utf-16be"},
	}
	for _, c := range cases {
		data, err := unicode.UTF16(c.end, c.bom).NewEncoder().Bytes([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		rd, rows := readAll(t, data, Options{})
		det := rd.Detected()
		if det.Encoding != c.want || det.Delimiter != ";" || det.Headers[0] != "Email" {
			t.Fatalf("%s: %+v", c.enc, det)
		}
		if len(rows) != 2 || rows[0].Fields["email"] != "zoé@example.com" || rows[1].Fields["first_name"] != "李" || rows[1].Num != 3 {
			t.Fatalf("%s: %+v", c.enc, rows)
		}
	}
}

func TestDelimiters(t *testing.T) {
	cases := []struct {
		file, data, delim string
		cols              int
	}{
		{file: "frictionless-py/issue-1009-semicolon.csv", delim: ";", cols: 2},
		{file: "frictionless-py/delimiter.csv", delim: ";", cols: 2},
		{file: "frictionless-py/table.tsv", delim: "\t", cols: 2},
		{file: "frictionless-py/issue-1138.csv", delim: ";", cols: 4},
		{file: "messy-customers/datablist_customers-100.csv", delim: ",", cols: 12},
		{data: "a|b|c\n1|2|3\n4|5|6\n", delim: "|", cols: 3},
		// commas inside quoted fields must not fool the sniffer
		{data: "name;note\n\"Doe, John\";\"a, b, c\"\n\"Roe, Jane\";\"x,y\"\n", delim: ";", cols: 2},
		// semicolons inside quotes of a comma file
		{data: "name,note,x\n\"a;b;c;d\",\"e;f\",1\n\"g;h;i\",j,2\n", delim: ",", cols: 3},
		// decimal commas in a semicolon file
		{data: "price;qty\n1,5;2\n2,25;3\n", delim: ";", cols: 2},
		{data: "email\na@b.c\n", delim: ",", cols: 1},
		{data: "a\tb\n1\t2\n", delim: "\t", cols: 2},
	}
	for _, c := range cases {
		data := []byte(c.data)
		if c.file != "" {
			data = readFile(t, c.file)
		}
		rd, rows := readAll(t, data, Options{})
		det := rd.Detected()
		if det.Delimiter != c.delim || len(det.Headers) != c.cols {
			t.Errorf("%s%q: delimiter %q, headers %q", c.file, c.data, det.Delimiter, det.Headers)
		}
		for _, r := range rows {
			if r.Err != nil {
				t.Errorf("%s%q: row %d: %v", c.file, c.data, r.Num, r.Err)
			}
		}
	}
	// forced delimiter
	rd, _ := readAll(t, []byte("a;b,c\n1;2,3\n"), Options{Delimiter: ";"})
	if rd.Detected().Delimiter != ";" {
		t.Fatal(rd.Detected())
	}
	if _, err := Open(strings.NewReader("a\n"), Options{Delimiter: ":"}); err == nil {
		t.Fatal("bad delimiter accepted")
	}
}

func TestRowNumbers(t *testing.T) {
	data := "\n\nEmail,Notes\r\n" + // leading blank lines are not counted
		"a@x.com,\"line 1\r\nline 2\r\nline 3\"\r\n" + // row 2 spans 3 lines
		"\r\n   \n\t\n" + // blank lines
		"b@x.com,plain\r\n" + // row 3
		",\r\n" + // row 4: empty cells, counted but not returned
		"c@x.com,\"quote \"\"inside\"\"\"\r\n" // row 5
	_, rows := readAll(t, []byte(data), Options{})
	var nums []int
	for _, r := range rows {
		nums = append(nums, r.Num)
	}
	if !reflect.DeepEqual(nums, []int{2, 3, 5}) {
		t.Fatalf("nums %v", nums)
	}
	if rows[0].Fields["notes"] != "line 1\nline 2\nline 3" || rows[2].Fields["notes"] != `quote "inside"` {
		t.Fatalf("%+v", rows)
	}
}

func TestRaggedRows(t *testing.T) {
	data := "first name,last name,email\n" +
		"Ann,Lee,ann@x.com\n" +
		"Bob,Ray\n" + // too few
		"Cid,Orr,cid@x.com,extra\n" + // too many
		"\"Dee\nDee\",Fox,dee@x.com\n" +
		"Eve,\"Unclosed,eve@x.com\n" // lazy: the quote runs to the end
	_, rows := readAll(t, []byte(data), Options{})
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	want := []struct {
		num int
		err bool
	}{{2, false}, {3, true}, {4, true}, {5, false}, {6, true}}
	for i, w := range want {
		r := rows[i]
		if r.Num != w.num || (r.Err != nil) != w.err {
			t.Errorf("row %d: num %d err %v", i, r.Num, r.Err)
		}
		if r.Err != nil && r.Fields != nil {
			t.Errorf("row %d has fields", r.Num)
		}
	}
	if !reflect.DeepEqual(rows[1].Raw, []string{"Bob", "Ray"}) || rows[1].Err.Reason != "has 2 fields, the header has 3" {
		t.Errorf("%+v", rows[1])
	}
	if !reflect.DeepEqual(rows[2].Raw, []string{"Cid", "Orr", "cid@x.com", "extra"}) {
		t.Errorf("%+v", rows[2])
	}
	if rows[3].Fields["first_name"] != "Dee\nDee" || rows[3].Fields["email"] != "dee@x.com" {
		t.Errorf("%+v", rows[3])
	}
}

func TestLeadingEmptyCell(t *testing.T) {
	rd, rows := readAll(t, []byte("\tEmail\tName\n1\ta@x\tAnn\n"), Options{})
	det := rd.Detected()
	if det.Delimiter != "\t" || !reflect.DeepEqual(det.Headers, []string{"", "Email", "Name"}) ||
		rows[0].Fields["email"] != "a@x" || rows[0].Attributes["Column 1"] != "1" {
		t.Fatalf("%+v %+v", det, rows)
	}
}

func TestLoneCR(t *testing.T) {
	_, rows := readAll(t, []byte("Email,Name\r\"a@x\",\"A\"\rb@x,\"B\r\nB\"\r"), Options{})
	if len(rows) != 2 || rows[0].Fields["email"] != "a@x" || rows[1].Num != 3 || rows[1].Fields["name"] != "B\nB" {
		t.Fatalf("%+v", rows)
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	plain := readFile(t, "messy-customers/datablist_people-1000.csv")
	data := gz(t, plain)
	rd, rows := readAll(t, data, Options{})
	det := rd.Detected()
	if !det.Gzip || det.Format != FormatCSV || det.Delimiter != "," || len(rows) != 1000 {
		t.Fatalf("%+v, %d rows", det, len(rows))
	}
	if rd.BytesRead() != int64(len(data)) {
		t.Fatalf("BytesRead %d, want %d", rd.BytesRead(), len(data))
	}
	if rows[999].Num != 1001 || rows[0].Fields["first_name"] != "Sydney" {
		t.Fatalf("%+v", rows[0])
	}
	// gzip'd NDJSON, two members
	nd := append(gz(t, []byte("{\"email\":\"a@x\"}\n")), gz(t, []byte("{\"email\":\"b@x\"}\n"))...)
	rd, rows = readAll(t, nd, Options{})
	if rd.Detected().Format != FormatNDJSON || len(rows) != 2 || rows[1].Fields["email"] != "b@x" {
		t.Fatalf("%+v", rows)
	}
	// truncated gzip → file error from Next
	big := gz(t, benchData(50000))
	r, err := Open(bytes.NewReader(big[:len(big)/2]), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Row == 0 {
		t.Fatalf("truncated gzip: %v", err)
	}
	if _, err := Open(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), Options{}); !errors.As(err, &fe) {
		t.Fatalf("bad gzip header: %v", err)
	}
}

func TestBytesRead(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("email\n")
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, "user%d@example.com\n", i)
	}
	rd, err := Open(bytes.NewReader(b.Bytes()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := rd.BytesRead()
	if first <= 0 || first > 300<<10 {
		t.Fatalf("BytesRead after Open: %d", first)
	}
	for {
		if _, err := rd.Next(); err != nil {
			break
		}
	}
	if rd.BytesRead() != int64(b.Len()) {
		t.Fatalf("BytesRead %d want %d", rd.BytesRead(), b.Len())
	}
}

func TestEmptyAndBinary(t *testing.T) {
	var fe *FileError
	for _, in := range []string{"", "   \n\n", "\xef\xbb\xbf", "PK\x03\x04rest", "\xd0\xcf\x11\xe0rest"} {
		if _, err := Open(strings.NewReader(in), Options{}); !errors.As(err, &fe) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for in, want := range map[string]string{
		"%PDF-1.7\n%\xe2\xe3":                 "a PDF document",
		"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR": "a PNG image",
		"\xff\xd8\xff\xe0\x00\x10JFIF":        "a JPEG image",
		"hello\x00\x01\x02\x03binary":         "not text",
	} {
		if _, err := Open(strings.NewReader(in), Options{}); !errors.As(err, &fe) || !strings.Contains(fe.Reason, want) {
			t.Errorf("%q: %v, want a file error saying %q", in, err, want)
		}
	}
	// A stray NUL in text is a cell's problem (removed with a warning), and
	// UTF-16 without a byte-order mark is full of NULs: both are text.
	for _, in := range []string{"email,name\na@b.co,Bo\x00b\n", "e\x00m\x00a\x00i\x00l\x00\n\x00a\x00@\x00b\x00.\x00c\x00o\x00\n\x00"} {
		if _, err := Open(strings.NewReader(in), Options{}); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	// header only
	_, rows := readAll(t, []byte("email,name\n"), Options{})
	if len(rows) != 0 {
		t.Fatal(rows)
	}
	_, rows = readAll(t, []byte("[]"), Options{})
	if len(rows) != 0 {
		t.Fatal(rows)
	}
	if _, err := Open(strings.NewReader("a"), Options{Kind: "x"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := Open(strings.NewReader("a"), Options{Format: "xml"}); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestLimits(t *testing.T) {
	var fe *FileError
	hdr := strings.Repeat("c,", 10) + "c"
	if _, err := Open(strings.NewReader(hdr+"\n"), Options{MaxColumns: 10}); !errors.As(err, &fe) || fe.Row != 1 {
		t.Fatalf("MaxColumns: %v", err)
	}
	if _, err := Open(strings.NewReader(hdr+"\n"), Options{MaxColumns: 11}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(strings.NewReader(strings.Repeat("h", 20)+",b\n"), Options{MaxFieldBytes: 10}); !errors.As(err, &fe) {
		t.Fatalf("long header: %v", err)
	}
	long := strings.Repeat("x", 11)
	data := "email,notes,other\n" +
		"a@x," + long + ",1\n" +
		"b@x,\"" + long + "\n" + long + "\",2\n" +
		"c@x,0123456789," + long + "\n"
	_, rows := readAll(t, []byte(data), Options{MaxFieldBytes: 10})
	if len(rows) != 3 {
		t.Fatalf("%+v", rows)
	}
	for i, r := range rows[:2] {
		if r.Err != nil || r.Fields["notes"] != "" || r.Raw[1] != "" || r.Attributes["other"] != fmt.Sprint(i+1) ||
			!reflect.DeepEqual(r.Warnings, []Issue{{Column: "notes", Reason: "longer than 10 bytes"}}) {
			t.Errorf("%+v", r)
		}
	}
	if rows[2].Fields["notes"] != "0123456789" || rows[2].Attributes != nil ||
		!reflect.DeepEqual(rows[2].Warnings, []Issue{{Column: "other", Reason: "longer than 10 bytes"}}) {
		t.Errorf("%+v", rows[2])
	}
	// JSON: too many keys and a long value
	js := `[{"email":"a@x","notes":"` + long + `","x":1},{"a":1,"b":2,"c":3,"d":4}]`
	_, rows = readAll(t, []byte(js), Options{MaxFieldBytes: 10, MaxColumns: 3})
	if rows[0].Err != nil || rows[0].Fields["email"] != "a@x" || len(rows[0].Warnings) != 1 || rows[0].Fields["notes"] != "" {
		t.Errorf("%+v", rows[0])
	}
	if rows[1].Err == nil || rows[1].Num != 2 {
		t.Errorf("%+v", rows[1])
	}
}

func TestRawPreserved(t *testing.T) {
	data := " Email , First Name ,Custom\n  A@X.com ,\" Ann \",\"v, 1\"\n"
	rd, rows := readAll(t, []byte(data), Options{})
	if !reflect.DeepEqual(rd.Detected().Headers, []string{"Email", "First Name", "Custom"}) {
		t.Fatal(rd.Detected().Headers)
	}
	r := rows[0]
	if !reflect.DeepEqual(r.Raw, []string{"  A@X.com ", " Ann ", "v, 1"}) {
		t.Fatalf("%q", r.Raw)
	}
	if r.Fields["email"] != "A@X.com" || r.Fields["first_name"] != "Ann" || r.Attributes["Custom"] != "v, 1" {
		t.Fatalf("%+v", r)
	}
	// rows are independent of the reader's buffers
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "u%d@x,name %d\n", i, i)
	}
	_, rows = readAll(t, []byte(b.String()), Options{})
	for i, r := range rows {
		if r.Fields["email"] != fmt.Sprintf("u%d@x", i) || r.Raw[1] != fmt.Sprintf("name %d", i) || r.Num != i+2 {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
}

// A cell an error report defused ('=…, '+…, '-…, '@…) reads as it was
// before; an apostrophe before anything else is the value's.
func TestFormulaApostrophe(t *testing.T) {
	data := "Name,Phone,Notes,Custom\n'=HYPERLINK(\"x\"),'+1 415 555 0100,'-5,'@home\n'Neill,' 0501,'',''x\n"
	_, rows := readAll(t, []byte(data), Options{})
	got := [][]string{}
	for _, r := range rows {
		got = append(got, []string{r.Fields["name"], r.Fields["phone"], r.Fields["notes"], r.Attributes["Custom"]})
	}
	want := [][]string{{`=HYPERLINK("x")`, "+1 415 555 0100", "-5", "@home"}, {"'Neill", "' 0501", "''", "''x"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if rows[0].Raw[1] != "'+1 415 555 0100" {
		t.Fatalf("raw %q: the original cells stay as read", rows[0].Raw)
	}
	// ="…" keeps leading zeros in exports; a cell that is more than one
	// string literal stays as it is.
	data = "Phone,Zip,Notes,Custom\n\"=\"\"0501234567\"\"\",=\"00123\",\"=\"\"say \"\"\"\"hi\"\"\"\"\"\"\",\"=\"\"a\"\"&\"\"b\"\"\"\n"
	_, rows = readAll(t, []byte(data), Options{})
	got = [][]string{{rows[0].Fields["phone"], rows[0].Fields["postal_code"], rows[0].Fields["notes"], rows[0].Attributes["Custom"]}}
	want = [][]string{{"0501234567", "00123", `say "hi"`, `="a"&"b"`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Excel's "sep=;" first line names the delimiter and is not a row: the
// header stays row 1, as the spreadsheet shows it.
func TestSepLine(t *testing.T) {
	for _, data := range []string{"sep=;\r\nName;Email\r\nAnn;ann@x.com\r\n", "\ufeffSEP=;\nName;Email\nAnn;ann@x.com\n",
		"\"sep=;\"\nName;Email\nAnn;ann@x.com"} {
		rd, rows := readAll(t, []byte(data), Options{})
		if d := rd.Detected(); d.Delimiter != ";" || !reflect.DeepEqual(d.Headers, []string{"Name", "Email"}) {
			t.Fatalf("%q: detected %+v", data, d)
		}
		if len(rows) != 1 || rows[0].Num != 2 || rows[0].Fields["email"] != "ann@x.com" {
			t.Fatalf("%q: rows %+v", data, rows)
		}
	}
	// Not a hint: an unsupported delimiter, or a header named "sep=x".
	_, rows := readAll(t, []byte("sep=x\nEmail\nann@x.com\n"), Options{})
	if len(rows) != 2 {
		t.Fatalf("sep=x read as a hint: %+v", rows)
	}
}

func TestDuplicateAndEmptyHeaders(t *testing.T) {
	rd, rows := readAll(t, []byte("Email,Phone,Phone,,Email\na@x,1,2,3,b@x\n"), Options{})
	det := rd.Detected()
	if !reflect.DeepEqual(det.Targets, []string{"email", "phone", "", "", ""}) {
		t.Fatalf("%q", det.Targets)
	}
	want := map[string]string{"Phone": "2", "Column 4": "3", "Email": "b@x"}
	if !reflect.DeepEqual(rows[0].Attributes, want) || rows[0].Fields["phone"] != "1" {
		t.Fatalf("%+v", rows[0])
	}
	_, rows = readAll(t, []byte("Phone,Phone,Phone\n,,1\n"), Options{Mapping: map[string]string{}})
	if !reflect.DeepEqual(rows[0].Attributes, map[string]string{"Phone (2)": "1"}) {
		t.Fatalf("%+v", rows[0])
	}
}

func TestFields(t *testing.T) {
	want := []string{"first_name", "last_name", "name", "email", "phone", "company_name", "birthdate", "gender", "type",
		"status", "tags", "notes", "external_id", "source", "website", "tax_id", "address_line1", "address_line2",
		"city", "state", "postal_code", "country", "avatar_url"}
	if got := Fields(customer.ImportCustomers); !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
	for _, f := range []string{"order_number", "order_date", "status", "total_amount", "currency", "paid_date",
		"ship_date", "delivery_date", "product_id", "product_name", "quantity", "unit_price", "email", "phone",
		"first_name", "last_name", "name", "customer_external_id", "location_id"} {
		if _, ok := tables[customer.ImportOrders].index[f]; !ok {
			t.Errorf("orders lack %s", f)
		}
	}
	if Fields("nope") != nil {
		t.Fatal("unknown kind")
	}
	Fields(customer.ImportCustomers)[0] = "x"
	if Fields(customer.ImportCustomers)[0] != "first_name" {
		t.Fatal("Fields aliases the table")
	}
}

func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	// A stream of ~20 MB (it never exists whole), and a 16 MB unterminated
	// quoted field.
	const n = 300_000
	gen := &genReader{header: "email,first name,last name,phone,city,notes\n", line: "someone@example.com,Jane,Doe,+1 555 0100,Springfield,\"a, quoted note\"\n", n: n}
	rd, err := Open(gen, Options{})
	if err != nil {
		t.Fatal(err)
	}
	peak := heapPeak(t, rd, n)
	t.Logf("live heap peak %d KiB for %d MiB read", peak>>10, rd.BytesRead()>>20)
	if peak > 4<<20 {
		t.Fatalf("heap peaked at %d bytes", peak)
	}
	runaway := io.MultiReader(strings.NewReader("email,notes\na@x,\""), &repeatReader{b: 'x', n: 16 << 20})
	rd, err = Open(runaway, Options{})
	if err != nil {
		t.Fatal(err)
	}
	row, err := rd.Next()
	if err != nil || len(row.Warnings) != 1 || row.Fields["email"] != "a@x" {
		t.Fatalf("%+v %v", row, err)
	}
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

// Formula follows OWASP: = + - @ TAB CR start a formula, also behind
// leading spaces, quotes or apostrophes; and whatever a report escapes
// reads back as it was.
func TestFormulaRoundTrip(t *testing.T) {
	for cell, want := range map[string]bool{
		"=1+1": true, " =1+1": true, `"@SUM(A1)`: true, "\t-2": true, "\r+1": true, "'=x": true, "  ' \"-x": true,
		"": false, "Neill": false, "' 0501": false, "a=b": false, `""`: false, "0501": false,
	} {
		if got := Formula(cell); got != want {
			t.Errorf("Formula(%q) = %v, want %v", cell, got, want)
		}
		escaped := cell
		if Formula(cell) {
			escaped = "'" + cell
		}
		if back := unescapeFormula(escaped); back != cell {
			t.Errorf("%q escaped %q reads back as %q", cell, escaped, back)
		}
	}
}
