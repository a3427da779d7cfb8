// Package telemetry sets up OpenTelemetry tracing in one place: an OTLP/HTTP
// exporter when the standard OTEL_* environment names an endpoint, nothing
// at all otherwise. Instrumentation elsewhere (HTTP, queue, pgx, go-redis)
// asks Enabled first, so a service without a collector pays nothing.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the default service.name (OTEL_SERVICE_NAME overrides it).
const ServiceName = "linkit"

// enabled is set once a tracer provider is installed; until then the global
// provider is OpenTelemetry's no-op and no instrumentation is wired in.
var enabled atomic.Bool

// Enabled reports whether tracing is on in this process.
func Enabled() bool { return enabled.Load() }

// Configured reports whether the environment asks for traces to be exported:
// an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or its traces-only
// form) and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none.
func Configured(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") ||
		strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" ||
		strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
}

// Setup installs a tracer provider exporting over OTLP/HTTP when getenv
// (os.Getenv in production) configures one, and returns its shutdown, which
// flushes the spans still buffered. With nothing configured it installs
// nothing and returns a shutdown that does nothing. The exporter, the
// sampler (OTEL_TRACES_SAMPLER), the batcher (OTEL_BSP_*) and the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) read the standard variables
// themselves.
func Setup(ctx context.Context, getenv func(string) string, version string) (shutdown func(context.Context) error, err error) {
	if !Configured(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	// Attributes without a schema URL, so they merge with the SDK's own;
	// the environment's come last and win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Install(tp)
	return tp.Shutdown, nil
}

// Install makes tp the process's tracer provider and W3C Trace Context the
// propagator, and turns instrumentation on for everything built after it.
// Setup ends with it; tests call it with an in-memory exporter.
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	enabled.Store(true)
}

// HTTPHandler wraps h in an HTTP server span per request when tracing is on,
// except for the paths in untraced (probes, scrapes), and returns h itself
// when it is off. Name the span after the route with NameHTTPSpan once the
// mux has matched it.
func HTTPHandler(h http.Handler, untraced ...string) http.Handler {
	if !Enabled() {
		return h
	}
	traced := otelhttp.NewHandler(h, "http", otelhttp.WithFilter(func(r *http.Request) bool {
		return !slices.Contains(untraced, r.URL.Path)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An outer mux's pattern ("/" of the web app's) is not this
		// route's: otelhttp would name the span after it, over NameHTTPSpan.
		if r.Pattern != "" {
			r = r.WithContext(r.Context())
			r.Pattern = ""
		}
		traced.ServeHTTP(w, r)
	})
}

// NameHTTPSpan names ctx's server span after the route pattern the mux
// matched ("POST /api/v1/customers/upsert"), never the raw path, whose ids
// and query would make every name unique (and may hold emails); it also
// records the request id, so a log line's request_id finds its trace.
func NameHTTPSpan(ctx context.Context, method, pattern, requestID string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if pattern != "" {
		route := pattern
		if i := strings.IndexByte(pattern, ' '); i >= 0 {
			route = pattern[i+1:]
		}
		if i := strings.IndexByte(route, '/'); i > 0 { // a host in the pattern
			route = route[i:]
		}
		span.SetName(method + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
	if requestID != "" {
		span.SetAttributes(attribute.String("linkit.request_id", requestID))
	}
}
