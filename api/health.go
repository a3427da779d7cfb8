package api

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 503 naming every dependency that does not answer.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status := http.StatusOK
	for _, c := range s.Checks {
		if err := c.Ping(ctx); err != nil {
			checks[c.Name] = "unavailable"
			status = http.StatusServiceUnavailable
			s.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "err", err)
			continue
		}
		checks[c.Name] = "ok"
	}
	body := map[string]any{"status": "ok", "checks": checks}
	if status != http.StatusOK {
		body["status"] = "unavailable"
	}
	encode(w, status, body)
}
