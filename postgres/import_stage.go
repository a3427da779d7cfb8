// Staging a file: its rows and its row problems streamed into the staging tables with COPY.

package postgres

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// StageRows copies rows into the staging table until next returns io.EOF,
// through the staging pool (Options.StageConns).
func (s *Store) StageRows(ctx context.Context, orgID, importID string, next func() (*customer.ImportRow, error)) (int64, error) {
	fat := s.fatRowBytes()
	src := &rowSource{next: func() ([]any, error) {
		r, err := next()
		if err != nil {
			return nil, err
		}
		rec, err := recordText(&r.Record)
		if err != nil {
			return nil, err
		}
		var size any // NULL: the row weighs nothing in the plan (and stays out of its index)
		if r.Bytes >= fat {
			size = int32(r.Bytes)
		}
		return []any{orgID, importID, int32(r.Num), int32(r.Chunk), r.Email, r.EmailKey, r.Phone, r.PhoneKey, r.PhoneValid,
			r.PhoneExt, r.External, rec, r.OrderKey, r.Raw, size}, nil
	}}
	n, err := s.stage.CopyFrom(ctx, pgx.Identifier{"import_rows"},
		[]string{"organization_id", "import_id", "row_num", "chunk", "email", "email_key", "phone", "phone_key",
			"phone_valid", "phone_ext", "external_key", "record", "order_key", "raw", "size_bytes"}, src)
	if err != nil {
		return n, interpretError(fmt.Errorf("stage rows: %w", err), nil)
	}
	return n, nil
}

// StageProblems copies row errors and warnings until next returns io.EOF.
func (s *Store) StageProblems(ctx context.Context, orgID, importID string, next func() (*customer.ImportProblem, error)) (int64, error) {
	src := &rowSource{next: func() ([]any, error) {
		p, err := next()
		if err != nil {
			return nil, err
		}
		raw := p.Raw
		if raw == nil {
			raw = []string{}
		}
		return []any{orgID, importID, int32(p.Row), int16(p.Seq), p.Severity, p.Column, p.Reason, raw}, nil
	}}
	n, err := s.stage.CopyFrom(ctx, pgx.Identifier{"import_errors"},
		[]string{"organization_id", "import_id", "row_num", "seq", "severity", "column_name", "reason", "raw"}, src)
	if err != nil {
		return n, interpretError(fmt.Errorf("stage problems: %w", err), nil)
	}
	return n, nil
}

// rowSource adapts a pull function to pgx's CopyFromSource, streaming.
type rowSource struct {
	next func() ([]any, error)
	row  []any
	err  error
}

func (r *rowSource) Next() bool {
	r.row, r.err = r.next()
	if r.err == io.EOF {
		r.err = nil
		return false
	}
	return r.err == nil
}

func (r *rowSource) Values() ([]any, error) { return r.row, nil }
func (r *rowSource) Err() error             { return r.err }
