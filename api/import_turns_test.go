package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// Imports of different organizations take turns: a small import uploaded
// while another organization's large one is merging completes long before
// it, instead of waiting behind all of the large one's chunks (the imports
// queue is first in, first out, and only a few of an import's chunks are
// queued at a time). Both complete with every row.
func TestImportsOfOrganizationsTakeTurns(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 20})
	csv := func(prefix string, n int) []byte {
		var b strings.Builder
		b.WriteString("email,first_name\n")
		for i := range n {
			fmt.Fprintf(&b, "%s%d@example.com,Name%d\n", prefix, i, i)
		}
		return []byte(b.String())
	}
	large := str(e.upload("/api/v1/imports", "large.csv", "", csv("large", 2400)).want(t, http.StatusAccepted).data()["id"])
	// The large import is planned (its plan task is done: its chunks are
	// queued) and merging.
	insp := asynq.NewInspector(e.opt)
	defer insp.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		im := e.do("GET", "/api/v1/imports/"+large, nil).want(t, http.StatusOK).data()
		if im["status"] != "processing" && im["status"] != "queued" && im["status"] != "staging" {
			t.Fatalf("the large import ended before the small one started: %v", im)
		}
		_, err := insp.GetTaskInfo(e.names.Imports(), large+":plan")
		if counts(im)["processed"] > 0 && errors.Is(err, asynq.ErrTaskNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the large import did not start merging: %v (plan task: %v)", im, err)
		}
	}
	other := *e.env
	other.org, other.key = e.newOrg("Other", "")
	small := str(other.upload("/api/v1/imports", "small.csv", "", csv("small", 10)).want(t, http.StatusAccepted).data()["id"])
	done := other.waitImport(small)
	if done["status"] != "completed" || counts(done)["created"] != 10 {
		t.Fatalf("small import: %v", done)
	}
	im := e.do("GET", "/api/v1/imports/"+large, nil).want(t, http.StatusOK).data()
	if im["status"] != "processing" || counts(im)["processed"] > 2400/2 {
		t.Fatalf("when the small import completed, the large one had processed %d of 2400 rows (%v): "+
			"the small one waited behind it", counts(im)["processed"], im["status"])
	}
	t.Logf("the small import completed with the large one at %d of 2400 rows", counts(im)["processed"])
	if im := e.waitImport(large); im["status"] != "completed" || counts(im)["created"] != 2400 {
		t.Fatalf("large import: %v", im)
	}
}
