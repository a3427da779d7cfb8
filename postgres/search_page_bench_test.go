package postgres_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

// BenchmarkSearchPageGo: the Go CPU (this process's rusage) and allocations
// of a newest-first search page, one client, on an existing database
// (LINKIT_BENCH_SEARCH_URL; skipped without): common and rare terms.
func BenchmarkSearchPageGo(b *testing.B) {
	url := os.Getenv("LINKIT_BENCH_SEARCH_URL")
	if url == "" {
		b.Skip("LINKIT_BENCH_SEARCH_URL not set")
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	org := os.Getenv("LINKIT_BENCH_SEARCH_ORG")
	for _, c := range []struct{ name, env string }{{"common", "LINKIT_BENCH_SEARCH_COMMON"}, {"rare", "LINKIT_BENCH_SEARCH_RARE"}} {
		term := os.Getenv(c.env)
		b.Run(c.name, func(b *testing.B) {
			f := customer.Filter{Page: 1, Limit: 20, Search: term, Sort: "-created"}
			for range 50 { // the sample loaded, plans cached
				if _, _, err := st.FindCustomers(ctx, org, f); err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			var r0, r1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				list, _, err := st.FindCustomers(ctx, org, f)
				if err != nil || len(list) == 0 {
					b.Fatal(err, len(list))
				}
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
