// Package postgres is the store: every SQL statement of the service lives
// here, as constants next to the methods that run them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/migrations"
	"github.com/linkitworks/customers/telemetry"
)

// Store is the PostgreSQL system of record.
type Store struct {
	pool *pgxpool.Pool
	// stage takes the uploads' COPY streams (Options.StageConns): a pool
	// apart, so uploads, however many or slow, never hold the connections
	// reads, upserts and workers need. It is pool when StageConns is 0.
	stage *pgxpool.Pool
	opts  Options
	// samples tell rare search terms from common ones (search_sample.go).
	samples searchSamples
	// relationOrgs tell whose search pages carry relations (search_relations.go).
	relationOrgs relationOrgs
}

// Options tune a Store, given once to Open; the zero value is the
// production defaults. The chunk and page sizes exist for tests, which use
// small ones to exercise many chunks with few rows.
type Options struct {
	// MaxConns bounds the connection pool (0: pgx's default, the greater
	// of 4 and the number of CPUs).
	MaxConns int32
	// StageConns, when positive, gives staging an upload (two COPY streams
	// each) a pool of its own of this size; 0 stages through the main pool.
	StageConns int32
	// ChunkRows overrides DefaultChunkRows.
	ChunkRows int
	// ChunkBytes overrides DefaultChunkBytes.
	ChunkBytes int
	// FatRowBytes overrides DefaultFatRowBytes (tests weigh small rows).
	FatRowBytes int
	// ChunkPageRows overrides DefaultChunkPageRows.
	ChunkPageRows int
	// ChunkPageBytes overrides DefaultChunkPageBytes.
	ChunkPageBytes int
	// PlanHeartbeat overrides how often a planner touches its import
	// (DefaultPlanHeartbeat).
	PlanHeartbeat time.Duration
	// RevertBatch overrides how many customers a revert handles per
	// transaction (defaultRevertBatch).
	RevertBatch int
	// FuzzyScanMemory bounds a duplicate scan's records and blocks, in
	// bytes (0: DefaultFuzzyScanMemory): an organization above it is
	// scanned in several passes (LINKIT_SUGGEST_SCAN_MEMORY_MB).
	FuzzyScanMemory int64
	// FuzzyScanWorkers is how many goroutines compare a scan's pairs (0:
	// all cores but one; LINKIT_SUGGEST_SCAN_WORKERS).
	FuzzyScanWorkers int
	// FuzzyScanNice is the nice value of those goroutines' threads (0:
	// DefaultFuzzyScanNice; negative: not lowered; LINKIT_SUGGEST_SCAN_NICE).
	FuzzyScanNice int
	// FuzzyScanLease is how long a scan's hold on its organization lasts
	// unrenewed (0: DefaultFuzzyScanLease); tests shorten it.
	FuzzyScanLease time.Duration
}

// Open connects to databaseURL and checks the connection.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// A connection idle for a while is checked before use, so the first
	// requests after a database restart do not fail on dead connections.
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > 5*time.Second }
	// text[] parameters (the import chunks' writes) in one pass: textarray.go;
	// numeric columns read into float64 directly: numeric.go; empty jsonb
	// objects into maps: jsonb.go.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerNumeric(c.TypeMap())
		if err := registerJSONB(c.TypeMap()); err != nil {
			return err
		}
		return registerTextArray(c.TypeMap())
	}
	if telemetry.Enabled() {
		// A span per query, named by its operation, with the SQL text but
		// never the arguments (customers' data). Acquires are left out:
		// a span each would double the count for little news.
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithDisableAcquireTracer())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", Redact(databaseURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w", Redact(databaseURL), rootCause(err))
	}
	s := &Store{pool: pool, stage: pool, opts: opts}
	if opts.StageConns > 0 {
		stageCfg := cfg.Copy()
		stageCfg.MaxConns = opts.StageConns
		stageCfg.MinConns = 0
		if s.stage, err = pgxpool.NewWithConfig(ctx, stageCfg); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect staging pool %s: %w", Redact(databaseURL), err)
		}
	}
	return s, nil
}

// Close releases the pools.
func (s *Store) Close() {
	if s.stage != s.pool {
		s.stage.Close()
	}
	s.pool.Close()
}

// Pool exposes the pool to sibling packages' tests and benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether PostgreSQL answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Migrate creates the database when it is missing (if the role may) and
// applies every pending migration.
func Migrate(ctx context.Context, databaseURL string) error {
	if err := ensureDatabase(ctx, databaseURL); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s: %w", Redact(databaseURL), rootCause(err))
	}
	return migrations.Up(ctx, db)
}

// ensureDatabase creates the target database through the maintenance
// database "postgres" when connecting fails with "database does not exist".
func ensureDatabase(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		return fmt.Errorf("cannot reach PostgreSQL at %s: %w", Redact(databaseURL), rootCause(err))
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, rootCause(err))
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, rootCause(err))
	}
	return nil
}

// Redact hides the password of a connection URL for messages and logs.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// rootCause keeps the innermost message so an unreachable server is one line.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// interpretError turns database errors into the domain's error type.
func interpretError(err error, notFound *customer.Error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) && notFound != nil {
		return notFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57014": // query_canceled
			return err
		case strings.HasPrefix(pgErr.Code, "08"), pgErr.Code == "57P01", pgErr.Code == "57P03":
			return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Database unavailable"}
		}
	}
	// A server that refuses connections or drops them is down: 503, not 500.
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.As(err, &connectErr) ||
		errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Database unavailable"}
	}
	return err
}

// isUniqueViolation reports a unique-key conflict, optionally on one constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" &&
		(constraint == "" || pgErr.ConstraintName == constraint)
}

// A transaction that adds to the trigram index's pending list merges the
// list into the index once it is over gin_pending_list_limit. The service's
// transactions set it high (sqlBeginWrite; the upsert sends the same
// setting with its BEGIN) and leave merging to import chunks
// (sqlChunkPendingList: 128 MB) and the workers' flush, so a checkout never
// waits seconds for it. Past 256 MB (no worker flushing) they merge again.
const (
	sqlServicePendingList = `SET LOCAL gin_pending_list_limit = '256MB'`
	// One round trip: the simple protocol takes both statements.
	sqlBeginWrite = `BEGIN; ` + sqlServicePendingList
)

// inTx runs fn in a transaction that commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: sqlBeginWrite})
	if err != nil {
		return interpretError(fmt.Errorf("begin: %w", err), nil)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return interpretError(fmt.Errorf("commit: %w", err), nil)
	}
	return nil
}

// isForeignKeyViolation reports a reference to a missing row.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// FlushSearchIndex merges the trigram index's pending list into the index
// (imports fill it in bulk; searches must scan what is still pending).
func (s *Store) FlushSearchIndex(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, sqlFlushSearch)
	return interpretError(err, nil)
}

// TidySearchIndex is the periodic flush: it leaves the list alone while an
// import is merging, whose inserts clean it in large batches themselves —
// a third process flushing small batches beside them took a fifth of the
// database's busy time. The import's last chunk flushes (FlushSearchIndex).
func (s *Store) TidySearchIndex(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, sqlTidySearch)
	return interpretError(err, nil)
}

const (
	sqlFlushSearch = `SELECT gin_clean_pending_list('customers_search'::regclass)`
	sqlTidySearch  = sqlFlushSearch + ` WHERE NOT EXISTS (SELECT 1 FROM imports WHERE status = 'processing')`
)
