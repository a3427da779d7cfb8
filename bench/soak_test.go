package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/postgres/postgrestest"
)

// A short soak against the real binary, so `make soak` cannot rot: every
// legitimate request answered without a 5xx or a timeout, every hostile one
// refused or cut, every accepted job and import completed, memory read from
// the child process. Latency and RSS bounds are set far out of reach: a
// busy CI box must not fail it on timing.
func TestSoakShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s soak of the built binary; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "linkit")
	build := exec.Command("go", "build", "-o", bin, "github.com/linkitworks/customers/cmd/linkit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build linkit: %v\n%s", err, out)
	}

	// A migrated clone, dropped after the test; its name (linkit_test_…)
	// is also the soak's queue namespace.
	dbURL := postgrestest.NewURL(t)
	redisURL := "redis://127.0.0.1:6379/11"
	if v := os.Getenv("LINKIT_TEST_REDIS_URL"); v != "" {
		redisURL = v // the soak's queue namespace is its database's name: no collision
	}

	cfg, err := parseConfig([]string{
		"-soak", "20s", "-soak-interval", "5s", "-soak-binary", bin,
		"-soak-database-url", dbURL, "-soak-redis-url", redisURL,
		"-soak-customers", "1000", "-soak-upsert-clients", "4", "-soak-read-clients", "2",
		"-soak-import-rows", "2000", "-soak-import-every", "5s",
		"-soak-server-timeout", "2s", "-soak-drain", "1m",
		"-soak-max-upsert-p99", "1m", "-soak-max-read-p99", "1m",
		"-soak-max-rss-mb", "4096", "-soak-max-rss-growth-mb", "4096",
	}, func(string) string { return "" }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.soak.migrated = true
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	logf := func(format string, a ...any) {
		t.Logf("%5.1fs "+format, append([]any{time.Since(start).Seconds()}, a...)...)
	}
	sum, err := runSoak(ctx, cfg, &out, logf)
	t.Logf("soak output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	if fails := sum.failures(cfg.soak); len(fails) > 0 {
		t.Errorf("failures: %v", fails)
	}
	if sum.Errors5xx != 0 || sum.Timeouts != 0 {
		t.Errorf("5xx %d, timeouts %d; want none", sum.Errors5xx, sum.Timeouts)
	}
	if sum.Upserts == 0 || sum.Reads == 0 || sum.UpsertP99 <= 0 || sum.ReadP99 <= 0 {
		t.Errorf("no load measured: %d upserts (p99 %.1f ms), %d reads (p99 %.1f ms)", sum.Upserts, sum.UpsertP99, sum.Reads, sum.ReadP99)
	}
	if sum.JobsAccepted < sum.Upserts || sum.JobsIncomplete != 0 {
		t.Errorf("jobs: %d accepted for %d upserts, %d not completed", sum.JobsAccepted, sum.Upserts, sum.JobsIncomplete)
	}
	if sum.ImportsCompleted == 0 || sum.ImportsCompleted != sum.ImportsStarted || len(sum.ImportProblems) > 0 {
		t.Errorf("imports: %d started, %d completed, problems %v", sum.ImportsStarted, sum.ImportsCompleted, sum.ImportProblems)
	}
	if sum.MaxRSSMB <= 0 || sum.PeakRSSMB < sum.MaxRSSMB || sum.MaxHeapMB <= 0 {
		t.Errorf("memory not read: max RSS %.1f MB, peak %.1f MB, heap %.1f MB", sum.MaxRSSMB, sum.PeakRSSMB, sum.MaxHeapMB)
	}
	if len(sum.Intervals) < 3 {
		t.Errorf("%d interval lines, want ≥ 3 in 20 s at 5 s", len(sum.Intervals))
	}
	for _, iv := range sum.Intervals {
		if iv.RSSMB <= 0 || iv.HeapMB <= 0 {
			t.Errorf("interval at %v: RSS %.1f MB, heap %.1f MB", iv.Elapsed, iv.RSSMB, iv.HeapMB)
		}
	}
	n, bad := sum.hostileTotals()
	if n == 0 || bad != 0 {
		t.Errorf("hostile: %d requests, %d neither refused nor cut: %v", n, bad, sum.HostileBad)
	}
	for _, kind := range []string{"stalled-upload", "slow-body", "huge-method", "deep-json-import", "nul-json", "idle-keepalive", "oversized-body"} {
		if c := sum.Hostile[kind]; c == nil || c.N == 0 {
			t.Errorf("hostile case %s never ran", kind)
		}
	}
	for _, want := range []string{"soak summary", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
