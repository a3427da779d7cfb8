package api

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsRoutes mounts the queue dashboard and metrics, behind the admin token
// (metrics may be public when configured).
func (s *Server) opsRoutes() {
	s.mux.Handle("GET /metrics", s.metricsHandler())
	// Profiles for ops, behind the admin token; streaming, since a profile
	// or trace may run longer than the write timeout (?seconds=).
	s.mux.Handle("/debug/pprof/", s.streaming(s.adminOnly(http.HandlerFunc(pprof.Index))))
	s.mux.Handle("/debug/pprof/profile", s.streaming(s.adminOnly(http.HandlerFunc(pprof.Profile))))
	if s.RedisOpt != nil {
		dash := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: s.RedisOpt,
			PayloadFormatter: asynqmon.PayloadFormatterFunc(maskPayload)})
		// A browser holding the admin's basic auth would otherwise send a
		// cross-site form POST (pause a queue, delete tasks) with it.
		s.mux.Handle("/monitoring/", http.NewCrossOriginProtection().Handler(s.adminOnly(dash)))
	}
}

// metricsHandler serves the registry, behind the admin token unless
// metrics are public.
func (s *Server) metricsHandler() http.Handler {
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	if !s.cfg.MetricsPublic {
		metrics = s.adminOnly(metrics)
	}
	return metrics
}

// NewProbeServer serves only /healthz, /readyz and /metrics, for a process
// that runs no API (linkit work): what orchestrators probe and Prometheus
// scrapes. It uses cfg's AdminToken and MetricsPublic, and d's Log,
// Registry, Checks, Inspector and Names.
func NewProbeServer(cfg Config, d Deps) *Server {
	if d.Log == nil {
		d.Log = discardLogger
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, Deps: d, log: d.Log, mux: newRouteMux()}
	s.metrics = newHTTPMetrics(d.Registry, d.Inspector, d.Names)
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.handler = s.chain()
	return s
}

// maskPayload shows a task's payload to the dashboard with every email and
// phone masked: operators need ids and shapes, not personal data.
func maskPayload(_ string, payload []byte) string {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return "(payload not shown: not JSON)"
	}
	out, err := json.Marshal(maskValue("", v))
	if err != nil {
		return "(payload not shown)"
	}
	return string(out)
}

// maskValue masks the strings under keys naming an email or a phone
// (email, email_key, emails, phone_key, phone_extension…), at any depth.
func maskValue(key string, v any) any {
	key = strings.ToLower(key)
	personal := strings.Contains(key, "email") || strings.Contains(key, "phone")
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = maskValue(k, x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = maskValue(key, x)
		}
		return v
	case string:
		if personal && v != "" {
			return maskString(v)
		}
	}
	return v
}

// maskString keeps the first character and, for an email, the domain's
// last label ("o***@***.com"), enough to tell records apart at a glance.
func maskString(s string) string {
	first := string([]rune(s)[0])
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		tld := ""
		if dot := strings.LastIndexByte(s[at:], '.'); dot >= 0 {
			tld = s[at+dot:]
		}
		return first + "***@***" + tld
	}
	return "***"
}
