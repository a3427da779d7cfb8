package importer

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestJSONArray(t *testing.T) {
	data := `  [
	  {"First Name": " Ann ", "E-mail": "ann@x.com", "id": 12345678901234567890, "Tags": ["vip", " b2b ", 7, null],
	   "address": {"city": "Paris"}, "score": 1.50, "active": true, "deleted": false, "nothing": null, "Phone 2": "2"},
	  {"email": "bob@x.com", "tags": "a,b", "list": [1, 2], "note": "x\u00e9\"y"},
	  42,
	  {"email": "carl@x.com", "tags": [{"nested": 1}], "Mobile": "555", "phone": "777"},
	  {"a": 1,},
	  {"email": "dee@x.com", "unicode": "李"},
	]`
	rd, rows := readAll(t, []byte(data), Options{})
	det := rd.Detected()
	if det.Format != FormatJSON || det.Delimiter != "" || det.Encoding != "utf-8" {
		t.Fatalf("%+v", det)
	}
	// Open read the first object: its keys are known.
	wantHeaders := []string{"First Name", "E-mail", "id", "Tags", "address", "score", "active", "deleted", "nothing", "Phone 2"}
	if !reflect.DeepEqual(det.Headers[:len(wantHeaders)], wantHeaders) || det.Mapping["E-mail"] != "email" || det.Mapping["address"] != "" {
		t.Fatalf("%q %v", det.Headers, det.Mapping)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r.Num != i+1 {
			t.Fatalf("row %d num %d", i, r.Num)
		}
	}
	r := rows[0]
	wantFields := map[string]string{"first_name": "Ann", "email": "ann@x.com", "external_id": "12345678901234567890", "tags": "vip,b2b,7"}
	wantAttrs := map[string]string{"address": `{"city":"Paris"}`, "score": "1.50", "active": "true", "deleted": "false", "Phone 2": "2"}
	if !reflect.DeepEqual(r.Fields, wantFields) || !reflect.DeepEqual(r.Attributes, wantAttrs) {
		t.Fatalf("fields %v\nattrs %v", r.Fields, r.Attributes)
	}
	if len(r.Raw) != 1 || !strings.HasPrefix(r.Raw[0], `{"First Name": " Ann "`) || !strings.HasSuffix(r.Raw[0], `"Phone 2": "2"}`) {
		t.Fatalf("raw %q", r.Raw)
	}
	r = rows[1]
	if r.Fields["tags"] != "a,b" || r.Attributes["list"] != "[1,2]" || r.Fields["notes"] != `xé"y` {
		t.Fatalf("%+v", r)
	}
	if rows[2].Err == nil || rows[2].Err.Reason != "element is not a JSON object" || rows[2].Raw[0] != "42" {
		t.Fatalf("%+v", rows[2])
	}
	r = rows[3]
	if r.Fields["tags"] != "" || r.Attributes["tags"] != `[{"nested":1}]` || r.Fields["phone"] != "555" || r.Attributes["phone"] != "777" {
		t.Fatalf("%+v", r)
	}
	if rows[4].Err == nil || !strings.HasPrefix(rows[4].Err.Reason, "malformed JSON") {
		t.Fatalf("%+v", rows[4])
	}
	if rows[5].Fields["email"] != "dee@x.com" || rows[5].Attributes["unicode"] != "李" {
		t.Fatalf("%+v", rows[5])
	}
	if !reflect.DeepEqual(rd.Detected().Headers[len(wantHeaders):len(wantHeaders)+4], []string{"email", "tags", "list", "note"}) {
		t.Fatalf("%q", rd.Detected().Headers)
	}
}

func TestJSONArrayBroken(t *testing.T) {
	cases := []struct {
		data    string
		rows    int // rows before the file error
		fileErr bool
	}{
		{`[{"email":"a@x"} {"email":"b@x"}]`, 1, true}, // missing comma
		{`[{"email":"a@x"}, {"email":"b@x"`, 1, true},  // truncated
		{`[{"email":"a@x"}`, 1, true},                  // missing ]
		{`[{"email":"a@x"}] trailing`, 1, true},
		{`[{"email":"a@x"},,{"email":"b@x"}]`, 1, true},
		{`[{"a":tru}, {"email":"b@x"}]`, 2, false}, // bad literal: row error only
		{`[{"a":"x}"}, {"b":"[\"]"}]`, 2, false},   // brackets inside strings
		{`["s", 1, null, [1,2], true]`, 5, false},
	}
	for _, c := range cases {
		rd, err := Open(strings.NewReader(c.data), Options{})
		if err != nil {
			t.Fatalf("%s: Open: %v", c.data, err)
		}
		n := 0
		for {
			_, err = rd.Next()
			if err != nil {
				break
			}
			n++
		}
		var fe *FileError
		if n != c.rows || errors.As(err, &fe) != c.fileErr || (!c.fileErr && err != io.EOF) {
			t.Errorf("%s: %d rows, err %v", c.data, n, err)
		}
		if c.fileErr && fe.Row != c.rows+1 {
			t.Errorf("%s: error row %d", c.data, fe.Row)
		}
		if _, again := rd.Next(); again != err {
			t.Errorf("%s: error not sticky", c.data)
		}
	}
	// A broken first element is reported by Open.
	var fe *FileError
	if _, err := Open(strings.NewReader(`[{"email":"a@x"`), Options{}); !errors.As(err, &fe) {
		t.Fatalf("%v", err)
	}
	if _, err := Open(strings.NewReader(`{"a":1}`), Options{Format: FormatJSON}); !errors.As(err, &fe) {
		t.Fatalf("%v", err)
	}
}

func TestNDJSON(t *testing.T) {
	data := "\ufeff{\"email\":\"a@x\",\"First Name\":\"Ann\"}\r\n" +
		"\n" +
		"{\"email\":\"b@x\", broken\n" +
		"   \n" +
		"[1,2]\n" +
		"{\"email\":\"c@x\"} {\"email\":\"d@x\"}\n" +
		"{\"email\":\"e@x\",\"tags\":[\"t1\",\"t2\"],\"n\":-1.5e3}" // no final newline
	rd, rows := readAll(t, []byte(data), Options{})
	if rd.Detected().Format != FormatNDJSON || rd.Detected().Encoding != "utf-8-sig" {
		t.Fatalf("%+v", rd.Detected())
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i, r := range rows {
		if r.Num != i+1 {
			t.Errorf("row %d: num %d", i, r.Num)
		}
	}
	if rows[0].Fields["email"] != "a@x" || rows[0].Fields["first_name"] != "Ann" || rows[0].Raw[0] != `{"email":"a@x","First Name":"Ann"}` {
		t.Errorf("%+v", rows[0])
	}
	for _, i := range []int{1, 2, 3} {
		if rows[i].Err == nil {
			t.Errorf("row %d: no error: %+v", i+1, rows[i])
		}
	}
	if rows[1].Raw[0] != `{"email":"b@x", broken` {
		t.Errorf("%q", rows[1].Raw)
	}
	if rows[4].Fields["tags"] != "t1,t2" || rows[4].Attributes["n"] != "-1.5e3" {
		t.Errorf("%+v", rows[4])
	}
	// A too long line is a row error; the next line is read.
	long := `{"notes":"` + strings.Repeat("x", 2<<20) + `"}`
	_, rows = readAll(t, []byte(long+"\n{\"email\":\"z@x\"}\n"), Options{MaxColumns: 1, MaxFieldBytes: 100})
	if len(rows) != 2 || rows[0].Err == nil || rows[1].Fields["email"] != "z@x" || rows[1].Num != 2 {
		t.Fatalf("%+v", rows)
	}
}

func TestJSONLatin1(t *testing.T) {
	// Windows-1252 JSON is transcoded like CSV.
	rd, rows := readAll(t, []byte("[{\"name\":\"Ren\xe9\"}]"), Options{})
	if rd.Detected().Encoding != "windows-1252" || rows[0].Fields["name"] != "René" {
		t.Fatalf("%+v %+v", rd.Detected(), rows)
	}
}

func TestJSONMemoryBounded(t *testing.T) {
	const n = 100_000
	for _, g := range []*genReader{
		{header: "[", line: `{"email":"a@x","name":"Jane Doe","tags":["a","b"],"n":1},` + "\n", footer: `{"email":"last@x"}]`, n: n - 1},
		{line: `{"email":"a@x","name":"Jane Doe","tags":["a","b"],"n":1}` + "\n", n: n},
	} {
		rd, err := Open(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		peak := heapPeak(t, rd, n)
		t.Logf("%s: live heap peak %d KiB for %d MiB read", rd.Detected().Format, peak>>10, rd.BytesRead()>>20)
		if peak > 4<<20 {
			t.Fatalf("heap peaked at %d bytes", peak)
		}
	}
}
