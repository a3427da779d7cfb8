// Sending a chunk's batch of writes without regrowing pgx's write buffer (issue 24).

package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
)

// pgx's protocol writer (pgproto3.Frontend) drops its buffer after every
// flush above 1 KB, so a chunk's batch of writes (megabytes of array
// parameters) was encoded into a buffer regrown by appends from 1 KB, each
// step copying what it held: 1.0 s of a 1M-row import's Go samples.
// reserveWrite is a message of no bytes whose encoding grows that buffer
// to the batch's size first, through the exported Frontend.Send; the
// batch's messages then append in place. Nothing reaches the server.
type reserveWrite int

func (n reserveWrite) Encode(dst []byte) ([]byte, error) { return slices.Grow(dst, int(n)), nil }
func (reserveWrite) Decode([]byte) error                 { return errors.New("reserveWrite is never received") }
func (reserveWrite) Frontend()                           {}

// sendLargeBatch is tx.SendBatch(ctx, b).Close() with the connection's
// write buffer sized for the batch first. Should pgx flush before the
// batch (statements it prepares first), the room is dropped and the batch
// grows the buffer as before: slower, not different.
func sendLargeBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if c := tx.Conn(); c != nil && c.PgConn() != nil {
		c.PgConn().Frontend().Send(reserveWrite(batchWireBytes(b)))
	}
	return tx.SendBatch(ctx, b).Close()
}

// batchWireBytes is about what b's messages take on the wire: binary
// arrays, strings, and a margin for the rest (an under-estimate costs only
// some regrowth).
func batchWireBytes(b *pgx.Batch) int {
	n := 0
	for _, q := range b.QueuedQueries {
		n += 64 + len(q.SQL) // Bind, Describe, Execute framing; the SQL when not yet prepared
		for _, a := range q.Arguments {
			n += 4 // the parameter's length
			switch v := a.(type) {
			case []string:
				n += 20 + 4*len(v)
				for _, s := range v {
					n += len(s)
				}
			case []bool:
				n += 20 + 5*len(v)
			case []int64:
				n += 20 + 12*len(v)
			case []int32:
				n += 20 + 8*len(v)
			case []int:
				n += 20 + 12*len(v)
			case string:
				n += len(v)
			case []byte:
				n += len(v)
			default:
				n += 16
			}
		}
	}
	return n
}
