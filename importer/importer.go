package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/linkitworks/customers/customer"
)

// Format of the (decompressed) file.
type Format string

const (
	FormatCSV    Format = "csv"
	FormatJSON   Format = "json"   // a JSON array of objects
	FormatNDJSON Format = "ndjson" // one JSON object per line
)

// Defaults of Options limits.
const (
	DefaultMaxColumns    = 500 // HubSpot's all-properties exports run to hundreds
	DefaultMaxFieldBytes = 64 << 10
	DefaultMaxRowBytes   = 128 << 10
)

// Options configure Open. The zero value imports customers from a sniffed
// format with the default limits.
type Options struct {
	Kind   customer.ImportKind // selects the canonical field set and alias table; "" = customers
	Format Format              // "" = sniff: '[' → json, '{' → ndjson, else csv
	// Mapping overrides the automatic header mapping: column header (matched
	// exactly after trimming, else case/space/punctuation-insensitively) →
	// canonical field, "" or Ignore ("-") to drop the column, AsAttribute to
	// keep it as an attribute. Unknown fields make Open fail with
	// *MappingError.
	Mapping       map[string]string
	MaxColumns    int // default 500: a CSV header with more columns is a file error
	MaxFieldBytes int // default 64 KiB: longer values are dropped with a warning
	// MaxRowBytes bounds the values of one record (default 128 KiB): a
	// longer record is a row error, its cells cut short in the report. It
	// is what bounds the memory of staging and merging a file of fat rows.
	MaxRowBytes int
	// Delimiter forces the CSV delimiter ("," ";" "\t" "|"); "" = sniff.
	Delimiter string
	// MaxBytes bounds a gzip file once decompressed (0: no bound), as the
	// caller bounds the bytes it is sent: past it reads fail with the
	// domain's 413 (*customer.Error ETOOLARGE, passed on by Problem).
	MaxBytes int64
	// Sheet picks a workbook's worksheet: a name or a 1-based index; ""
	// the first. One naming no sheet makes Open fail with *SheetError.
	Sheet string
	// TempDir holds a workbook while it is read ("": the system's).
	TempDir string
}

// Detected describes what Open found.
type Detected struct {
	Format    Format
	Encoding  string // utf-8, utf-8-sig, utf-16le, utf-16be, windows-1252, macintosh
	Delimiter string // "," ";" "\t" "|" or "" for JSON
	Gzip      bool
	// Headers are the CSV header cells (trimmed), or for JSON the keys seen
	// so far in order of first appearance (after Open: the first object's).
	Headers []string
	// Mapping is header → canonical field; "" = attribute, "-" = ignored.
	// With duplicate headers it holds the first column's target; Targets
	// has one entry per column.
	Mapping map[string]string
	// Targets is parallel to Headers: the target of each column, with the
	// same values as Mapping.
	Targets []string
	// Sheets are a workbook's worksheets in order, and Sheet the one read.
	Sheets []string
	Sheet  string
}

// Issue is a row error or warning.
type Issue struct {
	Column string // header of the column concerned; "" for the whole row
	Reason string
}

// Row is one mapped record.
type Row struct {
	// Num is the spreadsheet row number for CSV (header = 1, first record =
	// 2; blank lines not counted) or the 1-based element index for JSON and
	// NDJSON.
	Num int
	// Fields holds canonical field → trimmed value (a formula-defusing
	// apostrophe removed: unescapeFormula), non-empty values only.
	// Nil for rows with Err.
	Fields map[string]string
	// Attributes holds unmapped columns: header (trimmed) → trimmed value,
	// non-empty values only. Nil when there are none.
	Attributes map[string]string
	// Raw holds the record's cells in file order (decoded, untrimmed) for
	// CSV, or a single element holding the object's JSON text.
	Raw []string
	// Err is set for a row that could not be read properly (ragged CSV
	// record, malformed JSON element); reading continues.
	Err *Issue
	// Warnings are non-fatal problems (a field dropped for length, text
	// repaired).
	Warnings []Issue

	chunk int // set by Stage
	size  int // bytes of Raw, set by Stage
}

// FileError is a problem with the file as a whole: nothing (more) can be
// read from it.
type FileError struct {
	Reason string
	Row    int   // row number where reading stopped, 0 if not tied to one
	Err    error // underlying error (read, gzip), may be nil
}

func (e *FileError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("importer: row %d: %s", e.Row, e.Reason)
	}
	return "importer: " + e.Reason
}

func (e *FileError) Unwrap() error { return e.Err }

// MappingError reports an override that targets an unknown field.
type MappingError struct {
	Column, Field string
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("importer: column %q is mapped to unknown field %q", e.Column, e.Field)
}

// Reader streams rows out of a file. It is not safe for concurrent use,
// except BytesRead.
type Reader struct {
	opts    Options
	counter *countingReader
	src     *source
	det     Detected
	m       *mapper
	err     error // sticky error (io.EOF or *FileError)
	num     int

	overReason string
	fixUTF8    bool // invalid UTF-8 can still appear (sniffed as UTF-8)

	// CSV
	csv     *csvParser
	cols    []column
	nMapped int

	// JSON / NDJSON
	js      *jsonReader
	pending *Row

	xlsx *xlsxSheet
}

// Open sniffs the file (reading a bounded prefix) and returns a Reader
// positioned on the first row. File-level problems are *FileError; bad
// overrides are *MappingError.
func Open(r io.Reader, opts Options) (*Reader, error) {
	if opts.Kind == "" {
		opts.Kind = customer.ImportCustomers
	}
	if tables[opts.Kind] == nil {
		return nil, fmt.Errorf("importer: unknown kind %q", opts.Kind)
	}
	switch opts.Format {
	case "", FormatCSV, FormatJSON, FormatNDJSON, FormatXLSX:
	default:
		return nil, fmt.Errorf("importer: unknown format %q", opts.Format)
	}
	var forcedDelim byte
	if opts.Delimiter != "" {
		if len(opts.Delimiter) != 1 || bytes.IndexByte(delimiters, opts.Delimiter[0]) < 0 {
			return nil, fmt.Errorf("importer: unsupported delimiter %q", opts.Delimiter)
		}
		forcedDelim = opts.Delimiter[0]
	}
	if opts.MaxColumns <= 0 {
		opts.MaxColumns = DefaultMaxColumns
	}
	if opts.MaxFieldBytes <= 0 {
		opts.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if opts.MaxRowBytes <= 0 {
		opts.MaxRowBytes = DefaultMaxRowBytes
	}
	m, err := newMapper(opts.Kind, opts.Mapping)
	if err != nil {
		return nil, err
	}
	rd := &Reader{opts: opts, m: m, counter: &countingReader{r: r}}
	rd.overReason = fmt.Sprintf("longer than %d bytes", opts.MaxFieldBytes)

	br := bufio.NewReaderSize(rd.counter, sourceSize)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, readError(err)
	}
	if string(magic) == "PK\x03\x04" || opts.Format == FormatXLSX {
		// A zip is a workbook or nothing we read (an .xlsx saved from
		// Excel, Numbers or Google Sheets).
		if err := rd.openXLSX(br); err != nil {
			return nil, err
		}
		return rd, nil
	}
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FileError{Reason: "invalid gzip data: " + err.Error(), Err: err}
		}
		rd.det.Gzip = true
		var text io.Reader = gz
		if opts.MaxBytes > 0 {
			text = &decompressedLimit{r: gz, left: opts.MaxBytes, max: opts.MaxBytes}
		}
		br = bufio.NewReaderSize(text, sourceSize)
	}
	prefix, err := br.Peek(sourceSize)
	atEOF := false
	switch err {
	case nil:
	case io.EOF:
		atEOF = true
	default:
		return nil, readError(err)
	}
	if reason := notText(prefix); reason != "" {
		return nil, &FileError{Reason: reason}
	}

	enc, bom := sniffEncoding(prefix, atEOF)
	if enc != EncodingUTF16LE && enc != EncodingUTF16BE && binaryBytes(prefix) { // UTF-16 is NULs by half
		return nil, &FileError{Reason: "the file is not text (binary data): upload the customer list as CSV, JSON or NDJSON"}
	}
	rd.det.Encoding = enc
	if _, err := br.Discard(bom); err != nil {
		return nil, readError(err)
	}
	var text io.Reader = br
	switch enc {
	case EncodingUTF16LE:
		text = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
	case EncodingUTF16BE:
		text = transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder())
	case EncodingWindows1252:
		text = transform.NewReader(br, charmap.Windows1252.NewDecoder())
	case EncodingMacRoman:
		text = transform.NewReader(br, charmap.Macintosh.NewDecoder())
	default:
		rd.fixUTF8 = true
	}
	rd.src = newSource(text)
	rd.src.fillAll()
	if err := rd.src.readErr(); err != nil {
		return nil, readError(err)
	}

	// Sniff without consuming: leading tabs may be empty CSV cells.
	c, ok := firstNonSpace(rd.src.buf[rd.src.r:rd.src.w])
	if !ok && rd.src.err != nil {
		return nil, &FileError{Reason: "the file is empty"}
	}
	format := opts.Format
	if format == "" {
		switch c {
		case '[':
			format = FormatJSON
		case '{':
			format = FormatNDJSON
		default:
			format = FormatCSV
		}
	}
	rd.det.Format = format
	if format == FormatCSV {
		if err := rd.openCSV(forcedDelim); err != nil {
			return nil, err
		}
		return rd, nil
	}
	if err := rd.openJSON(format); err != nil {
		return nil, err
	}
	return rd, nil
}

func readError(err error) *FileError {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe
	}
	reason := "read error: " + err.Error()
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "corrupt or truncated data: " + err.Error()
	}
	return &FileError{Reason: reason, Err: err}
}

// Detected returns what Open found (a copy).
func (r *Reader) Detected() Detected {
	d := r.det
	// Never nil: a JSON file whose elements were all malformed has no
	// headers, and the import records them as an empty list.
	d.Headers = append([]string{}, d.Headers...)
	d.Targets = append([]string{}, d.Targets...)
	d.Sheets = append([]string(nil), d.Sheets...)
	d.Mapping = make(map[string]string, len(r.det.Mapping))
	for k, v := range r.det.Mapping {
		d.Mapping[k] = v
	}
	return d
}

// BytesRead returns how many bytes have been consumed from the reader given
// to Open (compressed bytes for gzip). It includes read-ahead buffering, so
// it runs up to ~200 KiB ahead of the rows returned. Safe to call from
// another goroutine.
func (r *Reader) BytesRead() int64 { return r.counter.n.Load() }

// Next returns the next row, or io.EOF after the last one. Other errors are
// *FileError and are sticky. A returned Row shares nothing with the Reader.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var row Row
	var err error
	switch {
	case r.xlsx != nil:
		row, err = r.nextXLSX()
	case r.csv != nil:
		row, err = r.nextCSV()
	default:
		row, err = r.nextJSON()
	}
	if err != nil {
		r.err = err
	}
	return row, err
}

func (r *Reader) fail(err error) error {
	fe := readError(err)
	if fe.Row == 0 {
		fe.Row = r.num + 1
	}
	return fe
}
