package postgres

import (
	"math"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
)

// A big file reads for minutes; the ETA shown while it merges must follow
// the merge's pace, not the whole run's.
func TestImportProgressETA(t *testing.T) {
	now := time.Now()
	started, readDone := now.Add(-10*time.Minute), now.Add(-60*time.Second)
	im := &customer.Import{Status: customer.ImportProcessing, Started: &started,
		Counts: customer.ImportCounts{Rows: 1_000_000, Processed: 300_000, Invalid: 10_000}}
	p, r, eta := progress(im, &readDone)
	if math.Abs(p-0.31) > 0.001 {
		t.Errorf("progress %.3f, want 0.31", p)
	}
	if math.Abs(r-5000) > 50 {
		t.Errorf("rate %.0f rows/s, want ~5000 (300,000 rows merged in 60 s)", r)
	}
	if eta == nil || math.Abs(*eta-138) > 2 {
		t.Fatalf("eta %v, want ~138 s (690,000 rows at 5,000/s)", eta)
	}

	finished := now
	im.Status, im.Finished, im.Counts.Processed = customer.ImportCompleted, &finished, 990_000
	p, r, eta = progress(im, &readDone)
	if p != 1 || eta != nil || math.Abs(r-1_000_000.0/600) > 5 {
		t.Fatalf("completed: progress %v, rate %.0f, eta %v; want 1, ~1667 rows/s over the whole run, none", p, r, eta)
	}
	im.Status = customer.ImportCancelled
	if _, _, eta = progress(im, &readDone); eta != nil {
		t.Fatalf("cancelled import has an ETA: %v", *eta)
	}
}
