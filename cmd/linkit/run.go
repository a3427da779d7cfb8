package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/telemetry"
	"github.com/linkitworks/customers/worker"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks command-line mistakes (exit code 2).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return 1
}

// config is read once from the environment; flags override it.
type config struct {
	DatabaseURL       string
	RedisURL          string
	HTTPAddr          string
	WorkerHTTPAddr    string // where `linkit work` serves probes and metrics ("": nowhere)
	AdminToken        string
	WorkerConcurrency int
	LogLevel          string
	DBMaxConns        int
	AuthCacheTTL      time.Duration
	QueueNamespace    string
	MetricsPublic     bool

	// WebhooksAllowPrivate lets webhooks target private and loopback
	// addresses (LINKIT_WEBHOOKS_ALLOW_PRIVATE).
	WebhooksAllowPrivate bool

	MaxImportBytes    int64
	ImportLimits      api.ImportLimits
	ImportConcurrency int
	ImportChunkRows   int
	ImportStagingTTL  time.Duration
	HTTP              httpLimits
	UploadTimeout     time.Duration // imports still reading this long after their last update fail
	// Retention windows (negative: keep forever); see worker.Config.
	RetentionJobs          time.Duration
	RetentionImportErrors  time.Duration
	RetentionImportChanges time.Duration
	// MemoryLimit is the Go runtime's soft memory limit (0: leave it to
	// GOMEMLIMIT). Planning a 2 GB file holds ~120 MB of row numbers, and
	// the default GC pacing let the heap double past that.
	MemoryLimit int64

	// Uploads: a pool of their own for staging (two COPY streams each),
	// the deadline for progress, and how many at once.
	DBStageConns          int
	UploadProgressTimeout time.Duration
	MaxUploads            int
	MaxUploadsPerOrg      int

	// RateLimits per API key, requests per minute (negative: off).
	RateLimits api.RateLimits

	// Upsert coalescing (queue.Coalescer): linger negative is off.
	UpsertLinger   time.Duration
	UpsertBatchMax int
	// UpsertPoll: how often an idle worker looks for upserts.
	UpsertPoll time.Duration

	// SuggestScanBacklog: more customers waiting to be scored than this
	// (and than a quarter of the organization) are scored by one scan.
	SuggestScanBacklog int
	// SuggestScanMemoryMB bounds a duplicate scan's records and blocks
	// (more: several passes); SuggestScanWorkers is how many goroutines
	// compare its pairs (0: all cores but one).
	SuggestScanMemoryMB int
	SuggestScanWorkers  int
	SuggestScanNice     int // 0: the threads' priority left as it is
	// SuggestScanYield: while an API process is busy, a scan waits up to
	// this many times each long statement's time before the next (0: never).
	SuggestScanYield int
	// ImportYield: while an API process is busy, an import's slot waits up
	// to this many times each chunk's time after it (0: never).
	ImportYield int

	// MigrateDatabaseURL, when set, is where migrations run: PostgreSQL
	// itself when DatabaseURL goes through PgBouncer in transaction mode,
	// which cannot keep goose's session-level advisory lock.
	MigrateDatabaseURL string
}

// loadConfig reads the environment. A value that is set but not valid is
// an error naming its variable (a usage error): a typo must not start a
// service on a silent default.
func loadConfig(getenv func(string) string) (config, error) {
	e := &envReader{getenv: getenv}
	cfg := config{
		DatabaseURL:       e.str("LINKIT_DATABASE_URL", "postgres://localhost:5432/linkit?sslmode=disable"),
		RedisURL:          e.str("LINKIT_REDIS_URL", "redis://localhost:6379/0"),
		HTTPAddr:          e.str("LINKIT_HTTP_ADDR", ":8080"),
		WorkerHTTPAddr:    e.str("LINKIT_WORKER_HTTP_ADDR", ""),
		AdminToken:        e.str("LINKIT_ADMIN_TOKEN", ""),
		WorkerConcurrency: e.int("LINKIT_WORKER_CONCURRENCY", 16, 1),
		LogLevel:          e.logLevel("LINKIT_LOG_LEVEL"),
		DBMaxConns:        e.int("LINKIT_DB_MAX_CONNS", 20, 1),
		AuthCacheTTL:      e.duration("LINKIT_AUTH_CACHE_TTL", 10*time.Second),
		QueueNamespace:    e.str("LINKIT_QUEUE_NAMESPACE", ""),
		MetricsPublic:     e.str("LINKIT_METRICS_PUBLIC", "") != "",
		MaxImportBytes:    int64(e.int("LINKIT_IMPORT_MAX_MB", 5120, 1)) << 20,
		ImportLimits: api.ImportLimits{
			MaxColumns:    e.int("LINKIT_IMPORT_MAX_COLUMNS", importer.DefaultMaxColumns, 1),
			MaxFieldBytes: e.int("LINKIT_IMPORT_MAX_FIELD_KB", importer.DefaultMaxFieldBytes>>10, 1) << 10,
			MaxRowBytes:   e.int("LINKIT_IMPORT_MAX_ROW_KB", importer.DefaultMaxRowBytes>>10, 1) << 10,
		},
		ImportConcurrency: e.int("LINKIT_IMPORT_CONCURRENCY", 2, 1),
		ImportChunkRows:   e.int("LINKIT_IMPORT_CHUNK_ROWS", 0, 0),
		// 0 means "at once" here; the worker reads zero as its default.
		ImportStagingTTL: cmp.Or(e.duration("LINKIT_IMPORT_STAGING_TTL", time.Hour), -1),
		HTTP: httpLimits{
			ReadHeaderTimeout: e.duration("LINKIT_HTTP_READ_HEADER_TIMEOUT", 10*time.Second),
			ReadTimeout:       e.duration("LINKIT_HTTP_READ_TIMEOUT", 30*time.Second),
			WriteTimeout:      e.duration("LINKIT_HTTP_WRITE_TIMEOUT", 60*time.Second),
			IdleTimeout:       e.duration("LINKIT_HTTP_IDLE_TIMEOUT", 60*time.Second),
			MaxHeaderBytes:    e.int("LINKIT_HTTP_MAX_HEADER_KB", 64, 1) << 10,
		},
		UploadTimeout: e.duration("LINKIT_IMPORT_UPLOAD_TIMEOUT", time.Hour),
		MemoryLimit:   memoryLimit(getenv("GOMEMLIMIT"), e.int("LINKIT_MEMORY_LIMIT_MB", 200, 0)),

		// Privacy: how long finished jobs and import error reports are kept.
		RetentionJobs:          e.retention("LINKIT_RETENTION_JOBS", worker.DefaultRetentionJobs),
		RetentionImportErrors:  e.retention("LINKIT_RETENTION_IMPORT_ERRORS", worker.DefaultRetentionImportErrors),
		RetentionImportChanges: e.retention("LINKIT_RETENTION_IMPORT_CHANGES", worker.DefaultRetentionImportChanges),

		UploadProgressTimeout: e.duration("LINKIT_IMPORT_PROGRESS_TIMEOUT", api.DefaultUploadProgressTimeout),
		MaxUploads:            e.int("LINKIT_IMPORT_MAX_UPLOADS", api.DefaultMaxUploads, 1),
		MaxUploadsPerOrg:      e.int("LINKIT_IMPORT_MAX_UPLOADS_PER_ORG", api.DefaultMaxUploadsPerOrg, 1),

		RateLimits: api.RateLimits{
			Default: rateLimit(e.int("LINKIT_RATE_LIMIT", api.DefaultRateLimit, 0)),
			Upsert:  rateLimit(e.int("LINKIT_RATE_LIMIT_UPSERT", api.DefaultRateLimitUpsert, 0)),
			Import:  rateLimit(e.int("LINKIT_RATE_LIMIT_IMPORT", api.DefaultRateLimitImport, 0)),
		},

		MigrateDatabaseURL: e.str("LINKIT_MIGRATE_DATABASE_URL", ""),

		// 0 means "off" here; the API reads zero as its default.
		UpsertLinger:   cmp.Or(e.duration("LINKIT_UPSERT_LINGER", queue.DefaultLinger), -1),
		UpsertBatchMax: e.int("LINKIT_UPSERT_BATCH", queue.DefaultBatchMax, 1),
		UpsertPoll:     e.duration("LINKIT_UPSERT_POLL", worker.DefaultUpsertPoll),

		SuggestScanBacklog:  e.int("LINKIT_SUGGEST_SCAN_BACKLOG", worker.DefaultSuggestScanBacklog, 1),
		SuggestScanMemoryMB: e.int("LINKIT_SUGGEST_SCAN_MEMORY_MB", postgres.DefaultFuzzyScanMemory>>20, 1),
		SuggestScanWorkers:  e.int("LINKIT_SUGGEST_SCAN_WORKERS", 0, 0),
		SuggestScanNice:     e.int("LINKIT_SUGGEST_SCAN_NICE", postgres.DefaultFuzzyScanNice, 0),
		SuggestScanYield:    e.int("LINKIT_SUGGEST_SCAN_YIELD", worker.DefaultSuggestScanYield, 0),
		ImportYield:         e.int("LINKIT_IMPORT_YIELD", worker.DefaultImportYield, 0),

		WebhooksAllowPrivate: e.str("LINKIT_WEBHOOKS_ALLOW_PRIVATE", "") != "",
	}
	// Two staging connections per upload allowed, so none waits.
	cfg.DBStageConns = e.int("LINKIT_DB_STAGE_CONNS", 2*cfg.MaxUploads, 1)
	if len(e.errs) > 0 {
		return cfg, &envError{errors.Join(e.errs...)}
	}
	return cfg, nil
}

// envError is a bad configuration variable: a usage error (exit 2) that
// the command's usage would not help with.
type envError struct{ err error }

func (e *envError) Error() string   { return e.err.Error() }
func (e *envError) Unwrap() []error { return []error{errUsage, e.err} }

// envReader reads LINKIT_* variables, collecting what is wrong with them.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) str(name, def string) string {
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v
	}
	return def
}

// int reads a whole number of at least minimum.
func (e *envReader) int(name string, def, minimum int) int {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		return def
	}
	if n < minimum {
		e.errs = append(e.errs, fmt.Errorf("%s=%d must be at least %d", name, n, minimum))
		return def
	}
	return n
}

// duration reads a Go duration ("30s", "1h"; "0" too), not negative.
func (e *envReader) duration(name string, def time.Duration) time.Duration {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration such as 30s or 1h", name, v))
		return def
	}
	if d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q must not be negative", name, v))
		return def
	}
	return d
}

func (e *envReader) logLevel(name string) string {
	v := e.str(name, "info")
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not one of debug, info, warn, error", name, v))
		return "info"
	}
	return v
}

// rateLimit reads a LINKIT_RATE_LIMIT* value: 0 (or less) turns the bucket's
// server-wide limit off, which api.RateLimits spells as negative.
func rateLimit(perMinute int) int {
	if perMinute <= 0 {
		return -1
	}
	return perMinute
}

// httpLimits bound what one connection may hold: the time to send headers,
// an ordinary request's body and answer (streaming routes are exempt, see
// api.Config), an idle keep-alive, and the size of the request line and
// headers.
type httpLimits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// retention reads a retention window: days ("30d") or a Go duration
// ("720h"); "0" keeps forever (negative for the worker); empty or
// unreadable is def.
// retention reads a retention window: days ("30d") or a Go duration; "0"
// keeps forever (returned as -1).
func (e *envReader) retention(name string, def time.Duration) time.Duration {
	v := e.str(name, "")
	switch v {
	case "":
		return def
	case "0":
		return -1
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n > 0 {
			return time.Duration(n * float64(24*time.Hour))
		}
	} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	e.errs = append(e.errs, fmt.Errorf("%s=%q is not a window such as 30d or 12h (0 keeps forever)", name, v))
	return def
}

// memoryLimit is LINKIT_MEMORY_LIMIT_MB unless GOMEMLIMIT, which the
// runtime applies itself, is set.
func memoryLimit(gomemlimit string, mb int) int64 {
	if strings.TrimSpace(gomemlimit) != "" || mb <= 0 {
		return 0
	}
	return int64(mb) << 20
}

// migrateURL is where migrations run: LINKIT_MIGRATE_DATABASE_URL, else
// the service's database (after --database-url).
func (c *config) migrateURL() string { return cmp.Or(c.MigrateDatabaseURL, c.DatabaseURL) }

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	// Records of a traced request or task carry its trace_id and span_id.
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}
