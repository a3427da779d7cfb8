package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
)

func fuzzSeeds(f *testing.F) {
	seeds := []string{
		"a,b,c\n1,2,3\n",
		"email;name\r\n\"x;y\";\"multi\r\nline\"\r\n\r\n;\r\n",
		"a\tb\n\"unterminated\t1\n",
		"h1|h2\n1|2|3\n\n1\n",
		"[{\"email\":\"a@x\",\"tags\":[\"a\",1]},{\"x\":{\"y\":[1]}},1,\"s\",{]",
		"{\"a\":1}\n{bad\n\n{\"b\":null}",
		"\xef\xbb\xbfid,name\n1,\xe9\n",
		"\xff\xfea\x00,\x00b\x00\n\x001\x00,\x002\x00",
		"\"a\"\"b\",c\rd,\"e\"x\"f\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0), uint8(0), uint8(0))
	}
	f.Add(gz(f, []byte("a,b\n1,2\n")), uint8(0), uint8(3), uint8(4))
	files, _ := filepath.Glob("testdata/*/*.csv")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Add(b, uint8(0), uint8(0), uint8(0))
		}
	}
}

// FuzzReader feeds arbitrary bytes as a file: Open and Next must never
// panic, row numbers must strictly increase, all text must be valid UTF-8,
// and errors must be sticky.
func FuzzReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, format, maxCols, maxField uint8) {
		opts := Options{MaxColumns: int(maxCols % 16), MaxFieldBytes: int(maxField % 64)}
		switch format % 8 {
		case 1:
			opts.Format = FormatCSV
		case 2:
			opts.Format = FormatJSON
		case 3:
			opts.Format = FormatNDJSON
		case 4:
			opts.Kind = customer.ImportOrders
		case 5:
			opts.Mapping = map[string]string{"a": "email", "b": Ignore, "c": AsAttribute}
		}
		wd := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("hang on %q", data)) })
		defer wd.Stop()
		rd, err := Open(bytes.NewReader(data), opts)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open: unexpected error type %T %v", err, err)
			}
			return
		}
		det := rd.Detected()
		for _, h := range det.Headers {
			if !utf8.ValidString(h) {
				t.Fatalf("invalid header %q", h)
			}
		}
		last := 0
		if det.Format == FormatCSV {
			last = 1
		}
		for i := 0; ; i++ {
			row, err := rd.Next()
			if err != nil {
				if err != io.EOF {
					var fe *FileError
					if !errors.As(err, &fe) {
						t.Fatalf("Next: unexpected error type %T %v", err, err)
					}
				}
				if _, again := rd.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				break
			}
			if i > 10_000_000 {
				t.Fatalf("endless rows")
			}
			if row.Num <= last {
				t.Fatalf("row number %d after %d", row.Num, last)
			}
			last = row.Num
			if row.Err == nil && row.Fields == nil {
				t.Fatalf("row %d: nil Fields without error", row.Num)
			}
			for k, v := range row.Fields {
				if v == "" || !utf8.ValidString(v) || k == "" {
					t.Fatalf("bad field %q=%q", k, v)
				}
			}
			for k, v := range row.Attributes {
				if v == "" || !utf8.ValidString(v) || !utf8.ValidString(k) {
					t.Fatalf("bad attribute %q=%q", k, v)
				}
			}
			for _, c := range row.Raw {
				if !utf8.ValidString(c) {
					t.Fatalf("invalid raw %q", c)
				}
			}
		}
		if rd.BytesRead() > int64(len(data)) {
			t.Fatalf("BytesRead %d > %d", rd.BytesRead(), len(data))
		}
	})
}

// FuzzCSVParser checks the CSV parser against encoding/csv with
// LazyQuotes (inputs without CR, where the parsers differ on purpose).
func FuzzCSVParser(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _, _, _ uint8) {
		if bytes.IndexByte(data, '\r') >= 0 {
			return
		}
		cr := csv.NewReader(bytes.NewReader(data))
		cr.LazyQuotes = true
		cr.FieldsPerRecord = -1
		var want [][]string
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // not expected with LazyQuotes; nothing to compare
			}
			want = append(want, rec)
		}
		p := &csvParser{src: newSource(bytes.NewReader(data)), delim: ',', maxField: len(data) + 1, maxStore: len(data) + 2}
		var got [][]string
		for {
			ok, err := p.readRecord()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, p.cells())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q\n got %q\nwant %q", data, got, want)
		}
	})
}

// FuzzJSONObject checks the object walker against encoding/json's decoder.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"a":null}`, `{}`, ` { "k" : [ ] } `, `[1]`, `{"a":1,}`, "{\"\xff\":\"\\u00e9\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		js := &jsonReader{}
		notObject, err := js.parseObject(text)
		if (err == nil) != json.Valid(text) {
			t.Fatalf("%q: err %v, json.Valid %v", text, err, json.Valid(text))
		}
		if err != nil {
			return
		}
		var v any
		vd := json.NewDecoder(bytes.NewReader(text))
		vd.UseNumber()
		if err := vd.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if _, isObj := v.(map[string]any); isObj == notObject {
			t.Fatalf("%q: notObject %v", text, notObject)
		}
		if notObject {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.Token()
		i := 0
		for dec.More() {
			tok, _ := dec.Token()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			wantKey, _ := repairText(tok.(string))
			if i >= len(js.keys) || !bytes.Equal(js.vals[i], raw) {
				t.Fatalf("%q: value %d mismatch: %q", text, i, js.vals)
			}
			// encoding/json turns invalid UTF-8 into U+FFFD; the walker decodes it as windows-1252.
			if utf8.Valid(text) && js.keys[i] != wantKey {
				t.Fatalf("%q: key %d %q, want %q", text, i, js.keys[i], wantKey)
			}
			i++
		}
		if i != len(js.keys) {
			t.Fatalf("%q: %d keys, want %d", text, len(js.keys), i)
		}
	})
}
