// Package linkittest runs the service in-process for tests, the way
// net/http/httptest runs a server: a Stack is the API on an httptest server
// over its own PostgreSQL database (postgres/postgrestest), its own asynq
// queue namespace on the tests' Redis database, an optional in-process
// worker, and one organization with an API key.
//
// Tests use their own Redis database so that a dashboard of the Redis `make
// run` uses (DB 0) never lists the test suite's queues: LINKIT_TEST_REDIS_URL,
// default redis://127.0.0.1:6379/9 (DefaultRedisURL). Tests that flush Redis
// take a database of their own with RedisDBURL.
package linkittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// DefaultRedisURL is the tests' Redis database: not DB 0, which `make run`
// and a local dashboard use.
const DefaultRedisURL = "redis://127.0.0.1:6379/9"

// RedisURL is the Redis of tests: LINKIT_TEST_REDIS_URL or DefaultRedisURL.
func RedisURL() string {
	if u := os.Getenv("LINKIT_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// RedisDBURL is RedisURL on database db, for a test that flushes its
// database and so must be alone on it.
func RedisDBURL(db int) string {
	u, err := url.Parse(RedisURL())
	if err != nil {
		panic(fmt.Sprintf("LINKIT_TEST_REDIS_URL: %v", err))
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

// Logger discards logs unless LINKIT_TEST_LOG is set, then writes text to stderr.
func Logger() *slog.Logger {
	if os.Getenv("LINKIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// Stack is the service running in-process (see the package comment).
type Stack struct {
	// Client calls the API as the stack's organization (New only: Start
	// creates no organization).
	Client
	Org    string // the organization's id
	Server *httptest.Server

	DatabaseURL string
	Store       *postgres.Store
	// WorkerStore is the worker's store: Store unless WithWorkerStore.
	WorkerStore *postgres.Store

	// The queue; all nil WithoutQueue.
	RedisURL  string
	RedisOpt  asynq.RedisConnOpt
	Redis     redis.UniversalClient
	Names     queue.Names
	Queue     *queue.Client
	Inspector *asynq.Inspector
	// Deps are the worker handlers' dependencies: worker.NewServeMux(s.Deps)
	// delivers tasks by hand.
	Deps *worker.Deps
	// Registry holds the stack's API and worker metrics, as one process's
	// /metrics shows them (another API, AnotherAPI, keeps its own).
	Registry *prometheus.Registry

	cfg        config
	stores     []*postgres.Store
	cancel     context.CancelFunc
	stopWorker func() error
}

type config struct {
	databaseURL string
	redisURL    string
	store       postgres.Options
	workerStore *postgres.Options
	api         api.Config
	noQueue     bool
	noWorker    bool
	worker      worker.Config
	log         *slog.Logger
	orgName     string
	namespace   string
}

// Option configures a Stack.
type Option func(*config)

// WithDatabaseURL uses this database instead of a fresh one (a proxy in
// front of a test database, the benchmark's database).
func WithDatabaseURL(u string) Option { return func(c *config) { c.databaseURL = u } }

// WithRedisURL uses this Redis instead of RedisURL().
func WithRedisURL(u string) Option { return func(c *config) { c.redisURL = u } }

// WithStore opens the store with these options (chunk sizes; MaxConns
// defaults to 8).
func WithStore(opts postgres.Options) Option { return func(c *config) { c.store = opts } }

// WithWorkerStore gives the worker a store of its own on the same database
// with other options: processes configured differently.
func WithWorkerStore(opts postgres.Options) Option {
	return func(c *config) { c.workerStore = &opts }
}

// WithAPI configures the API (AdminToken defaults to "admin-secret").
func WithAPI(cfg api.Config) Option { return func(c *config) { c.api = cfg } }

// WithoutQueue serves the API with no Redis: endpoints that need the queue
// answer 503. Implies WithoutWorker.
func WithoutQueue() Option { return func(c *config) { c.noQueue, c.noWorker = true, true } }

// WithoutWorker leaves tasks queued until StartWorker (or another process) runs them.
func WithoutWorker() Option { return func(c *config) { c.noWorker = true } }

// WithWorker configures the in-process worker New starts (Names are the
// stack's; Concurrency defaults to 8).
func WithWorker(cfg worker.Config) Option { return func(c *config) { c.worker = cfg } }

// WithLogger gives the API and the worker this logger (default Logger()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithOrg names the organization New creates (default "Acme").
func WithOrg(name string) Option { return func(c *config) { c.orgName = name } }

// WithNamespace prefixes the random queue namespace (default "t").
func WithNamespace(prefix string) Option { return func(c *config) { c.namespace = prefix } }

// New starts a Stack for one test on a fresh database, with an organization
// and key, and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.databaseURL == "" {
		opts = append(opts, WithDatabaseURL(postgrestest.NewURL(t)))
	}
	s, err := Start(context.Background(), opts...)
	if err != nil {
		t.Fatalf("start test stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop test stack: %v", err)
		}
	})
	s.T = t
	name := c.orgName
	if name == "" {
		name = "Acme"
	}
	s.Org, s.Key = NewOrg(t, s.Store, name, "")
	if !s.cfg.noWorker {
		s.StartWorker(s.cfg.worker)
	}
	return s
}

// Start runs a Stack on the database WithDatabaseURL names, without an
// organization or a worker, for programs (the benchmark); Close stops it.
func Start(ctx context.Context, opts ...Option) (*Stack, error) {
	c := config{redisURL: RedisURL(), namespace: "t", log: Logger()}
	for _, o := range opts {
		o(&c)
	}
	if c.databaseURL == "" {
		return nil, errors.New("no database url")
	}
	if c.api.AdminToken == "" {
		c.api.AdminToken = "admin-secret"
	}
	s := &Stack{cfg: c, DatabaseURL: c.databaseURL, stopWorker: func() error { return nil }}
	var err error
	if s.Store, err = s.openStore(ctx, c.store); err != nil {
		return nil, err
	}
	s.WorkerStore = s.Store
	if c.workerStore != nil {
		if s.WorkerStore, err = s.openStore(ctx, *c.workerStore); err != nil {
			s.Close()
			return nil, err
		}
	}
	if !c.noQueue {
		if err := s.startQueue(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	var qctx context.Context
	qctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.Server = s.serve(qctx, c.api, s.Redis)
	s.URL = s.Server.URL
	return s, nil
}

// serve starts an API over the stack's store and queues, wired as
// cmd/linkit's serve wires it; rdb carries its replies and org changes.
func (s *Stack) serve(ctx context.Context, cfg api.Config, rdb redis.UniversalClient) *httptest.Server {
	deps := api.Deps{Store: s.Store, Log: s.cfg.log, Checks: []api.Check{{Name: "postgres", Ping: s.Store.Ping}}}
	if rdb != nil {
		deps.Queue, deps.Inspector, deps.Names, deps.RedisOpt = s.Queue, s.Inspector, s.Names, s.RedisOpt
		deps.Replies = queue.NewReplies(ctx, rdb, s.Names, s.cfg.log)
		deps.OrgChanges = queue.NewOrgChanges(ctx, rdb, s.Names, s.cfg.log)
		deps.RateLimitRedis = rdb
		deps.Activity = queue.NewActivity(rdb, s.Names)
		go deps.Activity.Run(ctx)
		deps.Checks = append(deps.Checks, api.Check{Name: "redis", Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
	}
	if s.Server == nil {
		deps.Registry = s.Registry // nil WithoutQueue: a private one
	}
	srv := httptest.NewUnstartedServer(api.NewServer(cfg, deps))
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	return srv
}

// AnotherAPI starts a second API process over the stack's database and
// queues, with its own configuration and Redis connection (caches that must
// learn of another process's changes); it stops when the test ends.
func (s *Stack) AnotherAPI(t testing.TB, cfg api.Config) Client {
	t.Helper()
	if cfg.AdminToken == "" {
		cfg.AdminToken = s.cfg.api.AdminToken
	}
	var rdb redis.UniversalClient
	if s.RedisOpt != nil {
		rdb = queue.NewRedis(s.RedisOpt)
		t.Cleanup(func() { rdb.Close() })
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := s.serve(ctx, cfg, rdb)
	t.Cleanup(func() { srv.Close(); cancel() })
	return Client{T: t, URL: srv.URL, Key: s.Key}
}

func (s *Stack) openStore(ctx context.Context, opts postgres.Options) (*postgres.Store, error) {
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	st, err := postgres.Open(ctx, s.DatabaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("open test store: %w", err)
	}
	s.stores = append(s.stores, st)
	return st, nil
}

func (s *Stack) startQueue(ctx context.Context) error {
	opt, err := queue.RedisOpt(s.cfg.redisURL)
	if err != nil {
		return err
	}
	s.RedisURL, s.RedisOpt = s.cfg.redisURL, opt
	s.Redis = queue.NewRedis(opt)
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", s.cfg.redisURL, err)
	}
	s.Names = queue.Names{Namespace: s.cfg.namespace + randomHex(6)}
	s.Queue = queue.NewClient(opt, s.Names)
	s.Inspector = asynq.NewInspector(opt)
	s.Registry = prometheus.NewRegistry()
	s.Deps = &worker.Deps{Store: s.WorkerStore, Redis: s.Redis, Client: s.Queue, Log: s.cfg.log,
		Metrics: worker.NewMetrics(s.Registry), Activity: queue.NewActivity(s.Redis, s.Names)}
	return nil
}

// StartWorker runs the worker in-process on the stack's queues until
// StopWorker or Close; a running worker is stopped first.
func (s *Stack) StartWorker(cfg worker.Config) {
	if err := s.StopWorker(); err != nil && s.T != nil {
		s.T.Errorf("worker: %v", err)
	}
	cfg.Names = s.Names
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = worker.Run(ctx, cfg, s.RedisOpt, s.Deps) })
	s.stopWorker = func() error {
		cancel()
		wg.Wait()
		s.stopWorker = func() error { return nil }
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		return nil
	}
}

// StopWorker stops the in-process worker, letting in-flight tasks finish.
func (s *Stack) StopWorker() error { return s.stopWorker() }

// Close stops the worker and the API, deletes the stack's queues and
// closes its connections; it reports the worker's error.
func (s *Stack) Close() error {
	err := s.StopWorker()
	if s.Server != nil {
		s.Server.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.Inspector != nil {
		for _, q := range s.Names.All() {
			_ = s.Inspector.DeleteQueue(q, true)
		}
		s.Inspector.Close()
	}
	if s.Queue != nil {
		s.Queue.Close()
	}
	if s.Redis != nil {
		s.Redis.Close()
	}
	for _, st := range s.stores {
		st.Close()
	}
	return err
}

// NewOrg creates an organization with an API key in store.
func NewOrg(t testing.TB, store *postgres.Store, name, region string) (orgID, key string) {
	t.Helper()
	o := &customer.Organization{Name: name, DefaultRegion: region}
	if err := store.CreateOrganization(context.Background(), o); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	k, err := store.CreateAPIKey(context.Background(), o.ID)
	if err != nil {
		t.Fatalf("create api key: %v", err)
	}
	return o.ID, k.Secret
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
