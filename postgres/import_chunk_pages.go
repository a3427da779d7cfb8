// Reading a chunk's staged rows a page at a time, bounded by rows and bytes.

package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// scanChunkRows reads rows of sqlChunkRows.
func scanChunkRows(rows pgx.Rows, fn func(r customer.ImportRow, owned bool)) error {
	var r customer.ImportRow
	var o bool
	var rec []byte // the record's JSON, decoded by decodeImportRecord
	_, err := pgx.ForEachRow(rows, []any{&r.Num, &r.Email, &r.EmailKey, &r.Phone, &r.PhoneKey, &r.PhoneValid,
		&r.PhoneExt, &r.External, &rec, &r.OrderKey, &o}, func() error {
		if err := decodeImportRecord(rec, &r.Record); err != nil {
			return fmt.Errorf("staged record of row %d: %w", r.Num, err)
		}
		fn(r, o)
		return nil
	})
	return err
}

// DefaultChunkPageRows is how many rows a chunk holds at once: a chunk's
// rows are read a page at a time. Above the planned chunk size, so that a
// typical chunk is a single page.
const DefaultChunkPageRows = 10000

// DefaultChunkPageBytes bounds a page by its rows' values too (a group of
// fat rows is one chunk however many bytes it holds), and firstFetchRows is
// the first read of a page, before the rows' size is known.
const (
	DefaultChunkPageBytes = 8 << 20
	firstFetchRows        = 100
)

// pageSize bounds the rows a chunk holds at once (zero values: defaults);
// planned is the planned chunk's rows, which sizes a page's slice.
type pageSize struct{ rows, bytes, planned int }

// recordSize is about the bytes a staged row's values hold in memory.
func recordSize(r *customer.ImportRecord) int {
	n := 64
	for k, v := range r.Fields {
		n += len(k) + len(v)
	}
	for k, v := range r.Attributes {
		n += len(k) + len(v)
	}
	for _, t := range r.Tags {
		n += len(t)
	}
	return n
}

// pages runs fn on the chunk's rows a page at a time, in file order or
// (byOrder) grouped by order number (in file order within an order),
// through a cursor of the chunk's transaction; fn may run statements of its
// own between pages. When the first read finds a single page (nearly every
// chunk) the rows are kept and later reads use them (with any edits fn
// made: only the last pass may edit).
func (in *chunkInput) pages(ctx context.Context, tx pgx.Tx, chunk int, byOrder bool, fn func(rows []customer.ImportRow, owned []bool) error) error {
	if in.onePage {
		rows, owned := in.kept, in.keptOwned
		if byOrder {
			rows, owned = byOrderKey(rows, owned)
		}
		return fn(rows, owned)
	}
	order := ` ORDER BY 1`
	if byOrder {
		order = ` ORDER BY 10, 1` // order_key, row_num
	}
	if _, err := tx.Exec(ctx, `DECLARE chunk_rows NO SCROLL CURSOR FOR `+sqlChunkRows+order, in.orgID, in.importID, chunk); err != nil {
		return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
	}
	page := cmp.Or(in.page.rows, DefaultChunkPageRows)
	pageBytes := cmp.Or(in.page.bytes, DefaultChunkPageBytes)
	// Room for the planned rows and as many again moved in (a third of a
	// chunk's rows at 1M into 1M): grown from 1,000 the slice was copied
	// eight times a chunk.
	room := min(page, max(1000, 2*in.page.planned))
	rows, owned := make([]customer.ImportRow, 0, room), make([]bool, 0, room)
	pages := 0
	var last []customer.ImportRow // the last page read (an empty FETCH ends a full one)
	var lastOwned []bool
	for end := false; !end; {
		// A page: up to page rows or pageBytes, read in as few FETCHes
		// as the rows' size allows (two for a typical chunk).
		rows, owned = rows[:0], owned[:0]
		size := 0
		for len(rows) < page && size < pageBytes {
			n := min(firstFetchRows, page)
			if len(rows) > 0 {
				n = max(1, min(page-len(rows), (pageBytes-size)/max(1, size/len(rows))))
			}
			before := len(rows)
			rs, err := tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM chunk_rows`, n))
			if err == nil {
				err = scanChunkRows(rs, func(r customer.ImportRow, o bool) {
					rows, owned = append(rows, r), append(owned, o)
					size += recordSize(&r.Record)
				})
			}
			if err != nil {
				return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
			}
			if len(rows)-before < n {
				end = true
				break
			}
		}
		if len(rows) > 0 {
			pages++
			last, lastOwned = rows, owned
			if err := fn(rows, owned); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE chunk_rows`); err != nil {
		return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
	}
	if pages <= 1 && !byOrder {
		in.onePage, in.kept, in.keptOwned = true, last, lastOwned
	}
	return nil
}

// byOrderKey returns rows (in file order) grouped by order number.
func byOrderKey(rows []customer.ImportRow, owned []bool) ([]customer.ImportRow, []bool) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(rows[a].OrderKey, rows[b].OrderKey) })
	sorted, sortedOwned := make([]customer.ImportRow, len(rows)), make([]bool, len(rows))
	for i, j := range idx {
		sorted[i], sortedOwned[i] = rows[j], owned[j]
	}
	return sorted, sortedOwned
}
