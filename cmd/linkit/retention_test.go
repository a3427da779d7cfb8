package main

import (
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/worker"
)

// The retention variables take days or Go durations; "0" keeps forever and
// anything else is an error naming the variable.
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
	} {
		env := map[string]string{"LINKIT_RETENTION_JOBS": tc.jobs, "LINKIT_RETENTION_IMPORT_ERRORS": tc.errs}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%q, %q: %v", tc.jobs, tc.errs, err)
		}
		if cfg.RetentionJobs != tc.wantJobs || cfg.RetentionImportErrors != tc.wantErrs {
			t.Errorf("%q, %q: jobs %v, import errors %v; want %v, %v", tc.jobs, tc.errs,
				cfg.RetentionJobs, cfg.RetentionImportErrors, tc.wantJobs, tc.wantErrs)
		}
	}
	// A window that is not one is an error naming each variable.
	env := map[string]string{"LINKIT_RETENTION_JOBS": "soon", "LINKIT_RETENTION_IMPORT_ERRORS": "-3d"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "LINKIT_RETENTION_JOBS") || !strings.Contains(err.Error(), "LINKIT_RETENTION_IMPORT_ERRORS") {
		t.Errorf("bad windows: %v", err)
	}
}
