package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// asynq keeps a running task "active" under a 30 s lease that its server's
// heartbeat extends every 5 s. After a kill -9 its own recoverer re-queues
// the task only once the lease has been expired for another 30 s (both
// constants in asynq), so in-flight work resumed ~60 s after a restart.
// RecoverOrphans does it as soon as the lease has gone unextended for
// OrphanAfter and no live server reports working on the task.
const (
	leaseDuration = 30 * time.Second // asynq's rdb.LeaseDuration
	// OrphanAfter is how long a lease must go unextended: two missed
	// heartbeats of a live server, with room for a slow Redis round trip.
	OrphanAfter = 10 * time.Second
)

// requeueOrphan is asynq's own requeue (rdb.Requeue, used at shutdown):
// off the active list and the lease set, back to the head of pending. It
// does nothing when the task moved meanwhile (finished, or recovered by
// asynq's recoverer).
var requeueOrphan = redis.NewScript(`
local lease = redis.call("ZSCORE", KEYS[2], ARGV[1])
if not lease or tonumber(lease) > tonumber(ARGV[2]) then return 0 end
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then return 0 end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
return 1`)

// RecoverOrphans puts back to pending the active tasks of every queue whose
// worker died, and returns how many it moved. Tasks are idempotent, so a
// worker that was merely stalled for OrphanAfter at worst repeats a no-op.
func RecoverOrphans(ctx context.Context, rdb redis.UniversalClient, insp *asynq.Inspector, names Names) (int, error) {
	servers, err := insp.Servers()
	if err != nil {
		return 0, fmt.Errorf("list workers: %w", err)
	}
	working := map[string]bool{}
	for _, s := range servers {
		for _, w := range s.ActiveWorkers {
			working[w.Queue+"\x00"+w.TaskID] = true
		}
	}
	// A live lease ends at least leaseDuration-OrphanAfter from now.
	cutoff := time.Now().Add(leaseDuration - OrphanAfter).Unix()
	n := 0
	var errs []error
	for _, q := range names.All() {
		prefix := "asynq:{" + q + "}:"
		ids, err := rdb.ZRangeByScore(ctx, prefix+"lease", &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10)}).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("leases of %s: %w", q, err))
			continue
		}
		for _, id := range ids {
			if working[q+"\x00"+id] {
				continue
			}
			moved, err := requeueOrphan.Run(ctx, rdb, []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + id},
				id, cutoff).Int()
			if err != nil {
				errs = append(errs, fmt.Errorf("requeue %s: %w", id, err))
				continue
			}
			n += moved
		}
	}
	return n, errors.Join(errs...)
}

// ImportTasksLost reports whether Redis lost an import's work: neither its
// plan task nor a task for any of its pending chunks exists (a Redis
// restart without persistence, a flush, a failover to a stale replica).
func ImportTasksLost(ctx context.Context, rdb redis.UniversalClient, names Names, importID string, pending []int) (bool, error) {
	prefix := "asynq:{" + names.Imports() + "}:t:"
	keys := []string{prefix + importPlanTaskID(importID)}
	for _, c := range pending {
		keys = append(keys, prefix+importChunkTaskID(importID, c))
	}
	pipe := rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		exists[i] = pipe.Exists(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("tasks of import %s: %w", importID, err)
	}
	if exists[0].Val() == 1 {
		return false, nil // the planner (re)queues the chunks
	}
	if len(pending) == 0 {
		return true, nil // planned by nobody
	}
	// A few of the pending chunks are queued at a time, and each merged
	// one queues the next (worker: queueChunks): lost when none is.
	for _, e := range exists[1:] {
		if e.Val() == 1 {
			return false, nil
		}
	}
	return true, nil
}
