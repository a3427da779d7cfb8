package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Retry is a corrected error report read for POST /imports/{id}/retry
// (SPEC §10.3): its rows numbered as in the import, normalized like the
// import's own, ready to be staged and merged in the same import.
type Retry struct {
	Rows     []customer.ImportRow     // rows now valid, to merge
	Problems []customer.ImportProblem // the retried rows' problems now (errors and warnings)
	Retried  []int                    // the import's row numbers the file retries
	Invalid  int                      // retried rows still in error
	Warnings int                      // retried rows imported with a dropped field
	Rejected []RetryRejected          // lines naming no row in error of the import
}

// RetryRejected is a line of a retry file that was not retried.
type RetryRejected struct {
	Line   int    `json:"line"` // in the retry file (header = 1)
	Row    int    `json:"row,omitempty"`
	Reason string `json:"reason"`
}

// errorRowNum reads the import's row number from the error column of
// the report (api writeErrorCSV: "row 12 error: email: …").
var errorRowNum = regexp.MustCompile(`^\s*row (\d+) `)

// ReadRetry reads a corrected error report of an import: the import's
// columns plus its error column errorColumn, whose "row N" names the row.
// Only rows in errorRows (the import's rows in error) are retried; the
// others are listed as rejected. up.Options are the import's, so rows are
// read, mapped and normalized as the import's were. The rows are held in
// memory: a report holds the import's errors only.
func ReadRetry(up Upload, phones *dedupe.PhoneNormalizer, errorColumn string, errorRows map[int]bool) (*Retry, error) {
	if up.Options.Mapping == nil {
		up.Options.Mapping = map[string]string{}
	} else {
		m := make(map[string]string, len(up.Options.Mapping)+1)
		for k, v := range up.Options.Mapping {
			m[k] = v
		}
		up.Options.Mapping = m
	}
	up.Options.Mapping[errorColumn] = Ignore
	rd, norm, err := up.Open(phones)
	if err != nil {
		return nil, err
	}
	errIdx := -1
	for i, h := range rd.Detected().Headers {
		if strings.EqualFold(strings.TrimSpace(h), errorColumn) {
			errIdx = i
		}
	}
	if errIdx < 0 || rd.Detected().Format != FormatCSV {
		return nil, customer.Invalid(map[string]string{"file": fmt.Sprintf(
			"must be the import's error report (GET /api/v1/imports/{id}/errors?format=csv) with its %q column", errorColumn)})
	}
	out := &Retry{}
	seen := map[int]bool{}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Problem(err)
		}
		line := row.Num
		var cell string
		if errIdx < len(row.Raw) {
			cell = row.Raw[errIdx]
			// The report's own column is no cell of the row: problems
			// keep the import's columns, and the next report lines up.
			row.Raw = append(row.Raw[:errIdx:errIdx], row.Raw[errIdx+1:]...)
		}
		n, ok := out.claim(cell, line, errorColumn, errorRows, seen)
		if !ok {
			continue
		}
		row.Num = n
		out.add(norm, row)
	}
	return out, nil
}

// add normalizes one retried row (numbered as in the import).
// claim reads the import's row number from a line's error cell and takes it
// for the retry once; a line naming no row in error, or one already taken,
// is rejected with its reason.
func (out *Retry) claim(cell string, line int, errorColumn string, errorRows, seen map[int]bool) (int, bool) {
	m := errorRowNum.FindStringSubmatch(cell)
	if m == nil {
		out.Rejected = append(out.Rejected, RetryRejected{Line: line, Reason: fmt.Sprintf("%s: no \"row N\" naming the import's row", errorColumn)})
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	switch {
	case !errorRows[n]:
		out.Rejected = append(out.Rejected, RetryRejected{Line: line, Row: n, Reason: "row is not in error in this import"})
		return n, false
	case seen[n]:
		out.Rejected = append(out.Rejected, RetryRejected{Line: line, Row: n, Reason: "row appears twice in the file"})
		return n, false
	}
	seen[n] = true
	return n, true
}

func (out *Retry) add(norm *Normalizer, row Row) {
	r, probs, ok := norm.Normalize(row)
	out.Retried = append(out.Retried, row.Num)
	out.Problems = append(out.Problems, probs...)
	switch {
	case !ok:
		out.Invalid++
	case len(probs) > 0:
		out.Warnings++
		fallthrough
	default:
		for _, s := range row.Raw {
			r.Bytes += len(s)
		}
		out.Rows = append(out.Rows, r)
	}
}

// ReadRetryOriginals reads the corrected error report of a JSON or NDJSON
// import: two columns, "original" (the row's JSON object, as the report
// wrote it) and errorColumn. The objects are read back as NDJSON with the
// import's options, so they map and normalize as the import's rows did.
func ReadRetryOriginals(up Upload, phones *dedupe.PhoneNormalizer, errorColumn string, errorRows map[int]bool) (*Retry, error) {
	bad := customer.Invalid(map[string]string{"file": fmt.Sprintf(
		"must be the import's error report (GET /api/v1/imports/{id}/errors?format=csv) with its \"original\" and %q columns", errorColumn)})
	cr := csv.NewReader(up.File)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil || len(header) != 2 || !strings.EqualFold(strings.TrimSpace(header[0]), "original") ||
		!strings.EqualFold(strings.TrimSpace(header[1]), errorColumn) {
		return nil, bad
	}
	out := &Retry{}
	seen := map[int]bool{}
	var rows []int
	var ndjson bytes.Buffer
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, customer.Invalid(map[string]string{"file": fmt.Sprintf("line %d: %v", line, err)})
		}
		var cell string
		if len(rec) > 1 {
			cell = rec[1]
		}
		n, ok := out.claim(cell, line, errorColumn, errorRows, seen)
		if !ok {
			continue
		}
		var obj map[string]any
		if json.Unmarshal([]byte(rec[0]), &obj) != nil {
			// Still wrong: a fresh error, the cell kept for the next report.
			out.Retried = append(out.Retried, n)
			out.Problems = append(out.Problems, customer.ImportProblem{Row: n, Severity: customer.SeverityError,
				Column: "original", Reason: "not a JSON object", Raw: []string{rec[0]}})
			out.Invalid++
			continue
		}
		compact, _ := json.Marshal(obj)
		ndjson.Write(compact)
		ndjson.WriteByte('\n')
		rows = append(rows, n)
	}
	if len(rows) == 0 {
		return out, nil
	}
	up.File, up.Read.Format = &ndjson, FormatNDJSON
	rd, norm, err := up.Open(phones)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Problem(err)
		}
		if i >= len(rows) {
			break
		}
		row.Num = rows[i]
		out.add(norm, row)
	}
	return out, nil
}
