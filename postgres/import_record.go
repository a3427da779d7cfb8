// The staged record's JSON (import_rows.record), written and read without
// encoding/json's reflection for the shape almost every row has.

package postgres

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
)

// appendImportRecord appends r as JSON, the same document json.Marshal
// writes (key order aside: jsonb keeps its own). Records with an address or
// an order line, and values that are not valid UTF-8, go through
// json.Marshal: reflection there cost a tenth of the import's Go time when
// every row went through it.
func appendImportRecord(dst []byte, r *customer.ImportRecord) ([]byte, error) {
	if r.Address != nil || r.Order != nil || !validRecordText(r) {
		b, err := json.Marshal(r)
		return append(dst, b...), err
	}
	dst = append(dst, '{')
	sep := false
	field := func(name string) {
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
	}
	stringMap := func(name string, m map[string]string) {
		if len(m) == 0 {
			return
		}
		field(name)
		dst = append(dst, '{')
		first := true
		for k, v := range m {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = customer.AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = customer.AppendJSONString(dst, v)
		}
		dst = append(dst, '}')
	}
	stringMap("f", r.Fields)
	stringMap("a", r.Attributes)
	if len(r.Tags) > 0 {
		field("t")
		dst = append(dst, '[')
		for i, t := range r.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = customer.AppendJSONString(dst, t)
		}
		dst = append(dst, ']')
	}
	if r.Warned {
		field("w")
		dst = append(dst, "true"...)
	}
	return append(dst, '}'), nil
}

func validRecordText(r *customer.ImportRecord) bool {
	for k, v := range r.Fields {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	for k, v := range r.Attributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	for _, t := range r.Tags {
		if !utf8.ValidString(t) {
			return false
		}
	}
	return true
}

// decodeImportRecord reads a staged record as PostgreSQL prints jsonb. It
// reads the common shape (the "f" and "a" objects of strings, the "t"
// array, "w") itself and hands anything else — another key, a null, a
// \u escape — to json.Unmarshal, so the result is always what
// json.Unmarshal gives.
func decodeImportRecord(b []byte, r *customer.ImportRecord) error {
	*r = customer.ImportRecord{}
	if d := (recordDecoder{b: b}); d.record(r) {
		return nil
	}
	*r = customer.ImportRecord{}
	return json.Unmarshal(b, r)
}

// recordDecoder is a cursor over a record's JSON; its methods report false
// on anything outside the shape it reads.
type recordDecoder struct {
	b []byte
	i int
}

func (d *recordDecoder) space() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\n' || d.b[d.i] == '\t' || d.b[d.i] == '\r') {
		d.i++
	}
}

// next skips space and consumes c.
func (d *recordDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// list reads the elements of an object or array opened already, calling
// elem for each, up to the closing byte end.
func (d *recordDecoder) list(end byte, elem func() bool) bool {
	if d.next(end) {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.next(end) {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *recordDecoder) record(r *customer.ImportRecord) bool {
	if !d.next('{') {
		return false
	}
	ok := d.list('}', func() bool {
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		switch key {
		case "f":
			r.Fields, ok = d.stringMap()
		case "a":
			r.Attributes, ok = d.stringMap()
		case "t":
			r.Tags, ok = d.strings()
		case "w":
			r.Warned, ok = d.boolean()
		default:
			return false
		}
		return ok
	})
	d.space()
	return ok && d.i == len(d.b)
}

func (d *recordDecoder) stringMap() (map[string]string, bool) {
	if !d.next('{') {
		return nil, false
	}
	m := map[string]string{}
	ok := d.list('}', func() bool {
		k, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		v, ok := d.str()
		m[k] = v
		return ok
	})
	return m, ok
}

func (d *recordDecoder) strings() ([]string, bool) {
	if !d.next('[') {
		return nil, false
	}
	var s []string
	ok := d.list(']', func() bool {
		v, ok := d.str()
		s = append(s, v)
		return ok
	})
	if s == nil {
		s = []string{} // json.Unmarshal's reading of []
	}
	return s, ok
}

func (d *recordDecoder) boolean() (bool, bool) {
	d.space()
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// str reads a string with no \u escape (PostgreSQL prints only control
// characters that way); its bytes must be valid UTF-8, as json.Unmarshal
// would otherwise substitute U+FFFD.
func (d *recordDecoder) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		}
		d.i++
	}
	return "", false
}

// escaped finishes a string from start that holds escapes, at the first.
func (d *recordDecoder) escaped(start int) (string, bool) {
	buf := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		switch e := d.b[d.i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		default:
			return "", false // \u and anything else: json.Unmarshal reads it
		}
		d.i += 2
	}
	return "", false
}

// recordText is a staged record as COPY's text parameter.
func recordText(r *customer.ImportRecord) (string, error) {
	b, err := appendImportRecord(make([]byte, 0, 64+recordSize(r)+8*(len(r.Fields)+len(r.Attributes)+len(r.Tags))), r)
	return string(b), err
}
