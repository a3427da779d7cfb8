package importer

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/linkitworks/customers/customer"
)

// Stager is the store's side of staging: two streaming COPYs, and the
// size of the chunks the merge takes rows in.
type Stager interface {
	StageRows(ctx context.Context, orgID, importID string, next func() (*customer.ImportRow, error)) (int64, error)
	StageProblems(ctx context.Context, orgID, importID string, next func() (*customer.ImportProblem, error)) (int64, error)
	ChunkLimits() (rows, bytes int)
}

// chunker cuts a file, in file order, into the natural chunks of its
// merge: a chunk holds the rows numbered within one multiple of rows, and
// fewer when their values reach bytes — a merge holds a chunk's rows in
// memory, and a file of fat rows must not make that gigabytes.
type chunker struct {
	rows, bytes int
	id, bucket  int
	size        int
	starts      []int // row number of each chunk's first row
}

// next sets the row's chunk and size (the bytes of its values).
func (c *chunker) next(row *Row) {
	for _, s := range row.Raw {
		row.size += len(s)
	}
	b := row.Num / c.rows
	if c.starts == nil || b != c.bucket || c.size+row.size > c.bytes {
		if c.starts != nil {
			c.id++
		}
		c.bucket, c.size = b, 0
		c.starts = append(c.starts, row.Num)
	}
	c.size += row.size
	row.chunk = c.id
}

// Staged reports what reading a file produced.
type Staged struct {
	Rows     int // data rows read (errors included)
	Staged   int // rows waiting to be merged
	Invalid  int // rows with an error (not imported)
	Warnings int // rows imported with a dropped field
	// ChunkStarts holds the row number where each natural chunk starts
	// (chunk = index): ImportRow.Chunk of the rows staged.
	ChunkStarts []int
}

// A batch of rows travels together between the pipeline stages: up to
// batchRows rows, fewer when they hold more than batchBytes, so the rows in
// flight stay a few megabytes whatever the rows' size.
const (
	batchRows  = 256
	batchBytes = 1 << 20
)

// Stage streams every row of rd through normalization into the store:
// one goroutine reads, workers normalize in parallel (phone parsing is the
// expensive step), and two COPY streams take staged rows and problems.
// Memory stays bounded by the channel capacities whatever the file size.
func Stage(ctx context.Context, rd *Reader, norm *Normalizer, st Stager, orgID, importID string) (Staged, error) {
	workers := max(1, runtime.GOMAXPROCS(0))
	g, ctx := errgroup.WithContext(ctx)
	raw := make(chan []Row, workers*2)
	staged := make(chan []customer.ImportRow, workers*2)
	problems := make(chan []customer.ImportProblem, workers*2)
	var rows, invalid, warnings, stagedN atomic.Int64
	chunkRows, chunkBytes := st.ChunkLimits()
	chunks := &chunker{rows: max(1, chunkRows), bytes: max(1, chunkBytes)}

	var readErr error // the file's own failure, set before the group's ends
	g.Go(func() error {
		defer close(raw)
		batch := make([]Row, 0, batchRows)
		size := 0
		for {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				readErr = err
				return err
			}
			rows.Add(1)
			chunks.next(&row)
			size += row.size
			batch = append(batch, row)
			if len(batch) == batchRows || size >= batchBytes {
				select {
				case raw <- batch:
				case <-ctx.Done():
					return ctx.Err()
				}
				batch, size = make([]Row, 0, batchRows), 0
			}
		}
		if len(batch) > 0 {
			select {
			case raw <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})

	var normalizers errgroup.Group
	for range workers {
		normalizers.Go(func() error {
			for batch := range raw {
				out := make([]customer.ImportRow, 0, len(batch))
				var probs []customer.ImportProblem
				for _, row := range batch {
					r, p, ok := norm.Normalize(row)
					r.Chunk, r.Bytes = row.chunk, row.size
					if ok {
						out = append(out, r)
					} else {
						invalid.Add(1)
					}
					if ok && len(p) > 0 {
						warnings.Add(1)
					}
					probs = append(probs, p...)
				}
				stagedN.Add(int64(len(out)))
				select {
				case staged <- out:
				case <-ctx.Done():
					return ctx.Err()
				}
				if len(probs) > 0 {
					select {
					case problems <- probs:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		err := normalizers.Wait()
		close(staged)
		close(problems)
		return err
	})

	g.Go(func() error {
		var cur []customer.ImportRow
		_, err := st.StageRows(ctx, orgID, importID, func() (*customer.ImportRow, error) {
			for len(cur) == 0 {
				batch, ok := <-staged
				if !ok {
					return nil, io.EOF
				}
				cur = batch
			}
			r := &cur[0]
			cur = cur[1:]
			return r, nil
		})
		return err
	})
	g.Go(func() error {
		var cur []customer.ImportProblem
		_, err := st.StageProblems(ctx, orgID, importID, func() (*customer.ImportProblem, error) {
			for len(cur) == 0 {
				batch, ok := <-problems
				if !ok {
					return nil, io.EOF
				}
				cur = batch
			}
			p := &cur[0]
			cur = cur[1:]
			return p, nil
		})
		return err
	})
	err := g.Wait()
	if readErr != nil {
		// The file's failure is the cause: a failing request body also
		// cancels the request (net/http), and with it the COPYs, whose
		// errors may come first.
		err = readErr
	}
	return Staged{Rows: int(rows.Load()), Staged: int(stagedN.Load()), Invalid: int(invalid.Load()), Warnings: int(warnings.Load()),
		ChunkStarts: chunks.starts}, err
}
