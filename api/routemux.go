package api

import (
	"net/http"
	"slices"
)

// routeMux is http.ServeMux remembering its patterns, so that tests can
// hold the OpenAPI document to exactly the routes registered.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

// Routes lists the patterns registered ("GET /api/v1/customers/{id}"), in
// the order routes.go registers them.
func (s *Server) Routes() []string { return slices.Clone(s.mux.patterns) }
