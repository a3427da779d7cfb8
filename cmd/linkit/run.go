package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/worker"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `linkit — one clean record per real customer

Usage:
  linkit all       run the HTTP API and the workers (migrates first)
  linkit serve     run the HTTP API
  linkit work      run the workers
  linkit migrate   create the database if needed and apply migrations
  linkit org create --name NAME [--id ID] [--region CC] [--json]
  linkit key create --org ID [--json]
  linkit key revoke KEY_ID
  linkit import FILE [--location ID] [--tags a,b] [--dry-run] [--preview] [--errors out.csv] …
                   upload a customer file through the API (linkit import -h:
                   flags, exit codes 0 ok, 1 failed, 2 usage, 3 rows invalid)
  linkit health [--addr HOST:PORT] [--timeout 3s]
                   exit 0 when /healthz answers 200 (LINKIT_WORKER_HTTP_ADDR,
                   else LINKIT_HTTP_ADDR): the container HEALTHCHECK
  linkit version

Configuration comes from LINKIT_* environment variables (see README);
flags such as --database-url, --redis-url and --addr override them.
`

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

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: missing command", errUsage)
	}
	cfg := loadConfig(getenv)
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "all", "serve", "work":
		fs := cfg.flags(cmd, stderr)
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		r := map[string]roles{
			"all":   {api: true, worker: true, migrate: true},
			"serve": {api: true},
			"work":  {worker: true},
		}[cmd]
		return serve(ctx, cfg, r, stderr)
	case "migrate":
		fs := cfg.flags(cmd, stderr)
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return migrate(ctx, cfg, stdout)
	case "org":
		return orgCommand(ctx, cfg, rest, stdout, stderr)
	case "key":
		return keyCommand(ctx, cfg, rest, stdout, stderr)
	case "import":
		return importCommand(ctx, rest, getenv, stdout, stderr)
	case "health":
		return healthCommand(ctx, cfg, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "linkit", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
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
	MaxImportBytes    int64
	ImportLimits      api.ImportLimits
	ImportConcurrency int
	ImportChunkRows   int
	ImportStagingTTL  time.Duration
	HTTP              httpLimits
	UploadTimeout     time.Duration // imports still reading this long after their last update fail
	// Retention windows (negative: keep forever); see worker.Config.
	RetentionJobs         time.Duration
	RetentionImportErrors time.Duration
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

	// MigrateDatabaseURL, when set, is where migrations run: PostgreSQL
	// itself when DatabaseURL goes through PgBouncer in transaction mode,
	// which cannot keep goose's session-level advisory lock.
	MigrateDatabaseURL string
}

func loadConfig(getenv func(string) string) config {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	atoi := func(name string, def int) int {
		n, err := strconv.Atoi(env(name, ""))
		if err != nil {
			return def
		}
		return n
	}
	duration := func(name string, def time.Duration) time.Duration {
		d, err := time.ParseDuration(env(name, ""))
		if err != nil {
			return def
		}
		return d
	}
	return config{
		DatabaseURL:       env("LINKIT_DATABASE_URL", "postgres://localhost:5432/linkit?sslmode=disable"),
		RedisURL:          env("LINKIT_REDIS_URL", "redis://localhost:6379/0"),
		HTTPAddr:          env("LINKIT_HTTP_ADDR", ":8080"),
		WorkerHTTPAddr:    env("LINKIT_WORKER_HTTP_ADDR", ""),
		AdminToken:        env("LINKIT_ADMIN_TOKEN", ""),
		WorkerConcurrency: atoi("LINKIT_WORKER_CONCURRENCY", 16),
		LogLevel:          env("LINKIT_LOG_LEVEL", "info"),
		DBMaxConns:        atoi("LINKIT_DB_MAX_CONNS", 20),
		AuthCacheTTL:      duration("LINKIT_AUTH_CACHE_TTL", 10*time.Second),
		QueueNamespace:    env("LINKIT_QUEUE_NAMESPACE", ""),
		MetricsPublic:     env("LINKIT_METRICS_PUBLIC", "") != "",
		MaxImportBytes:    int64(atoi("LINKIT_IMPORT_MAX_MB", 5120)) << 20,
		ImportLimits: api.ImportLimits{
			MaxColumns:    atoi("LINKIT_IMPORT_MAX_COLUMNS", importer.DefaultMaxColumns),
			MaxFieldBytes: atoi("LINKIT_IMPORT_MAX_FIELD_KB", importer.DefaultMaxFieldBytes>>10) << 10,
			MaxRowBytes:   atoi("LINKIT_IMPORT_MAX_ROW_KB", importer.DefaultMaxRowBytes>>10) << 10,
		},
		ImportConcurrency: atoi("LINKIT_IMPORT_CONCURRENCY", 2),
		ImportChunkRows:   atoi("LINKIT_IMPORT_CHUNK_ROWS", 0),
		// 0 means "at once" here; the worker reads zero as its default.
		ImportStagingTTL: cmp.Or(duration("LINKIT_IMPORT_STAGING_TTL", time.Hour), -1),
		HTTP: httpLimits{
			ReadHeaderTimeout: duration("LINKIT_HTTP_READ_HEADER_TIMEOUT", 10*time.Second),
			ReadTimeout:       duration("LINKIT_HTTP_READ_TIMEOUT", 30*time.Second),
			WriteTimeout:      duration("LINKIT_HTTP_WRITE_TIMEOUT", 60*time.Second),
			IdleTimeout:       duration("LINKIT_HTTP_IDLE_TIMEOUT", 60*time.Second),
			MaxHeaderBytes:    atoi("LINKIT_HTTP_MAX_HEADER_KB", 64) << 10,
		},
		UploadTimeout: duration("LINKIT_IMPORT_UPLOAD_TIMEOUT", time.Hour),
		MemoryLimit:   memoryLimit(getenv("GOMEMLIMIT"), atoi("LINKIT_MEMORY_LIMIT_MB", 200)),

		// Privacy: how long finished jobs and import error reports are kept.
		RetentionJobs:         retention(env("LINKIT_RETENTION_JOBS", ""), worker.DefaultRetentionJobs),
		RetentionImportErrors: retention(env("LINKIT_RETENTION_IMPORT_ERRORS", ""), worker.DefaultRetentionImportErrors),

		// Two staging connections per upload allowed, so none waits.
		DBStageConns:          atoi("LINKIT_DB_STAGE_CONNS", 2*atoi("LINKIT_IMPORT_MAX_UPLOADS", api.DefaultMaxUploads)),
		UploadProgressTimeout: duration("LINKIT_IMPORT_PROGRESS_TIMEOUT", api.DefaultUploadProgressTimeout),
		MaxUploads:            atoi("LINKIT_IMPORT_MAX_UPLOADS", api.DefaultMaxUploads),
		MaxUploadsPerOrg:      atoi("LINKIT_IMPORT_MAX_UPLOADS_PER_ORG", api.DefaultMaxUploadsPerOrg),

		RateLimits: api.RateLimits{
			Default: rateLimit(atoi("LINKIT_RATE_LIMIT", api.DefaultRateLimit)),
			Upsert:  rateLimit(atoi("LINKIT_RATE_LIMIT_UPSERT", api.DefaultRateLimitUpsert)),
			Import:  rateLimit(atoi("LINKIT_RATE_LIMIT_IMPORT", api.DefaultRateLimitImport)),
		},

		MigrateDatabaseURL: env("LINKIT_MIGRATE_DATABASE_URL", ""),
	}
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
func retention(v string, def time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "0" {
		return -1
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n > 0 {
			return time.Duration(n * float64(24*time.Hour))
		}
		return def
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
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

func (c *config) flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL (LINKIT_DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "Redis URL (LINKIT_REDIS_URL)")
	fs.StringVar(&c.HTTPAddr, "addr", c.HTTPAddr, "HTTP listen address (LINKIT_HTTP_ADDR)")
	fs.IntVar(&c.WorkerConcurrency, "concurrency", c.WorkerConcurrency, "worker concurrency (LINKIT_WORKER_CONCURRENCY)")
	return fs
}

// migrateURL is where migrations run: LINKIT_MIGRATE_DATABASE_URL, else
// the service's database (after --database-url).
func (c *config) migrateURL() string { return cmp.Or(c.MigrateDatabaseURL, c.DatabaseURL) }

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
