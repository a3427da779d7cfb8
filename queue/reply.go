package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replies lets HTTP handlers wait for their job's result. Each API process
// subscribes once to its own channel and routes messages to waiters through
// an in-process map: one subscription, not one per request.
type Replies struct {
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	mu      sync.Mutex
	waiters map[string]chan []byte
}

// NewReplies subscribes to a fresh per-process channel until ctx ends.
func NewReplies(ctx context.Context, rdb redis.UniversalClient, names Names, log *slog.Logger) *Replies {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &Replies{
		rdb:     rdb,
		channel: "linkit:replies:" + names.Namespace + ":" + hex.EncodeToString(b),
		log:     log,
		waiters: map[string]chan []byte{},
	}
	// Subscribe before returning so no reply sent after this can be missed.
	sub := rdb.Subscribe(ctx, r.channel)
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := sub.Receive(waitCtx); err != nil {
		log.Warn("reply channel not subscribed yet; retrying in background", "err", err)
	}
	go receive(ctx, sub, r.deliver)
	return r
}

// Channel names this process's reply channel (goes into task payloads).
func (r *Replies) Channel() string { return r.channel }

// Wait registers interest in a job before it is enqueued; the returned
// channel receives its result once. cancel must be called when done.
func (r *Replies) Wait(jobID string) (<-chan []byte, func()) {
	ch := make(chan []byte, 1)
	r.mu.Lock()
	r.waiters[jobID] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.waiters, jobID)
		r.mu.Unlock()
	}
}

func (r *Replies) deliver(msg string) {
	jobID, body, ok := bytes.Cut([]byte(msg), []byte("\n"))
	if !ok {
		return
	}
	r.mu.Lock()
	ch := r.waiters[string(jobID)]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- body:
		default:
		}
	}
}

// receive calls fn with each message's payload until ctx ends; go-redis
// re-subscribes by itself after a dropped connection.
func receive(ctx context.Context, sub *redis.PubSub, fn func(payload string)) {
	defer sub.Close()
	ch := sub.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			fn(msg.Payload)
		}
	}
}

// Publish sends a job's reply (a postgres.UpsertReply as JSON) to the
// process waiting on channel.
func Publish(ctx context.Context, rdb redis.UniversalClient, channel, jobID string, body []byte) error {
	if channel == "" {
		return nil
	}
	msg := make([]byte, 0, len(jobID)+1+len(body))
	msg = append(append(append(msg, jobID...), '\n'), body...)
	return rdb.Publish(ctx, channel, msg).Err()
}

// PublishAll sends many jobs' replies (job id → body) to one channel in
// one round trip.
func PublishAll(ctx context.Context, rdb redis.UniversalClient, channel string, replies map[string][]byte) error {
	if channel == "" || len(replies) == 0 {
		return nil
	}
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for jobID, body := range replies {
			msg := make([]byte, 0, len(jobID)+1+len(body))
			p.Publish(ctx, channel, append(append(append(msg, jobID...), '\n'), body...))
		}
		return nil
	})
	return err
}
