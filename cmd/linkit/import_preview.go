// linkit import --preview: how the server would read the start of the file.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
)

// previewBytes is how much of a file --preview sends (a workbook goes
// whole): the preview reads 20 rows.
const previewBytes = 1 << 20

// previewAnswer is the part of POST /api/v1/imports/preview the CLI shows.
type previewAnswer struct {
	Format         string            `json:"format"`
	Encoding       string            `json:"encoding"`
	Delimiter      string            `json:"delimiter"`
	Headers        []string          `json:"headers"`
	Mapping        map[string]string `json:"mapping"`
	MissingColumns []string          `json:"missing_columns"`
	Rows           []struct {
		Valid    bool                     `json:"valid"`
		Problems []customer.ImportProblem `json:"problems"`
	} `json:"rows"`
}

// preview sends the start of the file to the preview endpoint and prints
// how it would be read. A file the import would refuse is an error.
func (c *apiClient) preview(ctx context.Context, f io.Reader, name string, opts client.CreateImportParams, w io.Writer, asJSON bool) error {
	head, err := io.ReadAll(io.LimitReader(f, previewBytes+1))
	if err != nil {
		return err
	}
	var body io.Reader
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		// A workbook is read from the end of its zip: it goes whole.
		body = io.MultiReader(bytes.NewReader(head), f)
	case len(head) > previewBytes:
		head = head[:previewBytes]
		if i := bytes.LastIndexByte(head, '\n'); i > 0 && !strings.HasSuffix(strings.ToLower(name), ".gz") {
			head = head[:i+1] // whole lines only
		}
		body = bytes.NewReader(head)
	default:
		body = bytes.NewReader(head)
	}
	params := client.PreviewImportParams{
		FileName: &name, Kind: (*client.PreviewImportParamsKind)(opts.Kind), Mapping: opts.Mapping,
		LocationId: opts.LocationId, Tags: opts.Tags, GroupIds: opts.GroupIds,
		MergePolicy:   (*client.PreviewImportParamsMergePolicy)(opts.MergePolicy),
		DefaultRegion: opts.DefaultRegion, DryRun: opts.DryRun, Sheet: opts.Sheet,
	}
	ctype, editors := fileEditors(name)
	res, err := c.api.PreviewImportWithBody(ctx, &params, ctype, body, editors...)
	if res, err = c.answer(ctx, res, err); err != nil {
		return err
	}
	defer res.Body.Close()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	var p *previewAnswer
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || json.Unmarshal(env.Data, &p) != nil || p == nil {
		return &netError{base: c.base, err: errors.New("unreadable answer to the preview")}
	}
	if asJSON {
		if _, err := fmt.Fprintf(w, "%s\n", env.Data); err != nil {
			return err
		}
		return previewVerdict(p)
	}
	delim := strconv.Quote(p.Delimiter)
	switch p.Delimiter {
	case "\t":
		delim = "tab"
	case "":
		delim = "none"
	}
	fmt.Fprintf(w, "Preview of %s: %s, %s, delimiter %s\n", name, p.Format, p.Encoding, delim)
	width := 6
	for _, h := range p.Headers {
		width = max(width, min(40, len(h)))
	}
	fmt.Fprintf(w, "  %-*s  field\n", width, "column")
	for _, h := range p.Headers {
		target := p.Mapping[h]
		switch target {
		case "":
			target = "(attribute)"
		case "-":
			target = "(ignored)"
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, h, target)
	}
	bad := 0
	for _, r := range p.Rows {
		if !r.Valid {
			bad++
		}
	}
	rows := "rows"
	if len(p.Rows) == 1 {
		rows = "row"
	}
	fmt.Fprintf(w, "First %d %s: %d would be imported, %d would not\n", len(p.Rows), rows, len(p.Rows)-bad, bad)
	for _, r := range p.Rows {
		for _, pr := range r.Problems {
			col := ""
			if pr.Column != "" {
				col = " (" + pr.Column + ")"
			}
			fmt.Fprintf(w, "  row %d %s%s: %s\n", pr.Row, pr.Severity, col, pr.Reason)
		}
	}
	return previewVerdict(p)
}

// previewVerdict fails a file the import would refuse.
func previewVerdict(p *previewAnswer) error {
	if len(p.MissingColumns) > 0 {
		return fmt.Errorf("the import would refuse this file: %s", strings.Join(p.MissingColumns, "; "))
	}
	return nil
}
