// Package api is the HTTP surface: routes.go lists every endpoint; handlers
// decode, validate, call the store and encode the documented shapes.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/telemetry"
)

// Config holds the API's settings; cmd/linkit fills it from the environment.
type Config struct {
	AdminToken string
	// MetricsPublic serves /metrics without the admin token.
	MetricsPublic bool
	// MaxImportBytes bounds an uploaded file (default 5 GiB).
	MaxImportBytes int64
	// ImportLimits bound a file's columns, fields and rows (zero values:
	// the importer's defaults).
	ImportLimits ImportLimits
	// UploadProgressTimeout cuts an upload that sends nothing for this
	// long and fails its import (0: DefaultUploadProgressTimeout).
	UploadProgressTimeout time.Duration
	// MaxUploads bounds the imports being uploaded at once (0:
	// DefaultMaxUploads): more answer 503 with Retry-After.
	MaxUploads int
	// MaxUploadsPerOrg bounds one organization's (0:
	// DefaultMaxUploadsPerOrg): more answer 429 with Retry-After.
	MaxUploadsPerOrg int
	// AuthCacheTTL keeps verified API keys in memory; revocation takes
	// effect within this time. Zero disables the cache.
	AuthCacheTTL time.Duration
	// ReadTimeout bounds how long an ordinary request may take to send its
	// body, WriteTimeout how long its answer may take to be written (default
	// 30 s and 60 s). Streaming routes (file uploads and downloads) are
	// exempt: their body has no overall deadline, and each write of their
	// answer gets WriteTimeout anew.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// RateLimits are the per-API-key limits (zero members: the defaults),
	// applied when Deps.RateLimitRedis is set.
	RateLimits RateLimits
	// WebhooksAllowPrivate accepts webhook URLs on private, loopback and
	// link-local addresses (LINKIT_WEBHOOKS_ALLOW_PRIVATE).
	WebhooksAllowPrivate bool
	// UpsertLinger is how long an upsert waits for others to travel with
	// it while upserts of its organization are in flight (0:
	// queue.DefaultLinger; negative: never, one task per upsert);
	// UpsertBatchMax bounds a batch (0: queue.DefaultBatchMax).
	UpsertLinger   time.Duration
	UpsertBatchMax int
	// Now is the clock of defaults (order dates) and of analytics periods;
	// nil means time.Now. Tests fix it to make figures reproducible.
	Now func() time.Time
}

// Check is a named readiness probe (PostgreSQL, Redis).
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Deps are the Server's collaborators. Queue, Replies and Inspector may be
// nil: endpoints that need the queue then answer 503.
type Deps struct {
	Store     *postgres.Store
	Log       *slog.Logger
	Checks    []Check
	Queue     *queue.Client
	Replies   *queue.Replies
	Inspector *asynq.Inspector
	// OrgChanges carries settings changes to every API process, which drop
	// the organization from their key cache. Nil: only this process learns
	// of a change; the others see it when their cached keys expire
	// (Config.AuthCacheTTL).
	OrgChanges *queue.OrgChanges
	Names      queue.Names
	// RedisOpt serves the queue dashboard at /monitoring/.
	RedisOpt asynq.RedisConnOpt
	// Registry collects /metrics; nil gets a private registry.
	Registry *prometheus.Registry
	// RateLimitRedis holds the per-API-key rate limits; nil: no limits.
	RateLimitRedis redis.UniversalClient
	// Activity counts the requests served, so that background work (a
	// duplicate scan) makes way while this process is busy; its Run
	// publishes the load. Nil: not counted.
	Activity *queue.Activity
}

// Server is the HTTP API.
type Server struct {
	cfg Config
	Deps
	store   *postgres.Store
	log     *slog.Logger
	mux     *routeMux
	keys    authCache
	metrics *httpMetrics
	phones  *dedupe.PhoneNormalizer // shared parse cache for imports
	uploads uploadSlots
	limiter *rateLimiter // nil: no rate limits
	handler http.Handler // the middleware chain over the routes
	upserts *queue.Coalescer
}

// ImportLimits are the configurable limits of reading an import file.
type ImportLimits struct {
	MaxColumns    int
	MaxFieldBytes int
	MaxRowBytes   int
}

// readerOptions are the importer's options of an upload in format.
func (c Config) readerOptions(format importer.Format) importer.Options {
	l := c.ImportLimits
	return importer.Options{Format: format, MaxColumns: l.MaxColumns, MaxFieldBytes: l.MaxFieldBytes, MaxRowBytes: l.MaxRowBytes,
		MaxBytes: c.maxImportBytes()}
}

func (c Config) maxImportBytes() int64 {
	if c.MaxImportBytes > 0 {
		return c.MaxImportBytes
	}
	return 5 << 30
}

func (c Config) readTimeout() time.Duration  { return cmp.Or(c.ReadTimeout, 30*time.Second) }
func (c Config) writeTimeout() time.Duration { return cmp.Or(c.WriteTimeout, 60*time.Second) }

var _ http.Handler = (*Server)(nil)

// now is the server's clock in UTC.
func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// NewServer wires the routes over the given dependencies.
func NewServer(cfg Config, d Deps) *Server {
	if d.Log == nil {
		d.Log = discardLogger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, Deps: d, store: d.Store, log: d.Log, mux: newRouteMux(),
		phones: dedupe.NewPhoneNormalizer(0)}
	s.keys.entries = map[string]authEntry{}
	s.upserts = queue.NewCoalescer(cmp.Or(cfg.UpsertLinger, queue.DefaultLinger), cmp.Or(cfg.UpsertBatchMax, queue.DefaultBatchMax))
	s.uploads.perOrg = map[string]int{}
	if d.OrgChanges != nil {
		d.OrgChanges.OnChange(s.keys.dropOrg)
	}
	s.metrics = newHTTPMetrics(d.Registry, d.Inspector, d.Names)
	if d.RateLimitRedis != nil {
		s.limiter = newRateLimiter(d.RateLimitRedis, cfg.RateLimits, d.Log, d.Registry)
	}
	s.routes()
	s.handler = s.chain()
	return s
}

// chain is the middleware shared by every route, built once: a server span
// around it all when tracing is on (probes and scrapes left out: noise).
// Nothing between withRequestLog and the mux may copy the request
// (r.WithContext): the mux sets the route pattern on the request it gets,
// and the access log and the span read it from withRequestLog's.
func (s *Server) chain() http.Handler {
	return telemetry.HTTPHandler(s.withActivity(s.withRequestLog(s.withDeadlines(s.withCleanInput(http.HandlerFunc(s.route))))),
		"/healthz", "/readyz", "/metrics")
}

// ServeHTTP runs the middleware chain shared by every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route dispatches through the mux; the mux's own plain-text 404 and 405
// answers are replaced by the documented JSON error body.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w, s: s, r: r}, r)
}

// muxErrorWriter turns the mux's plain-text errors into JSON error bodies.
type muxErrorWriter struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	written bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	if m.written {
		return
	}
	m.written = true
	e := &customer.Error{Code: customer.ENOTFOUND, Message: "Route not found",
		Details: map[string]string{"path": m.r.URL.Path}}
	if isLocationScoped(m.r.URL.Path) {
		if code == http.StatusMethodNotAllowed {
			encode(m.ResponseWriter, code, scopedErrorBody{Message: "Method not allowed", Errors: map[string]string{}})
			return
		}
		m.s.writeScopedError(m.ResponseWriter, m.r, e)
		return
	}
	if code == http.StatusMethodNotAllowed {
		encode(m.ResponseWriter, code, errorBody{Code: code, Error: "Method not allowed",
			Details: map[string]string{"allow": m.ResponseWriter.Header().Get("Allow")}})
		return
	}
	m.s.writeError(m.ResponseWriter, m.r, e)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if !m.written {
		m.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil // the mux's text body is dropped
}

// handlerFunc is a handler that reports failure by returning an error;
// handle turns it into the documented error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
