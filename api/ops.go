package api

import (
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
	if s.RedisOpt != nil {
		dash := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: s.RedisOpt})
		s.mux.Handle("/monitoring/", s.adminOnly(dash))
	}
}
