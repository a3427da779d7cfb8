package postgres

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/linkitworks/customers/dedupe"
)

// A scan's pairs are expanded from its blocks and compared by a bounded
// pool of goroutines: comparing (Jaro-Winkler, edit distances) is the Go
// side's whole cost, and one goroutine left the second core to PostgreSQL
// alone. Memory is a few batches in flight, whatever the organization.
const fuzzyPairBatch = 512

// fuzzyWorkers is the size of the pool comparing a scan's pairs.
func fuzzyWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

// parallelPairs calls fn for each candidate pair (a sample of 1 in mod)
// from fuzzyWorkers goroutines; fn's first argument is the goroutine's
// index, for state of its own. The first error stops the stream.
func parallelPairs(ctx context.Context, recs *fuzzyRecords, blocks *fuzzyBlocks, mod int, fn func(w int, a, b *dedupe.FuzzyRecord) error) error {
	workers := fuzzyWorkers()
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan [][2]int32, workers)
	free := make(chan [][2]int32, workers+2)
	g.Go(func() error {
		defer close(batches)
		batch := make([][2]int32, 0, fuzzyPairBatch)
		send := func() error {
			select {
			case batches <- batch:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case batch = <-free:
				batch = batch[:0]
			default:
				batch = make([][2]int32, 0, fuzzyPairBatch)
			}
			return nil
		}
		err := blocks.pairs(recs, mod, func(a, b int32) error {
			batch = append(batch, [2]int32{a, b})
			if len(batch) == fuzzyPairBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		return err
	})
	for w := range workers {
		g.Go(func() error {
			for batch := range batches {
				for _, p := range batch {
					a, b := recs.record(p[0]), recs.record(p[1])
					if err := fn(w, &a, &b); err != nil {
						return err
					}
				}
				select {
				case free <- batch:
				default:
				}
			}
			return nil
		})
	}
	return g.Wait()
}
