package postgres

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/linkitworks/customers/dedupe"
)

// A scan's pairs are expanded from its blocks and compared by a bounded
// pool of goroutines: comparing (Jaro-Winkler, edit distances) is the Go
// side's whole cost. Memory is a few batches in flight, whatever the
// organization.
const fuzzyPairBatch = 512

// fuzzyWorkers is the size of the pool comparing a scan's pairs: the
// store's setting, else all cores but one (a scan is background work: with
// every core comparing, searches right after a big import waited for one,
// issue 24), at least one.
func (s *Store) fuzzyWorkers() int {
	if s.opts.FuzzyScanWorkers > 0 {
		return s.opts.FuzzyScanWorkers
	}
	return max(1, runtime.GOMAXPROCS(0)-1)
}

// DefaultFuzzyScanNice is the nice value of a scan's comparing threads:
// the kernel then runs the API's threads and PostgreSQL's backends first
// when they want the cores, and the scan whenever they do not.
const DefaultFuzzyScanNice = 10

// fuzzyNice is the store's nice value for a scan's comparing threads.
func (s *Store) fuzzyNice() int {
	if s.opts.FuzzyScanNice == 0 {
		return DefaultFuzzyScanNice
	}
	return s.opts.FuzzyScanNice
}

// parallelPairs calls fn for each candidate pair of a pass (a sample of 1
// in mod) from workers goroutines, each on an OS thread of lowered priority
// (lowerThreadPriority: the box's interactive work goes first, an idle box
// still gives the scan its cores); fn's first argument is the goroutine's
// index, for state of its own. The first error stops the stream.
func parallelPairs(ctx context.Context, recs *fuzzyRecords, blocks *fuzzyBlocks, mod, workers, nice int, fn func(w int, a, b *dedupe.FuzzyRecord) error) error {
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
			// The thread is never unlocked: it ends with the goroutine
			// rather than serve others at its priority.
			runtime.LockOSThread()
			lowerThreadPriority(nice)
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

// fuzzyScanner runs a scan's passes: each pass's records read into the
// same buffers, its blocks built, its pairs compared.
type fuzzyScanner struct {
	s       *Store
	orgID   string
	workers int
	nice    int
	plan    *fuzzyPlan
	recs    fuzzyRecords
	blocks  fuzzyBlocks
	scratch []fuzzyMember
	loaded  int // the pass in the buffers, +1 (0: none)
	// progress, when set, is told of each pass as its pairs start.
	progress func(pass, passes int)
	// yield is called after each pass's read (FuzzyScanOptions.Yield).
	yield func(spent time.Duration) error
	// Seconds spent reading passes and building their blocks: all, and
	// those of the model's estimate.
	loadSeconds, estimateLoads float64
}

// each calls fn for every candidate pair (a sample of 1 in mod), pass by
// pass; a single pass is read once for the estimate and the scoring.
func (sc *fuzzyScanner) each(ctx context.Context, mod int, fn func(w int, a, b *dedupe.FuzzyRecord) error) error {
	for i, r := range sc.plan.passes {
		if sc.loaded != i+1 {
			start := time.Now()
			if err := sc.s.loadFuzzyPass(ctx, sc.orgID, r, sc.plan.oversize, &sc.recs); err != nil {
				return err
			}
			sc.scratch = buildBlocks(&sc.recs, r.lo, &sc.blocks, sc.scratch)
			sc.loaded = i + 1
			spent := time.Since(start)
			sc.loadSeconds += spent.Seconds()
			if sc.yield != nil {
				if err := sc.yield(spent); err != nil {
					return err
				}
			}
		}
		if sc.progress != nil {
			sc.progress(i, len(sc.plan.passes))
		}
		if err := parallelPairs(ctx, &sc.recs, &sc.blocks, mod, sc.workers, sc.nice, fn); err != nil {
			return err
		}
	}
	return nil
}
