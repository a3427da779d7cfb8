// Package webhook is the outbound side of webhooks: the events one can
// subscribe to, secrets, the check that a target is not a private address,
// and the signed POST (Standard Webhooks) through a dialer that checks the
// address it actually connects to.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Events one can subscribe to; "*" subscribes to all of them.
var Events = []string{
	"customer.created", "customer.updated", "customer.merged", "customer.unmerged", "customer.deleted",
	"import.completed", "import.failed",
}

// All subscribes to every event.
const All = "*"

// KnownEvent reports whether e can be subscribed to.
func KnownEvent(e string) bool { return e == All || slices.Contains(Events, e) }

// NewSecret returns a Standard Webhooks signing secret: whsec_ and 32
// random bytes in base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// MaxURLLen bounds a webhook's URL.
const MaxURLLen = 2048

// ErrPrivate is a target on a private, loopback, link-local or otherwise
// non-public address.
var ErrPrivate = errors.New("resolves to a private, loopback or link-local address")

// publicAddr reports whether a is a routable public unicast address.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() &&
		!a.IsLinkLocalUnicast() && !a.IsUnspecified() && !cgnat.Contains(a) && !a.IsMulticast()
}

// cgnat (RFC 6598) is shared address space: not the public internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL validates a webhook URL: absolute http(s) with a host, and —
// unless allowPrivate — a host whose every address is public. It returns
// the problem as a sentence for the url field, "" when there is none.
func CheckURL(ctx context.Context, raw string, allowPrivate bool) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is required"
	case len(raw) > MaxURLLen:
		return fmt.Sprintf("must be at most %d characters", MaxURLLen)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "":
		return "must be an absolute http or https URL"
	case u.User != nil:
		return "must not carry credentials"
	case allowPrivate:
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return "host does not resolve"
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return ErrPrivate.Error()
		}
	}
	return ""
}

// Sender delivers signed webhooks.
type Sender struct {
	client *http.Client
}

// MaxResponseBytes is how much of a receiver's answer is read (the rest
// is dropped): a receiver cannot make a worker hold a large body.
const MaxResponseBytes = 64 << 10

// NewSender returns a Sender whose requests time out after timeout
// (default 10 s). Unless allowPrivate, its dialer refuses non-public
// addresses when it connects, so a host that resolved to a public address
// when the webhook was saved and to a private one now (DNS rebinding) is
// refused; proxies from the environment are not used for the same reason.
func NewSender(timeout time.Duration, allowPrivate bool) *Sender {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !publicAddr(ap.Addr()) {
				return fmt.Errorf("%s %w", address, ErrPrivate)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{client: &http.Client{
		Timeout:   timeout,
		Transport: tr,
		// A redirect would lead the signed body elsewhere: the status is the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Result is one attempt's outcome.
type Result struct {
	StatusCode int // 0 when no answer came
	Duration   time.Duration
	Err        error // transport error or non-2xx status
}

// Send POSTs body to target signed with secret under message id msgID.
func (s *Sender) Send(ctx context.Context, target, secret, msgID string, body []byte) Result {
	start := time.Now()
	res := s.send(ctx, target, secret, msgID, body)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, target, secret, msgID string, body []byte) Result {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return Result{Err: fmt.Errorf("secret: %w", err)}
	}
	now := time.Now()
	sig, err := wh.Sign(msgID, now, body)
	if err != nil {
		return Result{Err: fmt.Errorf("sign: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Linkit-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{StatusCode: resp.StatusCode, Err: fmt.Errorf("receiver answered %d %s", resp.StatusCode, strings.TrimSpace(http.StatusText(resp.StatusCode)))}
	}
	return Result{StatusCode: resp.StatusCode}
}
