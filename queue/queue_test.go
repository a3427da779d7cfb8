package queue_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/queue"
)

// setup connects to the tests' Redis under a fresh namespace, deleted at the end.
func setup(t *testing.T) (asynq.RedisConnOpt, queue.Names) {
	t.Helper()
	opt, err := queue.RedisOpt(linkittest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	names := queue.Names{Namespace: "q" + hex.EncodeToString(b)}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() {
		for _, q := range names.All() {
			_ = insp.DeleteQueue(q, true)
		}
		insp.Close()
	})
	return opt, names
}

func pending(t *testing.T, opt asynq.RedisConnOpt, queueName string) []*asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(queueName)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// Enqueueing the same job or import step twice (a retried request, the
// reconciler) leaves one task: the task id is the job's or the step's.
func TestEnqueueIsIdempotent(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	c := queue.NewClient(opt, names)
	defer c.Close()
	ctx := t.Context()
	up := queue.UpsertPayload{JobID: "job_1", OrgID: "org_1", Request: &dedupe.Request{Record: dedupe.Incoming{Email: "a@example.com"}}}
	for range 2 {
		if err := c.EnqueueUpsert(ctx, up); err != nil {
			t.Fatalf("enqueue upsert: %v", err)
		}
	}
	im := queue.ImportPayload{OrgID: "org_1", ImportID: "imp_1"}
	for range 2 {
		if err := c.EnqueueImportPlan(ctx, im); err != nil {
			t.Fatalf("enqueue plan: %v", err)
		}
		for chunk := range 2 {
			im.Chunk = chunk
			if err := c.EnqueueImportChunk(ctx, im); err != nil {
				t.Fatalf("enqueue chunk %d: %v", chunk, err)
			}
		}
		im.Chunk = 0
	}

	critical := pending(t, opt, names.Critical())
	if len(critical) != 1 || critical[0].ID != "job_1" || critical[0].Type != queue.TypeUpsert {
		t.Fatalf("critical queue: %d tasks %+v", len(critical), critical)
	}
	var ids []string
	for _, ti := range pending(t, opt, names.Imports()) {
		ids = append(ids, ti.Type+" "+ti.ID)
	}
	want := map[string]bool{"import:plan imp_1:plan": true, "import:chunk imp_1:chunk:0": true, "import:chunk imp_1:chunk:1": true}
	if len(ids) != len(want) {
		t.Fatalf("imports queue: %q", ids)
	}
	for _, id := range ids {
		if !want[id] {
			t.Fatalf("imports queue: %q", ids)
		}
	}
	if n := len(pending(t, opt, names.Default())); n != 0 {
		t.Fatalf("%d tasks in the default queue", n)
	}
}

// A worker's reply reaches the process waiting on that job, and only it.
func TestRepliesRoundTrip(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	rdb := queue.NewRedis(opt)
	defer rdb.Close()
	ctx := t.Context()
	r := queue.NewReplies(ctx, rdb, names, slog.New(slog.DiscardHandler))
	other := queue.NewReplies(ctx, rdb, names, slog.New(slog.DiscardHandler))
	if r.Channel() == other.Channel() || !strings.Contains(r.Channel(), names.Namespace) {
		t.Fatalf("reply channels %q and %q", r.Channel(), other.Channel())
	}
	mine, cancel := r.Wait("job_a")
	defer cancel()
	elsewhere, cancelOther := other.Wait("job_a")
	defer cancelOther()
	unrelated, cancelB := r.Wait("job_b")
	defer cancelB()

	body := []byte("{\"action\":\"created\",\"note\":\"two\\nlines\"}")
	if err := queue.Publish(ctx, rdb, r.Channel(), "job_a", body); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-mine:
		if !bytes.Equal(got, body) {
			t.Fatalf("reply %q, want %q", got, body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reply not delivered")
	}
	select {
	case got := <-unrelated:
		t.Fatalf("job_b received job_a's reply %q", got)
	case got := <-elsewhere:
		t.Fatalf("another process received the reply %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	// No channel: the caller did not wait, nothing is sent.
	if err := queue.Publish(ctx, rdb, "", "job_a", body); err != nil {
		t.Fatalf("publish without a channel: %v", err)
	}
}

// asynq's own logs go through slog, at their level, marked as asynq's.
func TestLoggerAdapter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := queue.Logger{L: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Debug("polling ", 3)
	l.Info("started")
	l.Warn("lease ", "lost")
	l.Error("cannot ", "connect")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{`level=DEBUG msg="polling 3"`, `level=INFO msg=started`, `level=WARN msg="lease lost"`, `level=ERROR msg="cannot connect"`}
	if len(lines) != len(want) {
		t.Fatalf("logged:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !strings.HasSuffix(lines[i], "component=asynq") {
			t.Errorf("line %d %q, want %s … component=asynq", i, lines[i], w)
		}
	}
}

func TestRedisOpt(t *testing.T) {
	t.Parallel()
	opt, err := queue.RedisOpt("redis://:pw@127.0.0.1:6390/3")
	if c, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || c.Addr != "127.0.0.1:6390" || c.DB != 3 || c.Password != "pw" {
		t.Fatalf("redis:// → %#v, %v", opt, err)
	}
	opt, err = queue.RedisOpt("redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7000")
	if c, ok := opt.(asynq.RedisClusterClientOpt); err != nil || !ok || len(c.Addrs) != 2 || c.Addrs[1] != "10.0.0.2:7000" || c.Password != "pw" {
		t.Fatalf("redis-cluster:// → %#v, %v", opt, err)
	}
	if _, err := queue.RedisOpt("http://127.0.0.1:6379"); err == nil {
		t.Fatal("an http URL was accepted")
	}
	// A namespace keeps a test's queues apart from the service's.
	n := queue.Names{Namespace: "x1"}
	if n.Critical() != "critical_x1" || n.Imports() != "imports_x1" || (queue.Names{}).Default() != "default" {
		t.Fatalf("names %v %v", n.All(), queue.Names{}.All())
	}
}
