// Problems found while merging a chunk (orders, placeholders), written to the import's report.

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const sqlInsertChunkProblems = `INSERT INTO import_errors (organization_id, import_id, row_num, seq, severity, column_name, reason, raw)
		SELECT $1, $2, r, s, sv, c, rs, coalesce((SELECT raw FROM import_rows
				WHERE organization_id = $1 AND import_id = $2 AND row_num = r), '{}')
		FROM unnest($3::int[], $4::smallint[], $5::text[], $6::text[], $7::text[]) AS u(r, s, sv, c, rs)
		ON CONFLICT DO NOTHING`

// chunkProblemSeq numbers problems found while merging after those found
// while reading (a row has at most a few hundred of those).
const chunkProblemSeq = 10000

// problemsFlush is how many problems a chunk holds before writing them.
const problemsFlush = 5000

type chunkProblem struct {
	row                      int
	seq                      int
	severity, column, reason string
}

// flushProblems writes the problems held once there are at least n.
func flushProblems(ctx context.Context, tx pgx.Tx, orgID, importID string, problems *[]chunkProblem, n int) error {
	if len(*problems) < n || len(*problems) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queueChunkProblems(b, orgID, importID, *problems)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return interpretError(fmt.Errorf("write problems: %w", err), nil)
	}
	*problems = (*problems)[:0]
	return nil
}

// queueChunkProblems writes problems found while merging to the import's report.
func queueChunkProblems(b *pgx.Batch, orgID, importID string, problems []chunkProblem) {
	if len(problems) == 0 {
		return
	}
	n := len(problems)
	rows, seqs := make([]int32, n), make([]int16, n)
	sev, cols, reasons := make([]string, n), make([]string, n), make([]string, n)
	for i, p := range problems {
		rows[i], seqs[i], sev[i], cols[i], reasons[i] = int32(p.row), int16(p.seq), p.severity, p.column, p.reason
	}
	b.Queue(sqlInsertChunkProblems, orgID, importID, rows, seqs, sev, cols, reasons)
}
