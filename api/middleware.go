package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxOrg
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

// statusRecorder remembers the status code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// withRequestLog assigns the request id, recovers panics into a 500 body,
// and writes one access log line. It logs the route pattern, never the URL,
// whose query may hold emails and phones.
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 128 {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			orgID := ""
			if o := org(r); o != nil {
				orgID = o.ID
			}
			elapsed := time.Since(start)
			s.metrics.observe(r, rec.status, elapsed)
			s.log.InfoContext(ctx, "http request", "request_id", id, "method", r.Method,
				"route", r.Pattern, "status", rec.status, "org_id", orgID,
				"duration_ms", float64(elapsed.Microseconds())/1000)
		}()
		next.ServeHTTP(rec, r)
	})
}

// authenticated requires a valid API key (401) and, when sent, an
// X-Organization-ID equal to the key's organization (403).
func (s *Server) authenticated(next http.Handler) http.Handler {
	return s.authenticatedAs(s.writeError, next)
}

// errorWriter writes an error body in one of the API's shapes.
type errorWriter func(w http.ResponseWriter, r *http.Request, err error)

// authenticatedAs is authenticated answering failures with writeError.
func (s *Server) authenticatedAs(writeError errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			writeError(w, r, &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Missing API key: send Authorization: Bearer <key>"})
			return
		}
		o, err := s.authenticate(r.Context(), key)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if h := r.Header.Get("X-Organization-ID"); h != "" && h != o.ID {
			writeError(w, r, &customer.Error{Code: customer.EFORBIDDEN, Message: "X-Organization-ID does not match the API key's organization",
				Details: map[string]string{"X-Organization-ID": h}})
			return
		}
		*r = *r.WithContext(context.WithValue(r.Context(), ctxOrg, o))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authenticate(ctx context.Context, key string) (*customer.Organization, error) {
	now := time.Now()
	if o, ok := s.keys.get(key, now); ok {
		return o, nil
	}
	o, err := s.store.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	if s.cfg.AuthCacheTTL > 0 {
		s.keys.put(key, o, now.Add(s.cfg.AuthCacheTTL))
	}
	return o, nil
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// adminOnly guards ops endpoints with LINKIT_ADMIN_TOKEN, as a bearer token
// or as the basic-auth password (for browsers).
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			_, token, ok = r.BasicAuth()
		}
		if s.cfg.AdminToken == "" || !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="linkit admin"`)
			s.writeError(w, r, &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Admin token required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
