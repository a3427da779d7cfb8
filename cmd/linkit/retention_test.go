package main

import (
	"testing"
	"time"

	"github.com/linkitworks/customers/worker"
)

// The retention variables take days or Go durations; "0" keeps forever and
// anything unreadable keeps the default.
func TestRetentionVariables(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		jobs, errs         string
		wantJobs, wantErrs time.Duration
	}{
		{"", "", worker.DefaultRetentionJobs, worker.DefaultRetentionImportErrors},
		{"7d", "90d", 7 * day, 90 * day},
		{"36h", "0.5d", 36 * time.Hour, 12 * time.Hour},
		{"0", "0", -1, -1},
		{"soon", "-3d", worker.DefaultRetentionJobs, worker.DefaultRetentionImportErrors},
	} {
		env := map[string]string{"LINKIT_RETENTION_JOBS": tc.jobs, "LINKIT_RETENTION_IMPORT_ERRORS": tc.errs}
		cfg := loadConfig(func(k string) string { return env[k] })
		if cfg.RetentionJobs != tc.wantJobs || cfg.RetentionImportErrors != tc.wantErrs {
			t.Errorf("%q, %q: jobs %v, import errors %v; want %v, %v", tc.jobs, tc.errs,
				cfg.RetentionJobs, cfg.RetentionImportErrors, tc.wantJobs, tc.wantErrs)
		}
	}
}
