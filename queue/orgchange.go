package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// OrgChanges tells every process that an organization changed (its
// settings, a key revoked), so in-memory caches drop it at once instead of
// waiting for their TTL. Each process subscribes once; listeners get the
// organization's id.
type OrgChanges struct {
	rdb   redis.UniversalClient
	names Names

	mu        sync.Mutex
	listeners []func(orgID string)
}

// NewOrgChanges subscribes to the namespace's change channel until ctx ends.
func NewOrgChanges(ctx context.Context, rdb redis.UniversalClient, names Names, log *slog.Logger) *OrgChanges {
	c := &OrgChanges{rdb: rdb, names: names}
	// Subscribe before returning so no change published after this is missed.
	sub := rdb.Subscribe(ctx, orgChangeChannel(names))
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := sub.Receive(waitCtx); err != nil {
		log.Warn("org change channel not subscribed yet; retrying in background", "err", err)
	}
	go receive(ctx, sub, c.deliver)
	return c
}

// OnChange registers fn to run (on the listening goroutine) for every change.
func (c *OrgChanges) OnChange(fn func(orgID string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, fn)
}

// Publish announces that orgID changed, to every subscribed process
// (this one included).
func (c *OrgChanges) Publish(ctx context.Context, orgID string) error {
	return PublishOrgChange(ctx, c.rdb, c.names, orgID)
}

// PublishOrgChange announces that orgID changed from a process that does
// not listen itself (linkit key revoke).
func PublishOrgChange(ctx context.Context, rdb redis.UniversalClient, names Names, orgID string) error {
	if err := rdb.Publish(ctx, orgChangeChannel(names), orgID).Err(); err != nil {
		return fmt.Errorf("publish change of %s: %w", orgID, err)
	}
	return nil
}

func orgChangeChannel(names Names) string { return "linkit:org-changed:" + names.Namespace }

// deliver calls every listener with a changed organization's id.
func (c *OrgChanges) deliver(orgID string) {
	c.mu.Lock()
	listeners := c.listeners
	c.mu.Unlock()
	for _, fn := range listeners {
		fn(orgID)
	}
}
