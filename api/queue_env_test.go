package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// queueEnv is an env whose API enqueues to real asynq queues.
type queueEnv struct {
	*env
	opt   asynq.RedisConnOpt
	names queue.Names
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
	revertBatch int // customers a revert handles per transaction (0: the default)
	// workerChunkRows, when set, gives the worker its own store on the same
	// database with another chunk size (processes configured differently).
	workerChunkRows int
	// stagingTTL: how long finished imports keep staged rows (0: the default)
	stagingTTL time.Duration
	// planHeartbeat: how often a planner touches its import (0: the default)
	planHeartbeat time.Duration
	// stageConns: the staging pool's size (0: staging shares the pool)
	stageConns int32
	cfg        api.Config
}

func newQueueEnv(t *testing.T, o queueOpts) *queueEnv {
	t.Helper()
	storeOpts := func(chunkRows int) postgres.Options {
		return postgres.Options{ChunkRows: chunkRows, ChunkPageRows: o.pageRows, ChunkPageBytes: o.pageBytes,
			ChunkBytes: o.chunkBytes, FatRowBytes: o.fatRowBytes, PlanHeartbeat: o.planHeartbeat, StageConns: o.stageConns, RevertBatch: o.revertBatch}
	}
	opts := []linkittest.Option{linkittest.WithAPI(o.cfg), linkittest.WithStore(storeOpts(o.chunkRows)), linkittest.WithoutWorker()}
	if o.redisURL != "" {
		opts = append(opts, linkittest.WithRedisURL(o.redisURL))
	}
	if o.workerChunkRows > 0 {
		opts = append(opts, linkittest.WithWorkerStore(storeOpts(o.workerChunkRows)))
	}
	s := linkittest.New(t, opts...)
	qe := &queueEnv{env: wrap(t, s), opt: s.RedisOpt, names: s.Names, stagingTTL: o.stagingTTL}
	if !o.noWorker {
		qe.startWorker(o.reconcile)
	}
	return qe
}

// startWorker runs an in-process worker until the test ends.
func (qe *queueEnv) startWorker(reconcile time.Duration) {
	qe.stack.StartWorker(worker.Config{Concurrency: 8, ReconcileEvery: reconcile, ReconcileAge: reconcile,
		StagingTTL: qe.stagingTTL})
}

// workerMux is the worker's task router, for delivering tasks by hand.
func workerMux(qe *queueEnv) *asynq.ServeMux { return worker.NewServeMux(qe.stack.Deps) }

// newServerEnv serves h over the given store with a fresh organization.
func newServerEnv(t *testing.T, store *postgres.Store, h http.Handler) *env {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL, store: store}
	e.org, e.key = e.newOrg("Acme", "")
	return e
}
