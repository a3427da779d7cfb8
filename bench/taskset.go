package main

// -import-cpus: the same import on fewer cores (issue 24: "the same import
// with taskset on 1 core vs 2 cores, to show how it scales with cores").

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sys/unix"

	"github.com/linkitworks/customers/customer"
)

// cpuRun is the import on one CPU count.
type cpuRun struct {
	CPUs       int     `json:"cpus"`
	Set        string  `json:"cpu_set,omitempty"` // the CPUs pinned to, as taskset lists them
	Seconds    float64 `json:"seconds,omitempty"`
	RowsPerSec float64 `json:"rows_per_second,omitempty"`
	PeakRSSMB  float64 `json:"peak_rss_mb,omitempty"`
	// CPU is µs per row of this process, the copy's backends and the rest
	// of the machine (others: cores, all CPUs, pinned or not).
	CPU     *cpuPerReq `json:"cpu,omitempty"`
	Skipped string     `json:"skipped,omitempty"` // why it did not run
}

// cpuCounts parses -import-cpus: CPU counts between 1 and available, each
// once ("" is none).
func cpuCounts(s string, available int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	ns, err := intList(s)
	if err != nil {
		return nil, err
	}
	for i, n := range ns {
		if n > available {
			return nil, fmt.Errorf("%d CPUs asked, %d available", n, available)
		}
		if slices.Contains(ns[:i], n) {
			return nil, fmt.Errorf("%d listed twice", n)
		}
	}
	return ns, nil
}

// firstCPUs is the first n CPUs of allowed.
func firstCPUs(allowed unix.CPUSet, n int) (unix.CPUSet, string) {
	var set unix.CPUSet
	var names []string
	for cpu := 0; cpu < 1024 && len(names) < n; cpu++ {
		if allowed.IsSet(cpu) {
			set.Set(cpu)
			names = append(names, strconv.Itoa(cpu))
		}
	}
	return set, strings.Join(names, ",")
}

// pinning is the CPU affinity of the processes and threads it changed, to
// restore.
type pinning struct {
	saved      map[int]unix.CPUSet
	postmaster int
	pmMask     unix.CPUSet
	selfMask   unix.CPUSet
}

// pinTo pins every thread of this process and the PostgreSQL server (its
// postmaster, so that new backends inherit the set, and every process it
// started) to set. backendPID is any backend of the server. On an error
// nothing stays pinned.
func pinTo(set unix.CPUSet, backendPID int) (*pinning, error) {
	p := &pinning{saved: map[int]unix.CPUSet{}}
	pm, err := parentPID(backendPID)
	if err != nil {
		return nil, fmt.Errorf("find the postmaster: %w", err)
	}
	p.postmaster = pm
	if err := unix.SchedGetaffinity(pm, &p.pmMask); err != nil {
		return nil, fmt.Errorf("read the postmaster's CPUs: %w", err)
	}
	if err := unix.SchedGetaffinity(0, &p.selfMask); err != nil {
		return nil, fmt.Errorf("read this process's CPUs: %w", err)
	}
	pids := append([]int{pm}, childrenOf(pm)...)
	pids = append(pids, threadsOfSelf()...)
	for _, pid := range pids {
		var old unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &old); err != nil {
			continue // gone meanwhile
		}
		if err := unix.SchedSetaffinity(pid, &set); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			p.restore()
			return nil, fmt.Errorf("pin pid %d: %w", pid, err)
		}
		p.saved[pid] = old
	}
	return p, nil
}

// restore gives back what pinTo changed, and their first mask to the
// backends and threads started meanwhile (they inherited the pinned set).
func (p *pinning) restore() {
	for pid, old := range p.saved {
		_ = unix.SchedSetaffinity(pid, &old)
	}
	for _, pid := range childrenOf(p.postmaster) {
		if _, ok := p.saved[pid]; !ok {
			_ = unix.SchedSetaffinity(pid, &p.pmMask)
		}
	}
	for _, tid := range threadsOfSelf() {
		if _, ok := p.saved[tid]; !ok {
			_ = unix.SchedSetaffinity(tid, &p.selfMask)
		}
	}
}

// parentPID reads a process's parent from /proc/<pid>/stat.
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat unreadable", pid)
	}
	return strconv.Atoi(f[1])
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		c, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if pp, err := parentPID(c); err == nil && pp == pid {
			out = append(out, c)
		}
	}
	return out
}

// threadsOfSelf lists this process's threads (Go starts more later: they
// inherit the mask of the thread that starts them).
func threadsOfSelf() []int {
	dirs, _ := filepath.Glob("/proc/self/task/[0-9]*")
	var out []int
	for _, d := range dirs {
		if t, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, t)
		}
	}
	return out
}

const baseCPUText = "import on N CPUs (-import-cpus): the same file imported by the service on a fresh copy of the " +
	"loaded database, with this process (API, worker, client) and the PostgreSQL server (postmaster, its processes " +
	"and so every new backend) pinned to the first N CPUs; redis-server is not pinned. Rows/s over the same span as " +
	"the import suite's (upload to searchable); the ratio is most CPUs ÷ fewest"

// cpuScaling imports the file once per -import-cpus count, each on a fresh
// copy of the snapshot with its own service (queues of their own), pinned.
func cpuScaling(ctx context.Context, cfg config, st *stack, snap *snapshot, file string, rep *report, logf func(string, ...any)) error {
	if snap == nil {
		return errors.New("-import-cpus needs a snapshot of the loaded database")
	}
	rep.Baselines = append(rep.Baselines, baseCPUText)
	// The suite's worker would go on scoring the suite's import's new
	// customers as fuzzy duplicates beside the pinned runs; a later suite
	// starts it again.
	if st.workerStarted {
		if err := st.StopWorker(); err != nil {
			return err
		}
		st.workerStarted = false
	}
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		note := "import on fewer CPUs skipped: cannot read this process's CPUs: " + err.Error()
		logf("import: %s", note)
		rep.Notes = append(rep.Notes, note)
		return nil
	}
	for _, n := range cfg.importCPUs {
		run, err := importOnCPUs(ctx, cfg, st.apiKey, snap, file, allowed, n, logf)
		if err != nil {
			return fmt.Errorf("import on %d CPUs: %w", n, err)
		}
		rep.Import.CPUScaling = append(rep.Import.CPUScaling, run)
		if run.Skipped != "" {
			note := fmt.Sprintf("import on %d CPUs skipped: %s", n, run.Skipped)
			logf("import: %s", note)
			rep.Notes = append(rep.Notes, note)
			continue
		}
		logf("import: on %d CPUs (%s): %.1f s = %s rows/s, peak RSS %.0f MB; CPU µs per row: go %.0f, postgres %.0f, others %.2f cores",
			n, run.Set, run.Seconds, thousands(run.RowsPerSec), run.PeakRSSMB, run.CPU.Go, run.CPU.Postgres, run.CPU.OthersCores)
	}
	ratio, text := scalingRatio(rep.Import.CPUScaling)
	rep.Import.ScalingRatio = ratio
	if text != "" {
		logf("import: %s", text)
		rep.Notes = append(rep.Notes, "import: "+text)
	}
	return nil
}

// scalingRatio is rows/s on the most CPUs ÷ on the fewest, of the runs that ran.
func scalingRatio(runs []cpuRun) (float64, string) {
	var lo, hi *cpuRun
	var parts []string
	for i := range runs {
		r := &runs[i]
		if r.Skipped != "" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d CPUs %s rows/s (%.1f s)", r.CPUs, thousands(r.RowsPerSec), r.Seconds))
		if lo == nil || r.CPUs < lo.CPUs {
			lo = r
		}
		if hi == nil || r.CPUs > hi.CPUs {
			hi = r
		}
	}
	if lo == nil || lo == hi {
		return 0, strings.Join(parts, ", ")
	}
	ratio := hi.RowsPerSec / lo.RowsPerSec
	return ratio, fmt.Sprintf("pinned: %s; %d CPUs ÷ %d CPUs = %.2f×", strings.Join(parts, ", "), hi.CPUs, lo.CPUs, ratio)
}

// importOnCPUs runs one pinned import on a fresh copy.
func importOnCPUs(ctx context.Context, cfg config, apiKey string, snap *snapshot, file string, allowed unix.CPUSet, n int,
	logf func(string, ...any)) (cpuRun, error) {
	set, names := firstCPUs(allowed, n)
	run := cpuRun{CPUs: n, Set: names}
	if set.Count() < n {
		run.Skipped = fmt.Sprintf("only %d CPUs allowed to this process", allowed.Count())
		return run, nil
	}
	name, dbURL, err := snap.copy(ctx, fmt.Sprintf("cpu%d", n))
	if err != nil {
		return run, err
	}
	defer func() {
		if err := dropDatabase(ctx, snap.url, name); err != nil {
			logf("import: %v", err)
		}
	}()
	c := cfg
	c.databaseURL = dbURL
	st, err := startStack(ctx, c, apiKey, fmt.Sprintf("bench_cpu%d", n))
	if err != nil {
		return run, err
	}
	defer st.close()
	st.startWorker()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return run, err
	}
	defer pool.Close()
	var backend int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return run, err
	}
	pin, err := pinTo(set, backend)
	if err != nil {
		run.Skipped = err.Error()
		return run, nil
	}
	defer pin.restore()
	logf("import: on %d CPUs (%s), database %s", n, names, name)
	prev := dbName // the copy's backends are the ones to count
	dbName = name
	defer func() { dbName = prev }()
	resetPeakRSS()
	cpu0 := takeCPUSnapshot()
	start := time.Now()
	id, err := st.uploadImport(ctx, file)
	if err != nil {
		return run, err
	}
	im, err := st.waitImport(ctx, id, logf)
	if err != nil {
		return run, err
	}
	if im.Status != customer.ImportCompleted {
		return run, fmt.Errorf("import %s ended %s: %s", id, im.Status, im.Error)
	}
	if _, err := pool.Exec(ctx, `SELECT gin_clean_pending_list('customers_search'::regclass)`); err != nil {
		return run, fmt.Errorf("flush the search index: %w", err)
	}
	run.Seconds = time.Since(start).Seconds()
	var d cpuDelta
	d.add(cpu0, takeCPUSnapshot())
	if run.CPU = d.perRequest(cfg.importRows); run.CPU == nil {
		run.CPU = &cpuPerReq{}
	}
	run.RowsPerSec = float64(cfg.importRows) / run.Seconds
	run.PeakRSSMB = peakRSSMB()
	return run, nil
}
