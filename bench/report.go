package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type report struct {
	Started   time.Time     `json:"started"`
	Finished  time.Time     `json:"finished"`
	Config    reportConfig  `json:"config"`
	Load      *loadStats    `json:"load,omitempty"`
	Rows      []row         `json:"results"`
	Breakdown []step        `json:"upsert_breakdown,omitempty"`
	Baselines []string      `json:"baselines"`
	Notes     []string      `json:"notes,omitempty"`
	PeakRSSMB float64       `json:"peak_rss_mb"`
	Fuzzy     *fuzzyReport  `json:"fuzzy,omitempty"`
	Import    *importReport `json:"import,omitempty"`
}

// noteNoise reports how much of the box other processes used while we
// measured: on a shared machine it explains most of the run-to-run spread.
func (rep *report) noteNoise() {
	var sum, peak float64
	n := 0
	for _, r := range rep.Rows {
		for _, c := range []*cpuPerReq{r.API.CPU, r.Baseline.CPU} {
			if c != nil {
				sum += c.OthersCores
				peak = max(peak, c.OthersCores)
				n++
			}
		}
	}
	if n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("other processes on the box used %.2f cores on average (at most %.2f) "+
			"of the %d while we measured; API and baseline were measured interleaved in ~2 s slices so both saw the same load",
			sum/float64(n), peak, rep.Config.CPUs))
	}
}

type reportConfig struct {
	Customers         int      `json:"customers"`
	Duration          string   `json:"duration"`
	Warmup            string   `json:"warmup"`
	Runs              int      `json:"runs"`
	Seed              uint64   `json:"seed"`
	Suites            []string `json:"suites"`
	DBMaxConns        int      `json:"db_max_conns"`
	WorkerConcurrency int      `json:"worker_concurrency"`
	CPUs              int      `json:"cpus"`
	GoVersion         string   `json:"go_version"`
	Postgres          string   `json:"postgres"` // the settings that matter most
}

// row is one workload at one concurrency: the API and its baseline.
type row struct {
	Suite    string    `json:"suite"`
	Name     string    `json:"name"`
	Clients  int       `json:"clients"`
	Mode     string    `json:"mode,omitempty"`
	API      stats     `json:"api"`
	Baseline stats     `json:"baseline"`
	Ratio    ratios    `json:"ratio"`
	Target   *target   `json:"target,omitempty"`
	Runs     []runPair `json:"runs,omitempty"` // every run when the figures are medians
}

// ratios are API ÷ baseline.
type ratios struct {
	RPS float64 `json:"req_per_second"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

type runPair struct {
	API      stats `json:"api"`
	Baseline stats `json:"baseline"`
}

type target struct {
	Text string `json:"text"`
	Pass bool   `json:"pass"`
}

func newRow(suite, name string, clients int, api, base stats) row {
	r := row{Suite: suite, Name: name, Clients: clients, API: api, Baseline: base}
	r.Ratio = ratios{RPS: div(api.RPS, base.RPS), P50: div(api.P50, base.P50), P99: div(api.P99, base.P99)}
	return r
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r row) brief() string {
	return fmt.Sprintf("API %7.0f req/s p50 %6.2f p99 %7.2f ms | SQL %7.0f req/s p50 %6.2f p99 %7.2f ms | %.2f× rate%s",
		r.API.RPS, r.API.P50, r.API.P99, r.Baseline.RPS, r.Baseline.P50, r.Baseline.P99, r.Ratio.RPS, r.targetText())
}

func (r row) targetText() string {
	if r.Target == nil {
		return ""
	}
	v := "FAIL"
	if r.Target.Pass {
		v = "PASS"
	}
	return "  " + r.Target.Text + " " + v
}

// step is one stage of the upsert path timed alone (1 client, sequential).
type step struct {
	Name string  `json:"name"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	N    int     `json:"n"`
	// CPU per call: this process (idle worker polling included) and the
	// benchmark database's backends.
	GoCPU float64 `json:"go_cpu_us,omitempty"`
	PGCPU float64 `json:"pg_cpu_us,omitempty"`
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nLinkit benchmarks — %d customers, %s per measurement (+%s warm-up), seed %d, %d CPUs, %s\n",
		rep.Config.Customers, rep.Config.Duration, rep.Config.Warmup, rep.Config.Seed, rep.Config.CPUs, rep.Config.GoVersion)
	fmt.Fprintf(w, "PostgreSQL: %s\n", rep.Config.Postgres)
	fmt.Fprintln(w, "Every API figure is followed by the same-run SQL baseline and the ratio API ÷ SQL.")
	fmt.Fprintln(w, "Figures vary ±25% between runs on this shared 2-core machine; compare within one run.")
	if l := rep.Load; l != nil {
		fmt.Fprintf(w, "\nload  %s customers + %s identities: %s customers/s vs raw COPY %s rows/s = %.3f×\n",
			thousands(float64(l.Customers)), thousands(float64(l.Identities)), thousands(l.LoadPerSec), thousands(l.RawRowsPerSec), l.Ratio)
		fmt.Fprintf(w, "      (COPY both tables %.1f s, rebuild %d secondary indexes %.1f s; then VACUUM ANALYZE + CHECKPOINT %.1f s, not counted; customers %.0f MB)\n",
			l.CopySeconds, l.RebuiltIndexes, l.IndexSeconds, l.AnalyzeSeconds, l.CustomersSizeMB)
	}
	header := fmt.Sprintf("%-36s %4s │ %8s %8s %6s │ %7s %7s %6s │ %7s %7s %6s │ %s",
		"workload", "cl", "API r/s", "SQL r/s", "ratio", "API p50", "SQL p50", "ratio", "API p99", "SQL p99", "ratio", "target")
	suite := ""
	for _, r := range rep.Rows {
		if r.Suite != suite {
			suite = r.Suite
			fmt.Fprintf(w, "\n[%s]\n%s\n%s\n", suite, header, strings.Repeat("─", len([]rune(header))))
		}
		name := r.Name
		if r.Mode != "" {
			name += " " + r.Mode
		}
		fmt.Fprintf(w, "%-36s %4d │ %8s %8s %5.2f× │ %7.2f %7.2f %5.1f× │ %7.2f %7.2f %5.1f× │%s\n",
			trunc(name, 36), r.Clients, thousands(r.API.RPS), thousands(r.Baseline.RPS), r.Ratio.RPS,
			r.API.P50, r.Baseline.P50, r.Ratio.P50, r.API.P99, r.Baseline.P99, r.Ratio.P99, r.targetText())
	}
	var cpuRows []row
	for _, r := range rep.Rows {
		if r.API.CPU != nil {
			cpuRows = append(cpuRows, r)
		}
	}
	if len(cpuRows) > 0 {
		fmt.Fprintln(w, "\nWhere the CPU went: µs per request in this process (go: server, worker and load generator), the bench")
		fmt.Fprintln(w, "database's PostgreSQL backends (pg) and redis-server; \"others\" is what the rest of the box used meanwhile, in cores")
		fmt.Fprintf(w, "%-36s %4s │ %6s %6s %6s %6s │ %6s %6s %6s %6s\n", "workload", "cl",
			"API go", "pg", "redis", "others", "SQL go", "pg", "redis", "others")
		for _, r := range cpuRows {
			b := r.Baseline.CPU
			if b == nil {
				b = &cpuPerReq{}
			}
			a := r.API.CPU
			fmt.Fprintf(w, "%-36s %4d │ %6.0f %6.0f %6.0f %6.2f │ %6.0f %6.0f %6.0f %6.2f\n",
				trunc(strings.TrimSpace(r.Name+" "+r.Mode), 36), r.Clients, a.Go, a.Postgres, a.Redis, a.OthersCores,
				b.Go, b.Postgres, b.Redis, b.OthersCores)
		}
	}
	if len(rep.Breakdown) > 0 {
		fmt.Fprintln(w, "\nUpsert path, stage by stage (1 client, sequential with pauses, idle queue; CPU µs per call)")
		fmt.Fprintf(w, "  %-66s %8s %8s %7s %7s\n", "stage", "p50 ms", "p99 ms", "go µs", "pg µs")
		for _, s := range rep.Breakdown {
			if s.N == 0 {
				fmt.Fprintf(w, "  %-66s %8.2f\n", s.Name, s.P50)
				continue
			}
			fmt.Fprintf(w, "  %-66s %8.2f %8.2f %7.0f %7.0f\n", s.Name, s.P50, s.P99, s.GoCPU, s.PGCPU)
		}
	}
	var pass, fail int
	for _, r := range rep.Rows {
		if r.Target != nil {
			if r.Target.Pass {
				pass++
			} else {
				fail++
			}
		}
	}
	if rep.Fuzzy != nil {
		rep.Fuzzy.print(w)
	}
	fmt.Fprintf(w, "\nTargets: %d PASS, %d FAIL.  Peak RSS of the bench process: %.0f MB\n", pass, fail, rep.PeakRSSMB)
	fmt.Fprintln(w, "\nBaselines:")
	for _, b := range rep.Baselines {
		fmt.Fprintln(w, "  -", b)
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range rep.Notes {
			fmt.Fprintln(w, "  -", n)
		}
	}
}

func (rep *report) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func trunc(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// thousands formats a rate with thousands separators.
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
