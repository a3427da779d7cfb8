package postgrestest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/linkitworks/customers/postgres"
)

// HeldScans is two duplicate scans of one organization started together:
// the first stops in its first pass until Release, the second notes whether
// it compared pairs before then (it should wait for the first).
type HeldScans struct {
	Release     func() // lets the first scan go on (idempotent)
	released    atomic.Bool
	secondEarly atomic.Bool
	errs        chan error
}

// StartHeldScans starts both scans and returns once the first holds in its
// first pass and the second has been started. A test that fails early
// still releases the first scan.
func StartHeldScans(t *testing.T, st *postgres.Store, orgID string) *HeldScans {
	t.Helper()
	ctx := context.Background()
	h := &HeldScans{errs: make(chan error, 2)}
	inFirst, releaseFirst := make(chan struct{}), make(chan struct{})
	h.Release = sync.OnceFunc(func() { h.released.Store(true); close(releaseFirst) })
	t.Cleanup(h.Release)
	go func() {
		_, err := st.ScanFuzzy(ctx, orgID, postgres.FuzzyScanOptions{KeepModel: true, Progress: func(pass, _ int) {
			if pass == 0 {
				close(inFirst)
				<-releaseFirst
			}
		}})
		h.errs <- err
	}()
	<-inFirst
	second := make(chan struct{})
	go func() {
		close(second)
		_, err := st.ScanFuzzy(ctx, orgID, postgres.FuzzyScanOptions{KeepModel: true, Progress: func(int, int) {
			if !h.released.Load() {
				h.secondEarly.Store(true)
			}
		}})
		h.errs <- err
	}()
	<-second
	return h
}

// SecondEarly reports whether the second scan compared pairs while the
// first held the organization.
func (h *HeldScans) SecondEarly() bool { return h.secondEarly.Load() }

// Finish releases the first scan and fails the test if either scan failed
// or the second ran before the release.
func (h *HeldScans) Finish(t *testing.T) {
	t.Helper()
	h.Release()
	for range 2 {
		if err := <-h.errs; err != nil {
			t.Fatal(err)
		}
	}
	if h.SecondEarly() {
		t.Fatal("the second scan compared pairs while the first held the organization")
	}
}
