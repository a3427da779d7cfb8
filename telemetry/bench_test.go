package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/telemetry"
)

var benchSeq atomic.Int64

// BenchmarkRequest times requests through the whole in-process service with
// tracing off (what a process without OTEL_EXPORTER_OTLP_ENDPOINT runs: no
// instrumentation wired in) and on (every span recorded to memory), the two
// stacks side by side and their sub-benchmarks interleaved. An upsert goes
// API → queue → worker → PostgreSQL and back; a lookup is API → PostgreSQL.
// Compare the ratios within one run: the machine is shared.
func BenchmarkRequest(b *testing.B) {
	defer telemetry.SetEnabled(true)
	noLimits := linkittest.WithAPI(api.Config{RateLimits: api.RateLimits{Default: -1, Upsert: -1, Import: -1}})
	stacks := map[bool]*linkittest.Stack{}
	for _, on := range []bool{false, true} {
		telemetry.SetEnabled(on) // read when the stack is built
		s := linkittest.New(b, noLimits)
		s.Do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": "Bench", "email": "bench@example.com"}).
			Want(b, http.StatusCreated)
		stacks[on] = s
	}
	mode := map[bool]string{false: "off", true: "on"}
	run := func(name string, do func(s *linkittest.Stack)) {
		for _, on := range []bool{false, true} {
			b.Run(name+"/tracing="+mode[on], func(b *testing.B) {
				telemetry.SetEnabled(on) // read by each enqueue
				b.ReportAllocs()
				for i := range b.N {
					if i%200 == 0 {
						exporter.Reset()
					}
					do(stacks[on])
				}
			})
		}
	}
	run("upsert", func(s *linkittest.Stack) {
		s.Do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": "Bench",
			"email": fmt.Sprintf("bench.%d@example.com", benchSeq.Add(1))}).Want(b, http.StatusCreated)
	})
	run("lookup", func(s *linkittest.Stack) {
		s.Do("GET", "/api/v1/customers/lookup?email=bench@example.com", nil).Want(b, http.StatusOK)
	})
	exporter.Reset()
}

// BenchmarkLogHandler is the log wrapper's cost on a record logged outside
// any span (every record of an untraced process) against the bare handler.
func BenchmarkLogHandler(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		log  *slog.Logger
	}{
		{"bare", slog.New(slog.NewJSONHandler(io.Discard, nil))},
		{"wrapped", slog.New(telemetry.LogHandler(slog.NewJSONHandler(io.Discard, nil)))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				c.log.InfoContext(ctx, "http request", "request_id", "abc", "status", 200)
			}
		})
	}
}
