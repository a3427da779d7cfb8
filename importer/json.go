package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// jsonReader cuts a JSON array or an NDJSON stream into elements without
// holding more than one element in memory, then decodes each element on its
// own so that a malformed element is a row error.
type jsonReader struct {
	src       *source
	array     bool
	afterElem bool // array: an element was read, ',' or ']' expected
	done      bool
	maxElem   int
	buf       []byte

	// per-object scratch
	keys  []string
	vals  []json.RawMessage
	cands []candidate
	cols  []column

	seen map[string]bool // keys recorded in Detected
}

const maxDetectedKeys = 1000

func (r *Reader) openJSON(format Format) error {
	js := &jsonReader{src: r.src, array: format == FormatJSON, seen: map[string]bool{}}
	js.maxElem = r.opts.MaxRowBytes
	r.js = js
	r.det.Mapping = map[string]string{}
	if js.array {
		c, ok := r.src.skipSpace()
		if err := r.src.readErr(); err != nil {
			return readError(err)
		}
		if !ok {
			return &FileError{Reason: "the file is empty"}
		}
		if c != '[' {
			return &FileError{Reason: "not a JSON array: the file does not start with '['"}
		}
		r.src.r++
	}
	// Read the first row now so that Detected shows its keys.
	row, err := r.nextJSON()
	if err != nil && err != io.EOF {
		return err
	}
	if err == io.EOF {
		r.err = io.EOF
	} else {
		r.pending = &row
	}
	return nil
}

func (r *Reader) nextJSON() (Row, error) {
	if r.pending != nil {
		row := *r.pending
		r.pending = nil
		return row, nil
	}
	js := r.js
	var text []byte
	var tooBig bool
	var err error
	if js.array {
		text, tooBig, err = r.nextArrayElement()
	} else {
		text, tooBig, err = r.nextLine()
	}
	if err != nil {
		return Row{}, err
	}
	r.num++
	if tooBig {
		return Row{Num: r.num, Err: &Issue{Reason: fmt.Sprintf("the element is longer than the limit of %s", kib(js.maxElem))}}, nil
	}
	if nestedDeeper(text, MaxJSONDepth) {
		// No customer record nests this deep: the file is hostile or
		// broken, and decoding it would only cost stack.
		return Row{}, &FileError{Row: r.num, Reason: fmt.Sprintf("JSON nested more than %d levels deep", MaxJSONDepth)}
	}
	return r.jsonRow(text), nil
}

// MaxJSONDepth bounds the nesting of a JSON element (objects and arrays).
const MaxJSONDepth = 64

// nestedDeeper reports whether the JSON text nests containers more than
// limit levels deep (string-aware; the text is not validated).
func nestedDeeper(text []byte, limit int) bool {
	depth := 0
	inStr, esc := false, false
	for _, ch := range text {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
			}
		case ch == '"':
			inStr = true
		case ch == '{' || ch == '[':
			if depth++; depth > limit {
				return true
			}
		case ch == '}' || ch == ']':
			depth--
		}
	}
	return false
}

func (r *Reader) jsonFail(reason string) error {
	return &FileError{Row: r.num + 1, Reason: reason}
}

// nextArrayElement returns the text of the next array element.
func (r *Reader) nextArrayElement() ([]byte, bool, error) {
	js, s := r.js, r.src
	for {
		c, ok := s.skipSpace()
		if err := s.readErr(); err != nil {
			return nil, false, r.fail(err)
		}
		if !ok {
			if js.done {
				return nil, false, io.EOF
			}
			return nil, false, r.jsonFail("unexpected end of the file inside the JSON array (missing ']')")
		}
		if js.done {
			return nil, false, r.jsonFail("unexpected data after the end of the JSON array")
		}
		if c == ']' {
			s.r++
			js.done = true
			continue
		}
		if js.afterElem {
			if c != ',' {
				return nil, false, r.jsonFail(fmt.Sprintf("malformed JSON: expected ',' or ']' after element %d, found %q", r.num, c))
			}
			s.r++
			js.afterElem = false
			continue
		}
		if c == ',' {
			return nil, false, r.jsonFail("malformed JSON: unexpected ','")
		}
		text, tooBig, err := r.scanValue(c)
		if err != nil {
			return nil, false, err
		}
		js.afterElem = true
		return text, tooBig, nil
	}
}

// scanValue reads one JSON value starting with byte first: a container up to
// its matching bracket (string-aware), a string up to its closing quote, or
// a scalar up to the next separator. It does not validate the value.
func (r *Reader) scanValue(first byte) ([]byte, bool, error) {
	js, s := r.js, r.src
	js.buf = js.buf[:0]
	tooBig := false
	scalar := first != '{' && first != '[' && first != '"'
	depth := 0
	inStr, esc := false, false
	for {
		if s.r >= s.w && !s.fill() {
			if err := s.readErr(); err != nil {
				return nil, false, r.fail(err)
			}
			if scalar && len(js.buf) > 0 {
				return js.buf, tooBig, nil
			}
			return nil, false, r.jsonFail("unexpected end of the file inside a JSON element")
		}
		b := s.buf[s.r:s.w]
		i, done := 0, false
	scan:
		for ; i < len(b); i++ {
			ch := b[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case ch == '\\':
					esc = true
				case ch == '"':
					inStr = false
					if depth == 0 {
						i++
						done = true
						break scan
					}
				}
				continue
			}
			if scalar {
				switch ch {
				case ' ', '\t', '\n', '\r', ',', ']', '}':
					done = true
					break scan
				}
				continue
			}
			switch ch {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth <= 0 {
					i++
					done = true
					break scan
				}
			}
		}
		if !tooBig {
			if len(js.buf)+i > js.maxElem {
				tooBig = true
				js.buf = js.buf[:0]
			} else {
				js.buf = append(js.buf, b[:i]...)
			}
		}
		s.r += i
		if done {
			return js.buf, tooBig, nil
		}
	}
}

// nextLine returns the next non-blank NDJSON line.
func (r *Reader) nextLine() ([]byte, bool, error) {
	js, s := r.js, r.src
	for {
		js.buf = js.buf[:0]
		tooBig, any := false, false
		for {
			if s.r >= s.w && !s.fill() {
				if err := s.readErr(); err != nil {
					return nil, false, r.fail(err)
				}
				if !any {
					return nil, false, io.EOF
				}
				break
			}
			any = true
			b := s.buf[s.r:s.w]
			i := bytes.IndexByte(b, '\n')
			end := i
			if i < 0 {
				end = len(b)
			}
			if !tooBig {
				if len(js.buf)+end > js.maxElem {
					tooBig = true
					js.buf = js.buf[:0]
				} else {
					js.buf = append(js.buf, b[:end]...)
				}
			}
			if i < 0 {
				s.r = s.w
				continue
			}
			s.r += i + 1
			break
		}
		line := bytes.TrimSpace(js.buf)
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		if len(line) == 0 && !tooBig {
			continue // blank line: skipped, not counted
		}
		return line, tooBig, nil
	}
}

// parseObject splits an element into its keys and raw values, in order.
// The element is validated with json.Valid first, so the walk below can
// assume well-formed JSON.
func (js *jsonReader) parseObject(text []byte) (notObject bool, err error) {
	js.keys, js.vals = js.keys[:0], js.vals[:0]
	if !json.Valid(text) {
		var v any
		if err := json.Unmarshal(text, &v); err != nil {
			return false, err
		}
		return false, fmt.Errorf("invalid JSON")
	}
	i := skipWS(text, 0)
	if text[i] != '{' {
		return true, nil
	}
	i = skipWS(text, i+1)
	for text[i] != '}' {
		end := valueEnd(text, i)
		key, _ := repairText(unquote(text[i:end]))
		i = skipWS(text, end) // at ':'
		i = skipWS(text, i+1) // at the value
		end = valueEnd(text, i)
		js.keys = append(js.keys, key)
		js.vals = append(js.vals, json.RawMessage(text[i:end]))
		i = skipWS(text, end) // at ',' or '}'
		if text[i] == ',' {
			i = skipWS(text, i+1)
		}
	}
	return false, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the end of the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = valueEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// unquote decodes a valid JSON string literal.
func unquote(q []byte) string {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return string(inner)
	}
	return s
}

func (r *Reader) jsonRow(text []byte) Row {
	js := r.js
	raw := string(text)
	if !utf8.ValidString(raw) {
		raw = strings.ToValidUTF8(raw, "\uFFFD")
	}
	row := Row{Num: r.num, Raw: []string{raw}}
	notObject, err := js.parseObject(text)
	switch {
	case err != nil:
		row.Err = &Issue{Reason: "malformed JSON: " + err.Error()}
		return row
	case notObject:
		row.Err = &Issue{Reason: "element is not a JSON object"}
		return row
	case len(js.keys) > r.opts.MaxColumns:
		row.Err = &Issue{Reason: fmt.Sprintf("object has %d keys, more than the limit of %d", len(js.keys), r.opts.MaxColumns)}
		return row
	}
	// Candidates: nested values (other than a tags array) and nulls cannot
	// fill a canonical field.
	js.cands = js.cands[:0]
	for i, k := range js.keys {
		c := r.m.classifyCached(k)
		if c.target == targetField {
			switch v := js.vals[i]; v[0] {
			case 'n':
				c.target, c.field = targetAttr, ""
			case '{':
				c.target, c.field = targetAttr, ""
			case '[':
				if c.field != "tags" || !scalarArray(v) {
					c.target, c.field = targetAttr, ""
				}
			}
		}
		js.cands = append(js.cands, c)
	}
	js.cols = r.m.resolve(js.cands, js.cols)
	r.recordKeys()

	nFields := 0
	for i := range js.cols {
		if js.cols[i].kind == targetField {
			nFields++
		}
	}
	fields := make(map[string]string, nFields)
	var attrs map[string]string
	for i := range js.cols {
		col := &js.cols[i]
		if col.kind == targetIgnore {
			continue
		}
		v := jsonValue(js.vals[i], col.kind == targetField)
		if fixed, reason := repairText(v); reason != "" {
			v = fixed
			row.Warnings = append(row.Warnings, Issue{Column: col.name(), Reason: reason})
		}
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if len(v) > r.opts.MaxFieldBytes {
			row.Warnings = append(row.Warnings, Issue{Column: col.name(), Reason: r.overReason})
			continue
		}
		if col.kind == targetField {
			fields[col.field] = v
			continue
		}
		if attrs == nil {
			attrs = make(map[string]string, len(js.cols)-nFields)
		}
		attrs[col.attr] = v
	}
	row.Fields, row.Attributes = fields, attrs
	return row
}

// recordKeys adds keys not seen yet to Detected (bounded).
func (r *Reader) recordKeys() {
	js := r.js
	for i := range js.cols {
		if len(r.det.Headers) >= maxDetectedKeys {
			return
		}
		h := js.cols[i].header
		if js.seen[h] {
			continue
		}
		js.seen[h] = true
		t := js.cols[i].target()
		r.det.Headers = append(r.det.Headers, h)
		r.det.Targets = append(r.det.Targets, t)
		r.det.Mapping[h] = t
	}
}

// scalarArray reports whether v is an array of strings, numbers, booleans
// or nulls.
func scalarArray(v json.RawMessage) bool {
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		return false
	}
	for _, it := range items {
		if len(it) == 0 || it[0] == '{' || it[0] == '[' {
			return false
		}
	}
	return true
}

// jsonValue converts a raw JSON value to text: strings unquoted, numbers as
// written, booleans "true"/"false", null "", objects and arrays as compact
// JSON text, except that with join an array of scalars (tags) is joined
// with ",".
func jsonValue(v json.RawMessage, join bool) string {
	switch v[0] {
	case '"':
		return unquote(v)
	case 'n':
		return ""
	case '{':
		return compactJSON(v)
	case '[':
		var items []json.RawMessage
		if !join || json.Unmarshal(v, &items) != nil {
			return compactJSON(v)
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			if it[0] == '{' || it[0] == '[' {
				return compactJSON(v)
			}
			if s := strings.TrimSpace(jsonValue(it, false)); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ",")
	}
	return string(v) // number or boolean literal
}

func compactJSON(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}
