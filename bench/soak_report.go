package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// soakInterval is one reported line.
type soakInterval struct {
	Elapsed         time.Duration
	Upserts, Reads  int
	UpsertRPS       float64
	ReadRPS         float64
	UpsertP50       float64 // ms
	UpsertP99       float64
	ReadP50         float64
	ReadP99         float64
	ImportsDone     int // completed so far
	Errors5xx       int
	Timeouts        int
	HostileN        int
	HostileBad      int
	RSSMB, HWMMB    float64 // VmRSS now, VmHWM (peak so far)
	HeapMB, PromRSS float64 // from /metrics
}

// soakSummary is the outcome of a soak.
type soakSummary struct {
	Duration                     time.Duration
	Upserts, Reads               int
	UpsertP50, UpsertP99         float64 // ms, whole run
	ReadP50, ReadP99             float64
	ReadKinds                    []string // "search 1234 p50 … p99 … ms"
	Errors5xx, Timeouts          int
	Unexpected                   int // other non-2xx answers to legitimate requests
	ImportsStarted               int
	ImportsCompleted             int
	ImportProblems               []string
	JobsAccepted, JobsIncomplete int
	Hostile                      map[string]*hostileCount
	HostileBad                   []string
	MaxRSSMB, PeakRSSMB          float64 // largest sampled VmRSS, VmHWM at the end
	FirstRSSMB, LastRSSMB        float64 // RSS of the first and the last interval
	MaxHeapMB                    float64
	MetricsKB                    float64 // size of /metrics at the end
	LogMB                        float64 // the service's log
	Intervals                    []soakInterval
}

func (s *soakSummary) hostileTotals() (n, bad int) {
	for _, c := range s.Hostile {
		n += c.N
		bad += c.Bad
	}
	return n, bad
}

// failures lists the bounds the run broke.
func (s *soakSummary) failures(c soakConfig) []string {
	var out []string
	if s.Errors5xx > 0 {
		out = append(out, fmt.Sprintf("%d legitimate requests answered 5xx", s.Errors5xx))
	}
	if s.Timeouts > 0 {
		out = append(out, fmt.Sprintf("%d legitimate requests timed out or failed in transport", s.Timeouts))
	}
	if s.UpsertP99 > ms(c.maxUpsertP99) {
		out = append(out, fmt.Sprintf("upsert p99 %.1f ms > %v", s.UpsertP99, c.maxUpsertP99))
	}
	if s.ReadP99 > ms(c.maxReadP99) {
		out = append(out, fmt.Sprintf("read p99 %.1f ms > %v", s.ReadP99, c.maxReadP99))
	}
	if s.PeakRSSMB > c.maxRSSMB {
		out = append(out, fmt.Sprintf("peak RSS %.0f MB > %.0f MB", s.PeakRSSMB, c.maxRSSMB))
	}
	if g := s.LastRSSMB - s.FirstRSSMB; g > c.maxRSSGrowthMB {
		out = append(out, fmt.Sprintf("RSS grew %.0f MB (first interval %.0f, last %.0f) > %.0f MB", g, s.FirstRSSMB, s.LastRSSMB, c.maxRSSGrowthMB))
	}
	if s.JobsIncomplete > 0 {
		out = append(out, fmt.Sprintf("%d of %d accepted jobs not completed", s.JobsIncomplete, s.JobsAccepted))
	}
	out = append(out, s.ImportProblems...)
	if _, bad := s.hostileTotals(); bad > 0 {
		out = append(out, fmt.Sprintf("%d hostile requests were neither refused (4xx) nor cut: %s", bad, strings.Join(s.HostileBad, "; ")))
	}
	return out
}

func printSoakSummary(w io.Writer, sc soakConfig, s *soakSummary) {
	hn, hbad := s.hostileTotals()
	fmt.Fprintf(w, "\nsoak summary (%v)\n", s.Duration)
	fmt.Fprintf(w, "  upserts  %d  p50 %.1f ms  p99 %.1f ms (bound %v)\n", s.Upserts, s.UpsertP50, s.UpsertP99, sc.maxUpsertP99)
	fmt.Fprintf(w, "  reads    %d  p50 %.1f ms  p99 %.1f ms (bound %v)\n", s.Reads, s.ReadP50, s.ReadP99, sc.maxReadP99)
	fmt.Fprintf(w, "           by kind: %s\n", strings.Join(s.ReadKinds, ", "))
	fmt.Fprintf(w, "  errors   5xx %d, timeouts %d (both must be 0); other non-2xx %d\n", s.Errors5xx, s.Timeouts, s.Unexpected)
	fmt.Fprintf(w, "  imports  %d started, %d completed; jobs %d accepted, %d not completed\n",
		s.ImportsStarted, s.ImportsCompleted, s.JobsAccepted, s.JobsIncomplete)
	fmt.Fprintf(w, "  memory   max RSS %.0f MB, peak (VmHWM) %.0f MB (bound %.0f), RSS first interval %.0f MB → last %.0f MB (growth %+.0f, bound %.0f), max Go heap in use %.0f MB\n",
		s.MaxRSSMB, s.PeakRSSMB, sc.maxRSSMB, s.FirstRSSMB, s.LastRSSMB, s.LastRSSMB-s.FirstRSSMB, sc.maxRSSGrowthMB, s.MaxHeapMB)
	fmt.Fprintf(w, "  output   /metrics %.0f KB, service log %.1f MB\n", s.MetricsKB, s.LogMB)
	kinds := make([]string, 0, len(s.Hostile))
	for k := range s.Hostile {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		c := s.Hostile[k]
		seen := slices.Sorted(maps.Keys(c.Seen))
		for i, a := range seen {
			seen[i] = fmt.Sprintf("%s×%d", a, c.Seen[a])
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d (%s)", k, c.N-c.Bad, c.N, strings.Join(seen, " ")))
	}
	fmt.Fprintf(w, "  hostile  %d requests, %d neither refused nor cut; refused or cut per kind: %s\n", hn, hbad, strings.Join(parts, ", "))
	if fails := s.failures(sc); len(fails) > 0 {
		fmt.Fprintf(w, "  FAIL: %s\n", strings.Join(fails, "; "))
	} else {
		fmt.Fprintln(w, "  PASS")
	}
}
