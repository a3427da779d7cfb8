package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkitworks/customers/webhook"
)

// TestSenderRefusesPrivateAtConnect: without the flag, the sender does not
// connect to a loopback receiver whatever the URL says (the check runs on
// the address dialled, so a host re-pointed after it was saved is refused).
func TestSenderRefusesPrivateAtConnect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	secret := webhook.NewSecret()
	res := webhook.NewSender(5*time.Second, false).Send(context.Background(), srv.URL, secret, "msg_1", []byte(`{}`))
	if !errors.Is(res.Err, webhook.ErrPrivate) || res.StatusCode != 0 || hits.Load() != 0 {
		t.Fatalf("private target: %+v, %d hits", res, hits.Load())
	}
	res = webhook.NewSender(5*time.Second, true).Send(context.Background(), srv.URL, secret, "msg_1", []byte(`{}`))
	if res.Err != nil || res.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("allowed: %+v, %d hits", res, hits.Load())
	}
}

// TestSenderTimeout: a receiver slower than the timeout is an error, not a
// worker held.
func TestSenderTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	res := webhook.NewSender(200*time.Millisecond, true).Send(context.Background(), srv.URL, webhook.NewSecret(), "msg_2", []byte(`{}`))
	if res.Err == nil || res.StatusCode != 0 {
		t.Fatalf("slow receiver: %+v", res)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for url, want := range map[string]bool{
		"https://203.0.113.9/x": true, "http://127.0.0.1/x": false, "http://localhost/x": false,
		"http://[fe80::1]/x": false, "http://100.64.0.1/x": false, "http://0.0.0.0/x": false,
		"ftp://203.0.113.9/x": false, "https://user:pw@203.0.113.9/x": false, "": false,
	} {
		if ok := webhook.CheckURL(ctx, url, false) == ""; ok != want {
			t.Errorf("CheckURL(%q) accepted = %v, want %v", url, ok, want)
		}
	}
	if p := webhook.CheckURL(ctx, "http://127.0.0.1/x", true); p != "" {
		t.Errorf("allowed private: %q", p)
	}
}
