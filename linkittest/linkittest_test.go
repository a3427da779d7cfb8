package linkittest_test

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/linkittest"
)

// A stack's queues live in the tests' Redis database, never in DB 0, which
// `make run` and a dashboard on it use.
func TestQueuesStayOutOfDBZero(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker())
	if db := s.Redis.(*redis.Client).Options().DB; db == 0 {
		t.Fatalf("tests' Redis %s is DB 0, make run's", s.RedisURL)
	}
	s.Do("POST", "/api/v1/customers/upsert?wait=0", map[string]any{"email": "q@example.com"}).Want(t, http.StatusAccepted)
	opt, err := redis.ParseURL(linkittest.RedisDBURL(0))
	if err != nil {
		t.Fatal(err)
	}
	db0 := redis.NewClient(opt)
	defer db0.Close()
	for _, c := range []struct {
		rdb  redis.UniversalClient
		want bool
	}{{s.Redis, true}, {db0, false}} {
		got, err := c.rdb.SIsMember(t.Context(), "asynq:queues", s.Names.Critical()).Result()
		if err != nil || got != c.want {
			t.Errorf("queue %s listed in %v: %v (%v), want %v", s.Names.Critical(), c.rdb, got, err, c.want)
		}
	}
}
