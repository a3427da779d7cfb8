package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/telemetry"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxOrg
	ctxSignedIn // an organization authenticated in-process (WithOrganization)
	ctxActivity // the request's end of Deps.Activity's count (func())
)

// RequestID returns the request id carried by ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// org returns the authenticated organization of a request.
func org(r *http.Request) *customer.Organization {
	o, _ := r.Context().Value(ctxOrg).(*customer.Organization)
	return o
}

// StatusRecorder remembers the status code for an access log (the API's
// and the web app's).
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

func (r *StatusRecorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *StatusRecorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// validRequestID accepts a caller's X-Request-ID only when short and plain,
// since it is echoed in the answer and written to every log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return false
		}
	}
	return true
}

// withRequestLog assigns the request id, recovers panics into a 500 body,
// and writes one access log line. It logs the route pattern, never the URL,
// whose query may hold emails and phones.
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		// Answers carry personal data: no cache may keep them, no browser
		// may guess their type.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		r = r.WithContext(ctx)
		rec := &StatusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.Status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			orgID := ""
			if o := org(r); o != nil {
				orgID = o.ID
			}
			elapsed := time.Since(start)
			telemetry.NameHTTPSpan(ctx, r.Method, r.Pattern, id)
			s.metrics.observe(r, rec.Status, elapsed)
			s.log.InfoContext(ctx, "http request", "request_id", id, "method", methodLabel(r.Method),
				"route", r.Pattern, "status", rec.Status, "org_id", orgID,
				"duration_ms", float64(elapsed.Microseconds())/1000)
		}()
		next.ServeHTTP(rec, r)
	})
}

// withActivity counts the request in the process's load (Deps.Activity),
// which background work makes way for; probes, scrapes, the dashboard and
// profiles are not requests anyone waits on, and streaming routes leave
// the count (streaming): a file moving at a client's pace is no load.
func (s *Server) withActivity(next http.Handler) http.Handler {
	if s.Activity == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz", p == "/readyz", p == "/metrics", strings.HasPrefix(p, "/monitoring/"), strings.HasPrefix(p, "/debug/"):
			next.ServeHTTP(w, r)
			return
		}
		done := s.Activity.Serving()
		defer done()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxActivity, done)))
	})
}

// withDeadlines gives an ordinary request ReadTimeout to send its body and
// WriteTimeout to receive its answer, so slow or stalled clients cannot hold
// connections and goroutines. The server itself has no ReadTimeout or
// WriteTimeout, which would cut long uploads; streaming lifts these.
func (s *Server) withDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		// Errors mean the writer has no connection (httptest recorders).
		_ = rc.SetReadDeadline(now.Add(s.cfg.readTimeout()))
		_ = rc.SetWriteDeadline(now.Add(s.cfg.writeTimeout()))
		next.ServeHTTP(w, r)
	})
}

// streaming marks a route that moves a whole file. Its body has no deadline
// here: the upload handler owns it and extends it while bytes arrive
// (http.NewResponseController(w).SetReadDeadline). Its answer must progress:
// every write gets WriteTimeout anew, so a download ends only when the
// client stops reading.
func (s *Server) streaming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if done, ok := r.Context().Value(ctxActivity).(func()); ok {
			done()
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(&progressWriter{ResponseWriter: w, rc: rc, timeout: s.cfg.writeTimeout()}, r)
	})
}

// progressWriter extends the write deadline before each write.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressWriter) WriteHeader(code int) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	p.ResponseWriter.WriteHeader(code)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.ResponseWriter.Write(b)
}

func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
