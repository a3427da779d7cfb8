// The Reader over an Excel workbook (.xlsx): spooled to disk, one worksheet
// read with excelize's streaming row iterator into the CSV path's rows.

package importer

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/linkitworks/customers/customer"
)

// FormatXLSX is an Excel workbook (Office Open XML spreadsheet).
const FormatXLSX Format = "xlsx"

// SheetError is a sheet option naming no worksheet of the workbook.
type SheetError struct {
	Sheet  string
	Sheets []string
}

func (e *SheetError) Error() string {
	return fmt.Sprintf("importer: no worksheet %q in the workbook (it has %s; give a name or a 1-based index)",
		e.Sheet, quoteList(e.Sheets))
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// xlsxSheet is the worksheet being read.
type xlsxSheet struct {
	f        *excelize.File
	rows     *excelize.Rows
	date1904 bool
	done     bool
}

// xlsxXMLLimit is the largest part excelize holds in memory; a larger
// worksheet is extracted to a temporary file and streamed from there.
const xlsxXMLLimit = 4 << 20

// openXLSX spools the workbook to a temporary file (a zip is read from its
// end: excelize needs it whole), opens it and positions the Reader on the
// chosen sheet's header row. The spool is deleted once opened; excelize's
// own temporary files go with Close.
func (r *Reader) openXLSX(body io.Reader) error {
	tmp, err := os.CreateTemp(r.opts.TempDir, "linkit-upload-*.xlsx")
	if err != nil {
		return fmt.Errorf("importer: spool workbook: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	size, err := io.Copy(tmp, body)
	if err != nil {
		return readError(err)
	}
	if err := r.checkUnzippedSize(tmp, size); err != nil {
		return err
	}
	limit := r.opts.MaxBytes
	if limit <= 0 {
		limit = excelize.UnzipSizeLimit
	}
	f, err := excelize.OpenFile(tmp.Name(), excelize.Options{UnzipSizeLimit: limit, UnzipXMLSizeLimit: min(limit, xlsxXMLLimit), TmpDir: r.opts.TempDir})
	if err != nil {
		return &FileError{Reason: "the file is not a readable Excel workbook (corrupt or truncated .xlsx): " + err.Error(), Err: err}
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		f.Close()
		return &FileError{Reason: "the file is a ZIP archive but not an Excel workbook (.xlsx) with a worksheet: upload the customer list as .xlsx, CSV, JSON or NDJSON"}
	}
	sheet, ok := pickSheet(sheets, r.opts.Sheet)
	if !ok {
		f.Close()
		return &SheetError{Sheet: r.opts.Sheet, Sheets: sheets}
	}
	x := &xlsxSheet{f: f}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		x.date1904 = *props.Date1904
	}
	if x.rows, err = f.Rows(sheet); err != nil {
		f.Close()
		return &FileError{Reason: "the worksheet cannot be read: " + err.Error(), Err: err}
	}
	r.xlsx = x
	r.det.Format, r.det.Encoding, r.det.Sheets, r.det.Sheet = FormatXLSX, EncodingUTF8, sheets, sheet

	for {
		cells, ok, err := r.xlsxRecord()
		if err != nil {
			r.Close()
			return err
		}
		if !ok {
			r.Close()
			return &FileError{Reason: fmt.Sprintf("the worksheet %q is empty (no header row)", sheet)}
		}
		if allBlank(cells) {
			continue
		}
		if len(cells) > r.opts.MaxColumns {
			r.Close()
			return &FileError{Row: r.num, Reason: fmt.Sprintf("the header has %d columns, more than the limit of %d: remove the columns you do not need and upload again",
				len(cells), r.opts.MaxColumns)}
		}
		for _, c := range cells {
			if len(c) > r.opts.MaxFieldBytes {
				r.Close()
				return &FileError{Row: r.num, Reason: fmt.Sprintf("a header is longer than %d bytes", r.opts.MaxFieldBytes)}
			}
		}
		r.setHeader(cells)
		return nil
	}
}

// checkUnzippedSize refuses a workbook whose parts add up to more than the
// decompressed limit (a zip bomb) before anything is extracted; reading a
// part past its declared size fails in archive/zip.
func (r *Reader) checkUnzippedSize(f *os.File, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return &FileError{Reason: "the file is not a readable Excel workbook (corrupt or truncated .xlsx): " + err.Error(), Err: err}
	}
	if r.opts.MaxBytes <= 0 {
		return nil
	}
	var total uint64
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
		if total > uint64(r.opts.MaxBytes) {
			return &customer.Error{Code: customer.ETOOLARGE, Message: "File too large once decompressed",
				Details: map[string]any{"max_bytes": r.opts.MaxBytes}}
		}
	}
	return nil
}

// pickSheet finds the sheet option: "" the first sheet, else a name
// (exact, then case-insensitive), else a 1-based index.
func pickSheet(sheets []string, want string) (string, bool) {
	want = strings.TrimSpace(want)
	if want == "" {
		return sheets[0], true
	}
	for _, s := range sheets {
		if s == want {
			return s, true
		}
	}
	for _, s := range sheets {
		if strings.EqualFold(s, want) {
			return s, true
		}
	}
	if n, err := strconv.Atoi(want); err == nil && n >= 1 && n <= len(sheets) {
		return sheets[n-1], true
	}
	return "", false
}

// xlsxRecord reads the next row's cells (raw values: numbers as stored,
// shared strings resolved), counting rows as the sheet numbers them.
func (r *Reader) xlsxRecord() ([]string, bool, error) {
	x := r.xlsx
	if x.done || !x.rows.Next() {
		x.done = true
		if err := x.rows.Error(); err != nil {
			return nil, false, &FileError{Row: r.num + 1, Reason: "the worksheet cannot be read: " + err.Error(), Err: err}
		}
		return nil, false, nil
	}
	r.num++
	cells, err := x.rows.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, false, &FileError{Row: r.num, Reason: "the worksheet cannot be read: " + err.Error(), Err: err}
	}
	return cells, true, nil
}

func (r *Reader) nextXLSX() (Row, error) {
	for {
		cells, ok, err := r.xlsxRecord()
		if err != nil {
			r.Close()
			return Row{}, err
		}
		if !ok {
			r.Close()
			return Row{}, io.EOF
		}
		if allBlank(cells) {
			continue // a blank row: skipped
		}
		var warns []Issue
		size := 0
		var over []int
		for i, c := range cells {
			c = r.xlsxValue(i, c)
			if fixed, reason := repairText(c); reason != "" {
				c = fixed
				warns = append(warns, Issue{Column: r.columnName(i), Reason: reason})
			}
			if len(c) > r.opts.MaxFieldBytes && i < len(r.cols) {
				over = append(over, i)
				c = ""
			}
			cells[i], size = c, size+len(c)
		}
		row := Row{Num: r.num, Raw: cells}
		if size > r.opts.MaxRowBytes {
			row.Raw = cutCells(cells, r.opts.MaxRowBytes)
			row.Err = &Issue{Reason: fmt.Sprintf("the row holds %s of values, more than the limit of %s (cells cut short here)",
				kib(size), kib(r.opts.MaxRowBytes))}
			return row, nil
		}
		// Excel leaves trailing empty cells out; cells past the header
		// with a value are a ragged row, as in a CSV.
		if len(cells) > len(r.cols) {
			if !allBlank(cells[len(r.cols):]) {
				row.Err = &Issue{Reason: fmt.Sprintf("has %d fields, the header has %d", len(cells), len(r.cols))}
				row.Warnings = warns
				return row, nil
			}
			cells = cells[:len(r.cols)]
		}
		for len(cells) < len(r.cols) {
			cells = append(cells, "")
		}
		row.Raw = cells
		if r.mapCells(&row, cells, over, warns) {
			continue
		}
		return row, nil
	}
}

// xlsxValue turns a raw cell value into the text a CSV export would hold:
// a date serial in a date column becomes its date (the normalizer reads
// ISO dates), and a number Excel stored in exponent form (1.2E+10: a
// phone typed as a number) its digits. Text cells (leading zeros, long
// digit strings) are kept as they are.
func (r *Reader) xlsxValue(i int, v string) string {
	if v == "" || i >= len(r.cols) || !looksNumeric(v) {
		return v
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return v
	}
	if col := &r.cols[i]; col.kind == targetField && strings.HasSuffix(col.field, "date") && f >= 1 && f < 2958466 {
		t, err := excelize.ExcelDateToTime(f, r.xlsx.date1904)
		if err == nil {
			t = t.Round(time.Second)
			if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
				return t.Format(time.DateOnly)
			}
			return t.Format(time.DateTime)
		}
	}
	if strings.ContainsAny(v, "eE") && f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return v
}

func looksNumeric(v string) bool {
	c := v[0]
	return c == '-' || c == '.' || (c >= '0' && c <= '9')
}

// Close releases a workbook's temporary files; other formats hold none.
// Reading to the end (or to an error) closes too.
func (r *Reader) Close() error {
	if r.xlsx == nil || r.xlsx.f == nil {
		return nil
	}
	x := r.xlsx
	x.done = true
	err := errors.Join(x.rows.Close(), x.f.Close())
	x.f = nil
	return err
}
