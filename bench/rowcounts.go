package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// tableCount is what the product's import and the same-end-state baseline
// each added to one table (rows after minus rows before).
type tableCount struct {
	Table    string `json:"table"`
	Product  int64  `json:"product"`
	Baseline int64  `json:"baseline"`
	// Compared: "" when the two must agree, else why not (the product's
	// staging, a queue the worker drains).
	Skip    string `json:"not_compared,omitempty"`
	Differs bool   `json:"differs,omitempty"`
}

// notCompared are tables whose counts differ by design: the product's
// staging and planning state (the baseline stages in its own table), and
// the fuzzy queue, which the product's worker drains (scoring the new
// customers) while it imports.
var notCompared = map[string]string{
	"import_rows": "product staging", "import_row_moves": "product staging", "import_owned_rows": "product staging",
	"import_chunks": "product staging", "suggest_pending": "queue the worker drains", "jobs": "queue",
	"fuzzy_keys": "the worker's fuzzy scoring", "duplicate_suggestions": "the worker's fuzzy scoring",
	// Arrays of ids: one per chunk statement in the product, of 4,000 in the baseline.
	"import_created": "arrays of ids, cut differently",
	"audit_created":  "arrays of ids, cut differently",
}

// countTolerance is how far a compared count may differ: 3%, or 5 rows.
func countDiffers(a, b int64) bool {
	d := math.Abs(float64(a - b))
	return d > 5 && d > 0.03*math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

// countRows counts the rows of every table of the public schema (the
// bench's own bench_* tables aside).
func countRows(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}) (map[string]int64, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE 'bench\_%'
			AND c.relname <> 'goose_db_version' AND NOT c.relispartition`)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// compareCounts lays the two imports' additions side by side: every table
// either of them changed, sorted by name.
func compareCounts(prodBefore, prodAfter, baseBefore, baseAfter map[string]int64) []tableCount {
	names := map[string]bool{}
	for _, m := range []map[string]int64{prodBefore, prodAfter, baseBefore, baseAfter} {
		for t := range m {
			names[t] = true
		}
	}
	var out []tableCount
	for _, t := range slices.Sorted(mapKeysOf(names)) {
		c := tableCount{Table: t, Product: prodAfter[t] - prodBefore[t], Baseline: baseAfter[t] - baseBefore[t], Skip: notCompared[t]}
		if c.Product == 0 && c.Baseline == 0 {
			continue
		}
		c.Differs = c.Skip == "" && countDiffers(c.Product, c.Baseline)
		out = append(out, c)
	}
	return out
}

func mapKeysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// countsTable prints the comparison, one line a table, and says which
// compared tables differ.
func countsTable(cs []tableCount) (lines []string, differ []string) {
	lines = append(lines, fmt.Sprintf("%-28s %10s %10s  %s", "rows added to", "product", "baseline", ""))
	for _, c := range cs {
		mark := ""
		switch {
		case c.Skip != "":
			mark = "(" + c.Skip + ", not compared)"
		case c.Differs:
			mark = "DIFFERS"
			differ = append(differ, fmt.Sprintf("%s %d vs %d", c.Table, c.Product, c.Baseline))
		}
		lines = append(lines, fmt.Sprintf("%-28s %10d %10d  %s", c.Table, c.Product, c.Baseline, mark))
	}
	return lines, differ
}

// countsBrief is the comparison on one line, for the report's notes.
func countsBrief(cs []tableCount) string {
	var parts []string
	for _, c := range cs {
		p := fmt.Sprintf("%s %d/%d", c.Table, c.Product, c.Baseline)
		if c.Skip != "" {
			p += " (not compared)"
		} else if c.Differs {
			p += " DIFFERS"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}
