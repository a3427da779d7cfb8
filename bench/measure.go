package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// op is one request of a workload. It returns ok=false for an error or an
// unexpected answer (counted, and its latency still recorded).
type op func(ctx context.Context, rng *rand.Rand) (ok bool)

// window says how long to load: warm-up (not recorded), then the measured
// duration. pause > 0 makes each client wait that long between requests.
type window struct {
	warmup, duration, pause time.Duration
	maxRequests             int // per client, 0 = unbounded
}

// stats summarize one measurement.
type stats struct {
	Requests int        `json:"requests"`
	Failed   int        `json:"failed"`
	RPS      float64    `json:"req_per_second"`
	P50      float64    `json:"p50_ms"`
	P90      float64    `json:"p90_ms"`
	P99      float64    `json:"p99_ms"`
	Max      float64    `json:"max_ms"`
	CPU      *cpuPerReq `json:"cpu_us_per_request,omitempty"`
}

// slice is the raw outcome of one loaded window.
type slice struct {
	lat        []time.Duration
	failed     int
	elapsed    time.Duration
	cpu0, cpu1 cpuSnapshot
}

// runSlice runs clients closed-loop copies of o and keeps the requests that
// completed inside the measured window. Client goroutines carry the pprof
// label side=client, so a profile tells the load generator from the server.
func runSlice(ctx context.Context, clients int, w window, seed uint64, o op) slice {
	start := time.Now()
	from := start.Add(w.warmup)
	until := from.Add(w.duration)
	lat := make([][]time.Duration, clients)
	failed := make([]int, clients)
	// CPU is sampled at the window's edges (or when the clients finish).
	var s slice
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		select {
		case <-time.After(time.Until(from)):
		case <-done:
			return
		}
		s.cpu0 = takeCPUSnapshot()
		select {
		case <-time.After(time.Until(until)):
		case <-done:
		}
		s.cpu1 = takeCPUSnapshot()
	}()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
				rng := rand.New(rand.NewPCG(seed, uint64(c)))
				for n := 0; w.maxRequests == 0 || n < w.maxRequests; n++ {
					t0 := time.Now()
					if t0.After(until) || ctx.Err() != nil {
						return
					}
					ok := o(ctx, rng)
					t1 := time.Now()
					if !t0.Before(from) && !t1.After(until) {
						lat[c] = append(lat[c], t1.Sub(t0))
						if !ok {
							failed[c]++
						}
					}
					if w.pause > 0 {
						time.Sleep(w.pause)
					}
				}
			})
		})
	}
	wg.Wait()
	end := time.Now()
	close(done)
	<-sampled
	for c := range clients {
		s.lat = append(s.lat, lat[c]...)
		s.failed += failed[c]
	}
	s.elapsed = until.Sub(from)
	if end.Before(until) {
		s.elapsed = max(end.Sub(from), 0)
	}
	return s
}

// summarize merges slices into one measurement.
func summarize(ss []slice) stats {
	var all []time.Duration
	var st stats
	var elapsed time.Duration
	var cpu cpuDelta
	for _, s := range ss {
		all = append(all, s.lat...)
		st.Failed += s.failed
		elapsed += s.elapsed
		if !s.cpu0.at.IsZero() && !s.cpu1.at.IsZero() {
			cpu.add(s.cpu0, s.cpu1)
		}
	}
	st.Requests = len(all)
	if elapsed > 0 {
		st.RPS = float64(st.Requests) / elapsed.Seconds()
	}
	if len(all) > 0 {
		slices.Sort(all)
		q := func(p float64) float64 {
			i := int(p*float64(len(all))+0.5) - 1
			return ms(all[min(max(i, 0), len(all)-1)])
		}
		st.P50, st.P90, st.P99, st.Max = q(0.50), q(0.90), q(0.99), ms(all[len(all)-1])
		st.CPU = cpu.perRequest(st.Requests)
	}
	return st
}

// measure runs one workload for the window.
func measure(ctx context.Context, clients int, w window, seed uint64, o op) stats {
	return summarize([]slice{runSlice(ctx, clients, w, seed, o)})
}

// measurePair measures a workload (a) and its baseline (b) interleaved in
// slices of about two seconds, with the same draws, so the background load
// of a shared machine falls on both alike. Each slice but the first warms
// up briefly (connections and caches are warm by then).
func measurePair(ctx context.Context, clients int, w window, seed uint64, a, b op) (stats, stats) {
	rounds := max(1, int(w.duration/(2*time.Second)))
	var sa, sb []slice
	for i := range rounds {
		sw := window{warmup: 250 * time.Millisecond, duration: w.duration / time.Duration(rounds), pause: w.pause}
		if i == 0 {
			sw.warmup = w.warmup
		}
		sd := seed + uint64(i)*7919
		sa = append(sa, runSlice(ctx, clients, sw, sd, a))
		sb = append(sb, runSlice(ctx, clients, sw, sd, b))
	}
	return summarize(sa), summarize(sb)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// CPU accounting: where the machine's CPU went while a measurement ran,
// split into this process (server and load generator), the PostgreSQL
// backends of the benchmark database, redis-server, and everything else
// (other processes on the box, PostgreSQL's shared writers, the kernel).

var clockTick = 100.0 // USER_HZ; Linux uses 100 everywhere that matters

// cpuSnapshot is cumulative CPU seconds at an instant.
type cpuSnapshot struct {
	at                                  time.Time
	self, pg, redis, machineBusy, total float64
	pgPids                              []string // /proc directories of the backends
}

// cpuPerReq is CPU microseconds per completed request.
type cpuPerReq struct {
	Go       float64 `json:"go_process"`
	Postgres float64 `json:"postgres_backends"`
	Redis    float64 `json:"redis"`
	Other    float64 `json:"other"`
	BusyPct  float64 `json:"machine_busy_percent"`
	// OthersCores is the CPU the rest of the box used meanwhile, in cores:
	// other people's work on a shared machine shows up here.
	OthersCores float64 `json:"others_cores"`
}

// dbName is the database whose backends count as "postgres".
var dbName = "linkit_bench"

func takeCPUSnapshot() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), self: selfCPU()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		var total, idle float64
		for i, v := range f[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			if i >= 8 { // guest time is already in user
				break
			}
			total += x
			if i == 3 || i == 4 { // idle, iowait
				idle += x
			}
		}
		s.machineBusy = (total - idle) / clockTick
		s.total = total / clockTick
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		isPG := bytes.HasPrefix(cmd, []byte("postgres: ")) && ownDatabase(cmd)
		isRedis := bytes.HasPrefix(cmd, []byte("redis-server"))
		if !isPG && !isRedis {
			continue
		}
		sec := procCPU(filepath.Join(filepath.Dir(p), "stat"))
		if isPG {
			s.pg += sec
			s.pgPids = append(s.pgPids, filepath.Dir(p))
		} else {
			s.redis += sec
		}
	}
	return s
}

// procCPU returns the CPU seconds of a process: /proc/<pid>/schedstat
// (nanoseconds on CPU) when the kernel has it, else stat (clock ticks).
func procCPU(statPath string) float64 {
	if b, err := os.ReadFile(statPath[:len(statPath)-len("stat")] + "schedstat"); err == nil {
		f, _, _ := strings.Cut(string(b), " ")
		if ns, err := strconv.ParseFloat(f, 64); err == nil {
			return ns / 1e9
		}
	}
	stat, err := os.ReadFile(statPath)
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: utime is the 12th.
	_, rest, ok := bytes.Cut(stat, []byte(") "))
	if !ok {
		return 0
	}
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTick
}

// selfCPU is this process's CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

// pgCPU sums the CPU seconds of known backend processes (cheap: no scan).
func pgCPU(procDirs []string) float64 {
	var sum float64
	for _, d := range procDirs {
		sum += procCPU(d + "/stat")
	}
	return sum
}

// ownDatabase reports whether a PostgreSQL process title names the
// benchmark database ("postgres: 15/main: user db host state", or
// "… autovacuum worker db").
func ownDatabase(title []byte) bool {
	title = bytes.TrimRight(title, "\x00 ")
	name := []byte(" " + dbName)
	for i := bytes.Index(title, name); i >= 0; {
		end := i + len(name)
		if end == len(title) || title[end] == ' ' || title[end] == 0 {
			return true
		}
		next := bytes.Index(title[end:], name)
		if next < 0 {
			break
		}
		i = end + next
	}
	return false
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// cpuDelta accumulates CPU seconds over measured windows.
type cpuDelta struct {
	self, pg, redis, busy, total, wall float64
}

func (d *cpuDelta) add(a, b cpuSnapshot) {
	d.self += b.self - a.self
	d.pg += b.pg - a.pg
	d.redis += b.redis - a.redis
	d.busy += b.machineBusy - a.machineBusy
	d.total += b.total - a.total
	d.wall += b.at.Sub(a.at).Seconds()
}

func (d cpuDelta) perRequest(requests int) *cpuPerReq {
	if requests == 0 || d.wall == 0 {
		return nil
	}
	per := func(sec float64) float64 { return max(sec, 0) * 1e6 / float64(requests) }
	others := max(d.busy-d.self-d.pg-d.redis, 0)
	out := &cpuPerReq{Go: per(d.self), Postgres: per(d.pg), Redis: per(d.redis), Other: per(others),
		OthersCores: others / d.wall}
	if d.total > 0 {
		out.BusyPct = 100 * d.busy / d.total
	}
	return out
}
