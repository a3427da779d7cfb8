package telemetry_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/telemetry"
)

// exporter holds every span this package's tests end: tracing is installed
// once, before any stack is built (instrumentation is added at construction).
var exporter = tracetest.NewInMemoryExporter()

func TestMain(m *testing.M) {
	telemetry.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))
	os.Exit(m.Run())
}

// syncBuffer collects JSON log lines from the API's and worker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

const (
	pgxScope   = "github.com/exaring/otelpgx"
	redisScope = "github.com/redis/go-redis/extra/redisotel"
)

// spanTree is one trace's ended spans by span id.
type spanTree map[trace.SpanID]tracetest.SpanStub

func (tr spanTree) under(s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for p := s.Parent.SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		parent, ok := tr[p]
		if !ok {
			return false
		}
		p = parent.Parent.SpanID()
	}
	return false
}

func (tr spanTree) find(pred func(tracetest.SpanStub) bool) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range tr {
		if pred(s) {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestUpsertIsOneTrace: a find-or-create over HTTP, run by the real worker,
// is one trace: the HTTP server span (named by its route), the queue's
// producer span, the worker's consumer span, PostgreSQL spans under both
// the request (the job row) and the worker (the upsert), and go-redis spans.
// No span holds the customer's email or phone, and the access log line of
// the request carries the trace's id beside its request id.
func TestUpsertIsOneTrace(t *testing.T) {
	logs := &syncBuffer{}
	s := linkittest.New(t, linkittest.WithLogger(slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, nil)))))
	const email, phone = "trace.sarah@example.com", "+966509876543"
	res := s.Do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": "Sarah", "email": email, "phone": phone}).
		Want(t, http.StatusCreated)
	if res.Data()["email"] != email {
		t.Fatalf("upsert answered %s", res.Raw)
	}
	reqID := res.Header.Get("X-Request-ID")

	// The consumer span ends after the worker has replied: wait for it.
	var tr spanTree
	var root, consumer tracetest.SpanStub
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		tr = spanTree{}
		var traceID trace.TraceID
		for _, sp := range exporter.GetSpans() {
			if attr(sp, "linkit.request_id") == reqID {
				root, traceID = sp, sp.SpanContext.TraceID()
			}
		}
		for _, sp := range exporter.GetSpans() {
			if traceID.IsValid() && sp.SpanContext.TraceID() == traceID {
				tr[sp.SpanContext.SpanID()] = sp
			}
		}
		consumers := tr.find(func(sp tracetest.SpanStub) bool { return sp.Name == "process customer:upsert" })
		if len(consumers) == 1 {
			consumer = consumers[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace with an HTTP span and one worker span for request %s within 10 s; trace: %v", reqID, names(tr))
		}
	}

	if root.Name != "POST /api/v1/customers/upsert" || root.SpanKind != trace.SpanKindServer || root.Parent.IsValid() {
		t.Errorf("HTTP span = %q kind %v parent %v, want the route's name, a server span at the root", root.Name, root.SpanKind, root.Parent.SpanID())
	}
	if got := attr(root, "http.route"); got != "/api/v1/customers/upsert" {
		t.Errorf("http.route = %q", got)
	}
	if consumer.SpanKind != trace.SpanKindConsumer || !tr.under(consumer, root.SpanContext.SpanID()) {
		t.Errorf("worker span kind %v, under the HTTP span: %v", consumer.SpanKind, tr.under(consumer, root.SpanContext.SpanID()))
	}
	producers := tr.find(func(sp tracetest.SpanStub) bool {
		return sp.Name == "send customer:upsert" && sp.SpanKind == trace.SpanKindProducer
	})
	if len(producers) != 1 || consumer.Parent.SpanID() != producers[0].SpanContext.SpanID() {
		t.Errorf("the worker span's parent is not the enqueue's producer span (%d producers)", len(producers))
	}
	pg := func(sp tracetest.SpanStub) bool { return sp.InstrumentationScope.Name == pgxScope }
	underWorker := tr.find(func(sp tracetest.SpanStub) bool { return pg(sp) && tr.under(sp, consumer.SpanContext.SpanID()) })
	inRequest := tr.find(func(sp tracetest.SpanStub) bool { return pg(sp) && !tr.under(sp, consumer.SpanContext.SpanID()) })
	if len(underWorker) == 0 || len(inRequest) == 0 {
		t.Errorf("PostgreSQL spans: %d under the worker, %d in the request; want both", len(underWorker), len(inRequest))
	}
	statements := 0
	for _, sp := range append(underWorker, inRequest...) {
		if attr(sp, "db.system.name") != "postgresql" {
			t.Errorf("PostgreSQL span %q lacks db.system.name: %v", sp.Name, sp.Attributes)
		}
		if q := attr(sp, "db.query.text"); q != "" {
			statements++
		}
	}
	if statements == 0 {
		t.Errorf("no PostgreSQL span carries its statement (db.query.text)")
	}
	if len(tr.find(func(sp tracetest.SpanStub) bool { return sp.InstrumentationScope.Name == redisScope })) == 0 {
		t.Errorf("no go-redis span in the trace: %v", names(tr))
	}
	for _, sp := range tr {
		text := sp.Name
		for _, a := range sp.Attributes {
			text += " " + a.Value.String()
		}
		for _, e := range sp.Events {
			for _, a := range e.Attributes {
				text += " " + a.Value.String()
			}
		}
		if strings.Contains(text, "trace.sarah") || strings.Contains(text, "509876543") {
			t.Errorf("span %q holds the customer's email or phone: %s", sp.Name, text)
		}
	}

	var logged bool
	for _, l := range logs.lines() {
		if l["msg"] == "http request" && l["request_id"] == reqID {
			logged = true
			if l["trace_id"] != root.SpanContext.TraceID().String() || l["span_id"] != root.SpanContext.SpanID().String() {
				t.Errorf("access log line %v: trace_id/span_id are not the HTTP span's %s/%s", l, root.SpanContext.TraceID(), root.SpanContext.SpanID())
			}
		}
	}
	if !logged {
		t.Errorf("no access log line for request %s", reqID)
	}
}

func names(tr spanTree) []string {
	var out []string
	for _, s := range tr {
		out = append(out, s.Name)
	}
	return out
}
