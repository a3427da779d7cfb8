// The Reader over a CSV file: its header row (after Excel's sep= line) and its records as rows.

package importer

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// sepLine reads a leading "sep=X" line (Excel's delimiter hint, also
// quoted): the delimiter and the line's length with its line break, or 0
// when there is none or X is not a supported delimiter.
func sepLine(b []byte) (byte, int) {
	line := b
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		line = b[:i]
	}
	n := len(line)
	if n < len(b) && b[n] == '\r' {
		n++
	}
	if n < len(b) && b[n] == '\n' {
		n++
	}
	if len(line) == 7 && line[0] == '"' && line[6] == '"' {
		line = line[1:6]
	}
	if len(line) != 5 || !bytes.EqualFold(line[:4], []byte("sep=")) || bytes.IndexByte(delimiters, line[4]) < 0 {
		return 0, 0
	}
	return line[4], n
}

func (r *Reader) openCSV(delim byte) error {
	s := r.src
	if d, n := sepLine(s.buf[s.r:s.w]); n > 0 {
		// Excel's "sep=;" line names the delimiter; spreadsheets hide it,
		// so the header stays row 1.
		s.r += n
		if delim == 0 {
			delim = d
		}
	}
	if delim == 0 {
		delim = sniffDelimiter(s.buf[s.r:s.w], s.err != nil)
	}
	r.det.Delimiter = string(delim)
	r.csv = &csvParser{src: s, delim: delim, maxField: r.opts.MaxFieldBytes, maxStore: r.opts.MaxColumns}
	p := r.csv
	for {
		ok, err := p.readRecord()
		if err != nil {
			return readError(err)
		}
		if !ok {
			return &FileError{Reason: "the file is empty (no header row)"}
		}
		if p.nFields == 1 && !p.quoted && isBlank(p.rec) {
			continue
		}
		break
	}
	if p.nFields > r.opts.MaxColumns {
		return &FileError{Row: 1, Reason: fmt.Sprintf("the header has %d columns, more than the limit of %d: remove the columns you do not need and upload again",
			p.nFields, r.opts.MaxColumns)}
	}
	if len(p.over) > 0 {
		return &FileError{Row: 1, Reason: fmt.Sprintf("a header is longer than %d bytes", r.opts.MaxFieldBytes)}
	}
	r.num = 1
	r.setHeader(p.cells())
	return nil
}

// setHeader maps the header row's cells to targets (CSV and workbooks).
func (r *Reader) setHeader(headers []string) {
	cands := make([]candidate, len(headers))
	for i, h := range headers {
		h, _ = repairText(h)
		cands[i] = r.m.classify(h)
		headers[i] = cands[i].clean
	}
	r.cols = r.m.resolve(cands, nil)
	r.det.Headers = headers
	r.det.Mapping = make(map[string]string, len(headers))
	r.det.Targets = make([]string, len(headers))
	for i, c := range r.cols {
		t := c.target()
		r.det.Targets[i] = t
		if _, dup := r.det.Mapping[c.header]; !dup {
			r.det.Mapping[c.header] = t
		}
		if c.kind == targetField {
			r.nMapped++
		}
	}
}

func (r *Reader) nextCSV() (Row, error) {
	p := r.csv
	for {
		ok, err := p.readRecord()
		if err != nil {
			return Row{}, r.fail(err)
		}
		if !ok {
			return Row{}, io.EOF
		}
		if p.nFields == 1 && !p.quoted && isBlank(p.rec) {
			continue // blank line: skipped and not counted
		}
		r.num++
		var warns []Issue
		bad := bytes.IndexByte(p.rec, 0) >= 0 || (r.fixUTF8 && !utf8.Valid(p.rec))
		cells := p.cells()
		if bad {
			for i, c := range cells {
				fixed, reason := repairText(c)
				if reason != "" {
					cells[i] = fixed
					warns = append(warns, Issue{Column: r.columnName(i), Reason: reason})
				}
			}
		}
		row := Row{Num: r.num, Raw: cells}
		if len(p.rec) > r.opts.MaxRowBytes {
			row.Raw = cutCells(cells, r.opts.MaxRowBytes)
			row.Err = &Issue{Reason: fmt.Sprintf("the row holds %s of values, more than the limit of %s (cells cut short here)",
				kib(len(p.rec)), kib(r.opts.MaxRowBytes))}
			return row, nil
		}
		if p.nFields != len(r.cols) {
			if len(p.over) == 0 && allBlank(cells) {
				continue
			}
			row.Err = &Issue{Reason: fmt.Sprintf("has %d fields, the header has %d", p.nFields, len(r.cols))}
			row.Warnings = warns
			return row, nil
		}
		if r.mapCells(&row, cells, p.over, warns) {
			continue // a record of empty cells (",,,"): counted, not returned
		}
		return row, nil
	}
}

// mapCells fills a row's fields and attributes from its cells (as many as
// the header's); over are the cells dropped for length. It reports a row
// of empty cells, which is skipped.
func (r *Reader) mapCells(row *Row, cells []string, over []int, warns []Issue) (empty bool) {
	for _, i := range over {
		warns = append(warns, Issue{Column: r.cols[i].name(), Reason: r.overReason})
	}
	fields := make(map[string]string, r.nMapped)
	var attrs map[string]string
	empty = true
	for i, c := range cells {
		// Trimmed again: an unescaped " =…" keeps no space.
		v := strings.TrimSpace(unescapeFormula(strings.TrimSpace(c)))
		if v == "" {
			continue
		}
		empty = false
		col := &r.cols[i]
		switch col.kind {
		case targetField:
			fields[col.field] = v
		case targetAttr:
			if attrs == nil {
				attrs = make(map[string]string, len(cells)-r.nMapped)
			}
			attrs[col.attr] = v
		}
	}
	if empty && len(over) == 0 {
		return true
	}
	row.Fields, row.Attributes, row.Warnings = fields, attrs, warns
	return false
}

func (r *Reader) columnName(i int) string {
	if i < len(r.cols) {
		return r.cols[i].name()
	}
	return "Column " + itoa(i+1)
}
