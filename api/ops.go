package api

import (
	"net/http"
	"net/http/pprof"

	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsRoutes mounts the queue dashboard and metrics, behind the admin token
// (metrics may be public when configured).
func (s *Server) opsRoutes() {
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	if !s.cfg.MetricsPublic {
		metrics = s.adminOnly(metrics)
	}
	s.mux.Handle("GET /metrics", metrics)
	// Profiles for ops, behind the admin token; streaming, since a profile
	// or trace may run longer than the write timeout (?seconds=).
	s.mux.Handle("/debug/pprof/", s.streaming(s.adminOnly(http.HandlerFunc(pprof.Index))))
	s.mux.Handle("/debug/pprof/profile", s.streaming(s.adminOnly(http.HandlerFunc(pprof.Profile))))
	if s.RedisOpt != nil {
		dash := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: s.RedisOpt})
		s.mux.Handle("/monitoring/", s.adminOnly(dash))
	}
}
