package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/queue"
)

// The dashboard refuses state changes sent cross-site (a page elsewhere
// posting with the admin's cached basic auth) and still takes them from
// its own pages.
func TestMonitoringRefusesCrossSitePosts(t *testing.T) {
	t.Parallel()
	qe := newQueueEnv(t, queueOpts{noWorker: true})
	if err := qe.stack.Queue.EnqueueUpsert(context.Background(), queue.UpsertPayload{JobID: "job-csrf", OrgID: qe.org,
		Request: &dedupe.Request{}}); err != nil {
		t.Fatal(err)
	}
	critical := qe.names.Critical()
	pause := "/monitoring/api/queues/" + critical + ":pause"
	inspector := asynq.NewInspector(qe.opt)
	t.Cleanup(func() { inspector.Close() })
	paused := func() bool {
		t.Helper()
		info, err := inspector.GetQueueInfo(critical)
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused
	}

	qe.doKey("admin-secret", "POST", pause, nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").
		want(t, http.StatusForbidden)
	qe.doKey("admin-secret", "POST", pause, nil, "Origin", "https://evil.example").want(t, http.StatusForbidden)
	if paused() {
		t.Fatal("a cross-site POST paused the critical queue")
	}
	qe.doKey("admin-secret", "POST", pause, nil, "Origin", qe.url, "Sec-Fetch-Site", "same-origin").
		want(t, http.StatusNoContent)
	if !paused() {
		t.Fatal("a same-origin POST from the dashboard did not pause the queue")
	}
	// Reading stays open to the dashboard whatever the origin.
	qe.doKey("admin-secret", "GET", "/monitoring/api/queues/"+critical+"/pending_tasks", nil, "Sec-Fetch-Site", "cross-site").want(t, http.StatusOK)
}

// Task payloads on the dashboard show ids but no email or phone.
func TestMonitoringMasksEmailsAndPhones(t *testing.T) {
	t.Parallel()
	qe := newQueueEnv(t, queueOpts{noWorker: true})
	req := &dedupe.Request{Record: dedupe.Incoming{Email: "omar.fares@example.com", EmailKey: "omarfares@example.com",
		Phone: "+14155550123", PhoneKey: "+14155550123"}}
	req.Record.Fields.Email, req.Record.Fields.Phone = "Omar.Fares@example.com", "(415) 555-0123"
	if err := qe.stack.Queue.EnqueueUpsert(context.Background(), queue.UpsertPayload{JobID: "job-masked", OrgID: qe.org,
		Request: req}); err != nil {
		t.Fatal(err)
	}
	res := qe.doKey("admin-secret", "GET", "/monitoring/api/queues/"+qe.names.Critical()+"/pending_tasks", nil).
		want(t, http.StatusOK)
	if !strings.Contains(res.Raw, "job-masked") {
		t.Fatalf("pending task not listed: %s", res.Raw)
	}
	for _, pii := range []string{"omar", "Omar", "fares", "4155550123", "555-0123"} {
		if strings.Contains(res.Raw, pii) {
			t.Errorf("dashboard shows %q: %s", pii, res.Raw)
		}
	}
	if !strings.Contains(res.Raw, `o***@***.com`) {
		t.Errorf("masked email not shown: %s", res.Raw)
	}
}
