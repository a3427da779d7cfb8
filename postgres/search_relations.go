// Which organizations' search pages carry their relations in the page's statement.

package postgres

import (
	"sync"
	"time"
)

// relationOrgs remembers, for relationOrgsTTL, the organizations a bare
// search page found to have relations (tags, groups, visits, aliases):
// their pages read them in the page's statement. Others get bare pages,
// which cost PostgreSQL less and tell when that changes; the page's
// relations are then read apart. Either way a page shows what its
// organization has: the guard is read in the page's own snapshot.
const (
	relationOrgsTTL = 10 * time.Minute
	relationOrgsMax = 1024
)

type relationOrgs struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// has tells whether a search page of orgID should carry its relations.
func (o *relationOrgs) has(orgID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	at, ok := o.seen[orgID]
	return ok && time.Since(at) < relationOrgsTTL
}

// saw records that orgID has relations.
func (o *relationOrgs) saw(orgID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil || len(o.seen) >= relationOrgsMax {
		// Forgetting costs the others one more bare page each.
		o.seen = map[string]time.Time{}
	}
	o.seen[orgID] = time.Now()
}
