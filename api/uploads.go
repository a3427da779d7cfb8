// Bounds of uploads in progress: a deadline for progress, and how many at once.

package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/linkitworks/customers/customer"
)

// Defaults of the Config upload bounds.
const (
	DefaultUploadProgressTimeout = 30 * time.Second
	DefaultMaxUploads            = 4
	DefaultMaxUploadsPerOrg      = 2
)

// uploadRetryAfter is what a refused upload is told to wait, in seconds.
const uploadRetryAfter = 10

func (c Config) uploadProgressTimeout() time.Duration {
	if c.UploadProgressTimeout > 0 {
		return c.UploadProgressTimeout
	}
	return DefaultUploadProgressTimeout
}

// progressBody cuts an upload whose client stops sending: each read must
// bring bytes within timeout of being asked for them. The deadline is the
// connection's, set before every read, so the server's own pauses (a
// slow COPY) never count against the client.
type progressBody struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

func (b *progressBody) Read(p []byte) (int, error) {
	// A writer that cannot take deadlines (none of ours) leaves the
	// upload as bounded as before: by the client's disconnect.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.r.Read(p)
	var netErr net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()) {
		err = &customer.Error{Code: customer.ETIMEOUT,
			Message: fmt.Sprintf("Upload stalled: no data received for %s", b.timeout),
			Details: map[string]any{"progress_timeout_seconds": b.timeout.Seconds()}}
	}
	return n, err
}

// uploadSlots counts the uploads in progress, overall and per organization.
// An upload holds two staging connections while it lasts, however slowly
// its client sends.
type uploadSlots struct {
	mu     sync.Mutex
	total  int
	perOrg map[string]int
}

// acquireUpload takes a slot for an upload of the organization, or answers
// why not: 429 when the organization has its share in progress, 503 when
// the server has; both with Retry-After.
func (s *Server) acquireUpload(w http.ResponseWriter, orgID string) (release func(), err error) {
	maxAll := cmpOr(s.cfg.MaxUploads, DefaultMaxUploads)
	maxOrg := cmpOr(s.cfg.MaxUploadsPerOrg, DefaultMaxUploadsPerOrg)
	u := &s.uploads
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.perOrg[orgID] >= maxOrg:
		w.Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
		return nil, &customer.Error{Code: customer.ERATELIMIT, Message: "Too many uploads in progress for this organization",
			Details: map[string]any{"max_uploads_per_organization": maxOrg}}
	case u.total >= maxAll:
		w.Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
		return nil, &customer.Error{Code: customer.EUNAVAILABLE, Message: "Too many uploads in progress, try again",
			Details: map[string]any{"max_uploads": maxAll}}
	}
	u.total++
	u.perOrg[orgID]++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.total--
		if u.perOrg[orgID]--; u.perOrg[orgID] <= 0 {
			delete(u.perOrg, orgID)
		}
	}, nil
}

func cmpOr(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
