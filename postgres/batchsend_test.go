package postgres_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// chunkLikeArgs are a chunk's writes in shape: statements of many text[]
// parameters of thousands of strings, and the md5 of each statement's
// arrays joined as chunkLikeBatch's statements join them.
func chunkLikeArgs() (args [][]any, sums []string) {
	for q := range 6 {
		h := md5.New()
		stmt := make([]any, 12)
		for i := range stmt {
			col := make([]string, 4000)
			for j := range col {
				col[j] = "Ünïcode \"" + strconv.Itoa(j) + "\", O'Brien {" + strconv.Itoa(q*100+i) + "}"
			}
			stmt[i] = col
			h.Write([]byte(strings.Join(col, "|") + ";"))
		}
		args, sums = append(args, stmt), append(sums, hex.EncodeToString(h.Sum(nil)))
	}
	return args, sums
}

// chunkLikeBatch queues one statement per args' entry, each returning the
// md5 of its arrays as PostgreSQL received them into got.
func chunkLikeBatch(args [][]any, got []string) *pgx.Batch {
	b := &pgx.Batch{}
	for q, stmt := range args {
		parts := make([]string, len(stmt))
		for i := range stmt {
			parts[i] = fmt.Sprintf("array_to_string($%d::text[], '|') || ';'", i+1)
		}
		b.Queue(`SELECT md5(`+strings.Join(parts, " || ")+`)`, stmt...).QueryRow(func(row pgx.Row) error {
			return row.Scan(&got[q])
		})
	}
	return b
}

// A chunk's batch of writes reaches PostgreSQL intact when pgx's write
// buffer is sized for it first, and sizing it spares the buffer's regrowth:
// the batch allocates less than sent as it comes (the test fails if the
// reservation is dropped).
func TestLargeBatchIntactWithoutRegrowth(t *testing.T) {
	ctx := context.Background()
	s := postgrestest.New(t)
	args, want := chunkLikeArgs()
	send := func(large bool) (allocated uint64) {
		got := make([]string, len(args))
		b := chunkLikeBatch(args, got)
		tx, err := s.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		// Statements prepared once, as a chunk's are after the first.
		if err := tx.SendBatch(ctx, chunkLikeBatch(args, make([]string, len(args)))).Close(); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if large {
			err = postgres.SendLargeBatch(ctx, tx, b)
		} else {
			err = tx.SendBatch(ctx, b).Close()
		}
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("statement %d: PostgreSQL read md5 %s, sent %s", i, got[i], want[i])
			}
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	plain, large := send(false), send(true)
	for range 2 { // the least of three, against the test process's other allocations
		plain, large = min(plain, send(false)), min(large, send(true))
	}
	t.Logf("allocated while sending: %d KB plain, %d KB with the buffer sized first", plain>>10, large>>10)
	if float64(large) > 0.75*float64(plain) {
		t.Errorf("sending with the buffer sized first allocated %d KB, plainly %d KB: the buffer still regrows", large>>10, plain>>10)
	}
}

// BenchmarkChunkBatchSend: a chunk-shaped batch (6 statements of 12 text[]
// parameters of 4,000 strings, 10 MB) sent plainly and with the write
// buffer sized first. go-cpu-ms/op is this process's CPU time (user +
// system) per batch, without PostgreSQL's.
func BenchmarkChunkBatchSend(b *testing.B) {
	ctx := context.Background()
	s := postgrestest.New(b)
	args, _ := chunkLikeArgs()
	for _, large := range []bool{false, true} {
		name := "plain"
		if large {
			name = "sized"
		}
		b.Run(name, func(b *testing.B) {
			tx, err := s.Pool().Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback(ctx)
			got := make([]string, len(args))
			if err := tx.SendBatch(ctx, chunkLikeBatch(args, got)).Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for range b.N {
				batch := chunkLikeBatch(args, got)
				if large {
					err = postgres.SendLargeBatch(ctx, tx, batch)
				} else {
					err = tx.SendBatch(ctx, batch).Close()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e6, "go-cpu-ms/op")
		})
	}
}

// processCPU is this process's user + system CPU time, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
