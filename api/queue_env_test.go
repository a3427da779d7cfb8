package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// redisURL is the Redis for tests; each test uses its own queue names.
func redisURL() string {
	if u := os.Getenv("LINKIT_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// queueEnv is an env whose API enqueues to real asynq queues.
type queueEnv struct {
	*env
	opt    asynq.RedisConnOpt
	names  queue.Names
	client *queue.Client
	deps   *worker.Deps
	stop   func() // stops the worker
	// stagingTTL is the worker's StagingTTL.
	stagingTTL time.Duration
}

type queueOpts struct {
	redisURL  string
	noWorker  bool
	reconcile time.Duration
	chunkRows int // import chunk size (0: the default)
	// chunkBytes bounds a chunk's values (0: the default)
	chunkBytes int
	// fatRowBytes: rows from this size weigh in the plan (0: the default)
	fatRowBytes int
	pageRows    int // rows a streamed chunk reads at once (0: the default)
	pageBytes   int // bytes of values a streamed chunk reads at once (0: the default)
	// workerChunkRows, when set, gives the worker its own store on the same
	// database with another chunk size (processes configured differently).
	workerChunkRows int
	// stagingTTL: how long finished imports keep staged rows (0: the default)
	stagingTTL time.Duration
	// planHeartbeat: how often a planner touches its import (0: the default)
	planHeartbeat time.Duration
	cfg           api.Config
}

func newQueueEnv(t *testing.T, o queueOpts) *queueEnv {
	t.Helper()
	if o.redisURL == "" {
		o.redisURL = redisURL()
	}
	dbURL := postgrestest.NewURL(t)
	openStore := func(chunkRows int) *postgres.Store {
		s, err := postgres.Open(context.Background(), dbURL, postgres.Options{MaxConns: 8, ChunkRows: chunkRows,
			ChunkPageRows: o.pageRows, ChunkPageBytes: o.pageBytes, ChunkBytes: o.chunkBytes, FatRowBytes: o.fatRowBytes,
			PlanHeartbeat: o.planHeartbeat})
		if err != nil {
			t.Fatalf("open test store: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	}
	store := openStore(o.chunkRows)
	workerStore := store
	if o.workerChunkRows > 0 {
		workerStore = openStore(o.workerChunkRows)
	}
	opt, err := queue.RedisOpt(o.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	names := queue.Names{Namespace: "t" + hex.EncodeToString(b)}
	ctx, cancel := context.WithCancel(context.Background())
	rdb := queue.NewRedis(opt)
	client := queue.NewClient(opt, names)
	inspector := asynq.NewInspector(opt)
	o.cfg.AdminToken = "admin-secret"
	h := api.NewServer(o.cfg, api.Deps{
		Store: store, Queue: client, Inspector: inspector, Names: names, RedisOpt: opt,
		Replies: queue.NewReplies(ctx, rdb, names, discard()),
	})
	srv := httptest.NewServer(h)
	e := &env{t: t, srv: srv, store: store}
	e.org, e.key = e.newOrg("Acme", "")
	qe := &queueEnv{env: e, opt: opt, names: names, client: client,
		deps: &worker.Deps{Store: workerStore, Redis: rdb, Client: client, Log: testLogger()}}
	qe.stop = func() {}
	qe.stagingTTL = o.stagingTTL
	if !o.noWorker {
		qe.startWorker(o.reconcile)
	}
	t.Cleanup(func() {
		qe.stop()
		srv.Close()
		cancel()
		for _, q := range names.All() {
			_ = inspector.DeleteQueue(q, true)
		}
		inspector.Close()
		client.Close()
		rdb.Close()
	})
	return qe
}

// startWorker runs an in-process worker until stop is called.
func (qe *queueEnv) startWorker(reconcile time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cfg := worker.Config{Concurrency: 8, Names: qe.names, ReconcileEvery: reconcile, ReconcileAge: reconcile,
			StagingTTL: qe.stagingTTL}
		if err := worker.Run(ctx, cfg, qe.opt, qe.deps); err != nil {
			qe.t.Errorf("worker: %v", err)
		}
	}()
	qe.stop = func() { cancel(); wg.Wait() }
}

// workerMux is the worker's task router, for delivering tasks by hand.
func workerMux(qe *queueEnv) *asynq.ServeMux { return worker.NewServeMux(qe.deps) }

// newServerEnv serves h over the given store with a fresh organization.
func newServerEnv(t *testing.T, store *postgres.Store, h http.Handler) *env {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, store: store}
	e.org, e.key = e.newOrg("Acme", "")
	return e
}

// testLogger shows worker logs with LINKIT_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("LINKIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return discard()
}
