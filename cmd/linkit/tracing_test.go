package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/linkitworks/customers/linkittest"
)

// otlpReceiver is a minimal OTLP/HTTP trace collector: it counts export
// requests and keeps the span names and service names they carried.
type otlpReceiver struct {
	mu       sync.Mutex
	requests int
	spans    []string
	services []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
		proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests++
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				o.services = append(o.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				o.spans = append(o.spans, s.Name)
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// stopProc ends a linkit subprocess as an orchestrator does (SIGTERM) and
// waits for it: whatever it buffered is flushed by then.
func stopProc(t *testing.T, p *workerProc) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("linkit did not stop within 40 s")
	}
}

// `linkit all` with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans there over
// OTLP/HTTP: an upsert's HTTP, worker and PostgreSQL spans reach a receiver,
// and its log lines carry trace ids. With OTEL_SDK_DISABLED=true beside the
// same endpoint, nothing at all is sent and no log line has a trace id.
func TestTracingExportsOverOTLP(t *testing.T) {
	t.Parallel()
	bin := buildLinkit(t)
	for _, c := range []struct {
		name     string
		disabled bool
	}{{"endpoint set", false}, {"sdk disabled", true}} {
		t.Run(c.name, func(t *testing.T) {
			recv := &otlpReceiver{}
			collector := httptest.NewServer(recv)
			defer collector.Close()
			env := newTestEnv(t)
			env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
			env["OTEL_SERVICE_NAME"] = "linkit-otlp-test"
			if c.disabled {
				env["OTEL_SDK_DISABLED"] = "true"
			}
			k := createOrg(t, env, "Traced")
			p := startLinkitProc(t, bin, env, "all")
			waitReady(t, env.baseURL())
			linkittest.Call(t, "POST", env.baseURL()+"/api/v1/customers/upsert", "Bearer "+k.APIKey,
				map[string]any{"first_name": "Otto", "email": "otto@example.com"}).Want(t, http.StatusCreated)
			stopProc(t, p)

			recv.mu.Lock()
			defer recv.mu.Unlock()
			var traced []string // request ids of access log lines with a trace id
			for _, l := range strings.Split(p.logs.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "http request" && m["trace_id"] != nil {
					traced = append(traced, l)
				}
			}
			if c.disabled {
				if recv.requests != 0 || len(traced) != 0 || strings.Contains(p.logs.String(), "tracing on") {
					t.Fatalf("tracing disabled, yet %d exports (%v) and %d traced log lines", recv.requests, recv.spans, len(traced))
				}
				return
			}
			if recv.requests == 0 {
				t.Fatalf("the receiver got no export; logs:\n%s", p.logs)
			}
			for _, want := range []string{"POST /api/v1/customers/upsert", "send customer:upsert", "process customer:upsert", "INSERT"} {
				if !slices.Contains(recv.spans, want) {
					t.Errorf("no %q span among the %d exported: %v", want, len(recv.spans), recv.spans)
				}
			}
			if !slices.Contains(recv.services, "linkit-otlp-test") {
				t.Errorf("service.name of the exports: %v, want OTEL_SERVICE_NAME's", recv.services)
			}
			if len(traced) == 0 {
				t.Errorf("no access log line carries a trace_id")
			}
		})
	}
}
