package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// Every command and subcommand answers --help on stdout with exit 0,
// listing its own flags and not the others'; no secret from the
// environment appears as a default.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	env := testEnv{
		"LINKIT_DATABASE_URL": "postgres://linkit:s3cret-db@db:5432/linkit",
		"LINKIT_REDIS_URL":    "redis://:s3cret-redis@redis:6379/0",
		"LINKIT_ADMIN_TOKEN":  "s3cret-admin",
		"LINKIT_API_KEY":      "lk_s3cret-key",
	}
	for _, c := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"--help"}, []string{"Usage:", "import", "migrate", "completion"}, nil},
		{[]string{"help"}, []string{"Usage:"}, nil},
		{[]string{"all", "--help"}, []string{"--database-url", "--redis-url", "--addr", "--concurrency"}, []string{"--name"}},
		{[]string{"serve", "--help"}, []string{"--database-url", "--redis-url", "--addr"}, []string{"--concurrency"}},
		{[]string{"work", "--help"}, []string{"--database-url", "--redis-url", "--concurrency"}, []string{"--addr"}},
		{[]string{"migrate", "--help"}, []string{"--database-url"}, []string{"--redis-url", "--addr", "--concurrency"}},
		{[]string{"org", "--help"}, []string{"create"}, nil},
		{[]string{"org", "create", "--help"}, []string{"--name", "--id", "--region", "--json", "--database-url"}, []string{"--redis-url", "--addr", "--concurrency"}},
		{[]string{"key", "--help"}, []string{"create", "revoke"}, nil},
		{[]string{"key", "create", "--help"}, []string{"--org", "--json", "--database-url"}, []string{"--redis-url", "--addr"}},
		{[]string{"key", "revoke", "--help"}, []string{"KEY_ID", "--database-url", "--redis-url"}, []string{"--addr", "--org"}},
		{[]string{"import", "--help"}, []string{"linkit import FILE", "--json", "--quiet", "--sheet", "--api-key", "Exit codes:"}, []string{"--database-url", "--addr"}},
		{[]string{"health", "--help"}, []string{"--addr", "--timeout"}, []string{"--database-url"}},
		{[]string{"version", "--help"}, []string{"version"}, []string{"--database-url"}},
		{[]string{"completion", "--help"}, []string{"bash", "zsh", "fish"}, nil},
		{[]string{"completion", "bash", "--help"}, []string{"bash"}, nil},
	} {
		out, errOut, err := runCmd(t, env, c.args...)
		if err != nil {
			t.Errorf("%v: exit %d (%v); stderr %q", c.args, exitCode(err), err, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", c.args, w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("%v: stdout offers %q, which does not apply:\n%s", c.args, n, out)
			}
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("%v: a secret from the environment is printed:\n%s", c.args, out)
		}
	}
}

// Unknown flags, commands and arguments are usage errors (exit 2) naming
// the mistake, with the command's usage on stderr.
func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--frobnicate"}, "frobnicate"},
		{[]string{"migrate", "--addr", ":1"}, "addr"}, // not a migrate flag
		{[]string{"key", "revoke"}, "arg"},
		{[]string{"key", "rotate"}, "rotate"},
		{[]string{"health", "--timeout", "soon"}, "timeout"},
		{[]string{"version", "extra"}, "extra"},
		{[]string{"completion", "powershell7"}, "powershell7"},
	} {
		_, errOut, err := runCmd(t, testEnv{}, c.args...)
		if exitCode(err) != 2 || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, err %v; want 2 naming %q", c.args, exitCode(err), err, c.want)
		}
		if !strings.Contains(errOut, "Usage:") {
			t.Errorf("%v: no usage on stderr: %q", c.args, errOut)
		}
	}
}

// A variable set to something unusable stops the command, naming it (exit
// 2), instead of falling back to a default.
func TestCLIBadEnvironment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, value string
		args        []string
	}{
		{"LINKIT_WORKER_CONCURRENCY", "lots", []string{"work"}},
		{"LINKIT_WORKER_CONCURRENCY", "0", []string{"all"}},
		{"LINKIT_DB_MAX_CONNS", "-3", []string{"serve"}},
		{"LINKIT_AUTH_CACHE_TTL", "10", []string{"serve"}}, // no unit
		{"LINKIT_HTTP_READ_TIMEOUT", "-1s", []string{"serve"}},
		{"LINKIT_IMPORT_MAX_MB", "5GB", []string{"migrate"}},
		{"LINKIT_LOG_LEVEL", "verbose", []string{"org", "create", "--name", "X"}},
		{"LINKIT_RATE_LIMIT", "fast", []string{"key", "create", "--org", "org_x"}},
		{"LINKIT_IMPORT_STAGING_TTL", "forever", []string{"health"}},
		{"LINKIT_UPSERT_LINGER", "1", []string{"serve"}}, // no unit
		{"LINKIT_UPSERT_BATCH", "0", []string{"serve"}},
		{"LINKIT_UPSERT_POLL", "2", []string{"work"}}, // no unit
		{"LINKIT_SUGGEST_SCAN_BACKLOG", "0", []string{"work"}},
		{"LINKIT_SUGGEST_SCAN_MEMORY_MB", "0", []string{"work"}},
		{"LINKIT_SUGGEST_SCAN_WORKERS", "-1", []string{"work"}},
		{"LINKIT_SUGGEST_SCAN_NICE", "-5", []string{"work"}},
		{"LINKIT_SUGGEST_SCAN_YIELD", "-1", []string{"work"}},
		{"LINKIT_IMPORT_YIELD", "-2", []string{"work"}},
	} {
		out, _, err := runCmd(t, testEnv{c.name: c.value}, c.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.value) {
			t.Errorf("%s=%s %v: exit %d, err %v; want 2 naming the variable", c.name, c.value, c.args, exitCode(err), err)
		}
		if out != "" {
			t.Errorf("%s=%s %v printed %q", c.name, c.value, c.args, out)
		}
	}
	// Every problem at once, not one per attempt.
	_, _, err := runCmd(t, testEnv{"LINKIT_WORKER_CONCURRENCY": "x", "LINKIT_DB_MAX_CONNS": "y"}, "work")
	if err == nil || !strings.Contains(err.Error(), "LINKIT_WORKER_CONCURRENCY") || !strings.Contains(err.Error(), "LINKIT_DB_MAX_CONNS") {
		t.Errorf("two bad variables: %v", err)
	}
	// Valid values are taken.
	cfg, err := loadConfig(testEnv{"LINKIT_WORKER_CONCURRENCY": "3", "LINKIT_AUTH_CACHE_TTL": "0", "LINKIT_RATE_LIMIT": "0",
		"LINKIT_UPSERT_LINGER": "0", "LINKIT_SUGGEST_SCAN_BACKLOG": "20000", "LINKIT_SUGGEST_SCAN_MEMORY_MB": "32",
		"LINKIT_SUGGEST_SCAN_WORKERS": "2", "LINKIT_SUGGEST_SCAN_NICE": "0", "LINKIT_SUGGEST_SCAN_YIELD": "0",
		"LINKIT_UPSERT_POLL": "3ms", "LINKIT_IMPORT_YIELD": "0"}.getenv)
	if err != nil || cfg.WorkerConcurrency != 3 || cfg.UpsertPoll.String() != "3ms" || cfg.AuthCacheTTL != 0 || cfg.RateLimits.Default != -1 || cfg.UpsertLinger >= 0 ||
		cfg.SuggestScanBacklog != 20000 || cfg.SuggestScanMemoryMB != 32 || cfg.SuggestScanWorkers != 2 ||
		cfg.SuggestScanNice != 0 || cfg.SuggestScanYield != 0 || cfg.ImportYield != 0 {
		t.Errorf("valid values: %+v, %v", cfg, err)
	}
}

// linkit completion bash|zsh|fish print a script for the shell.
func TestCLICompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{"bash": "__start_linkit", "zsh": "#compdef linkit", "fish": "complete -c linkit"} {
		out, errOut, err := runCmd(t, testEnv{}, "completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("completion %s: %v, stderr %q, %d bytes lacking %q", shell, err, errOut, len(out), want)
		}
	}
	// The shells ask the binary for words; it offers the subcommands.
	out, _, err := runCmd(t, testEnv{}, "__complete", "im")
	if err != nil || !strings.Contains(out, "import") {
		t.Errorf("__complete im: %v, %q", err, out)
	}
}

// linkit import --json prints one JSON summary on stdout; --quiet prints
// nothing at all on a clean import, and the error on a failed one.
func TestImportCommandJSONAndQuiet(t *testing.T) {
	t.Parallel()
	e := newImpEnv(t, false)
	file := writeTemp(t, "people.csv", "email,first_name\nana@example.com,Ana\nben@example.com,Ben\n,Nameless\n")
	errPath := filepath.Join(t.TempDir(), "rejected.csv")

	r := runImport(t, nil, e.getenv, file, "--json", "--errors", errPath, "--no-progress")
	r.wantCode(t, 3)
	var sum struct {
		Import        *customerImport `json:"import"`
		Seconds       float64         `json:"seconds"`
		ErrorsFile    string          `json:"errors_file"`
		ErrorsWritten int             `json:"errors_written"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&sum); err != nil || dec.More() {
		t.Fatalf("--json stdout is not one JSON object (%v):\n%s", err, r.stdout)
	}
	if sum.Import == nil || sum.Import.Status != "completed" || sum.Import.Counts.Rows != 3 ||
		sum.Import.Counts.Created != 2 || sum.Import.Counts.Invalid != 1 || sum.ErrorsFile != errPath || sum.ErrorsWritten != 1 || sum.Seconds <= 0 {
		t.Errorf("--json summary %s", r.stdout)
	}

	r = runImport(t, nil, e.getenv, file, "--quiet")
	r.wantCode(t, 3)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet printed stdout %q stderr %q", r.stdout, r.stderr)
	}
	clean := writeTemp(t, "clean.csv", "email\ncai@example.com\n")
	r = runImport(t, nil, e.getenv, clean, "-q")
	r.wantCode(t, 0)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("-q printed stdout %q stderr %q", r.stdout, r.stderr)
	}

	r = runImport(t, nil, e.getenv, file, "--preview", "--json")
	r.wantCode(t, 0)
	var prev map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &prev); err != nil || prev["format"] != "csv" {
		t.Errorf("--preview --json: %v\n%s", err, r.stdout)
	}
}

// customerImport is the part of an import --json's summary the test reads.
type customerImport struct {
	Status string `json:"status"`
	Counts struct {
		Rows    int `json:"rows"`
		Created int `json:"created"`
		Invalid int `json:"invalid"`
	} `json:"counts"`
}

// linkit import takes an .xlsx workbook, --sheet picks the worksheet, and
// --preview sends it whole (a zip is read from its end).
func TestImportCommandXLSX(t *testing.T) {
	t.Parallel()
	e := newImpEnv(t, false)
	f := excelize.NewFile()
	defer f.Close()
	for _, err := range []error{
		f.SetSheetRow("Sheet1", "A1", &[]any{"ignored"}),
		func() error { _, err := f.NewSheet("People"); return err }(),
		f.SetSheetRow("People", "A1", &[]any{"Email", "First Name", "Phone"}),
		f.SetSheetRow("People", "A2", &[]any{"xl@example.com", "Xena", 4155550123}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "people.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}

	r := runImport(t, nil, e.getenv, path, "--sheet", "People", "--preview", "--json")
	r.wantCode(t, 0)
	var prev struct {
		Format string   `json:"format"`
		Sheet  string   `json:"sheet"`
		Sheets []string `json:"sheets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &prev); err != nil || prev.Format != "xlsx" || prev.Sheet != "People" || len(prev.Sheets) != 2 {
		t.Fatalf("preview %v: %s", err, r.stdout)
	}

	r = runImport(t, nil, e.getenv, path, "--sheet", "2", "--region", "US", "--no-progress")
	r.wantCode(t, 0)
	r.count(t, "created", "1")
	if c := e.lookup("xl@example.com"); c["first_name"] != "Xena" || c["phone"] != "+14155550123" {
		t.Errorf("imported %v", c)
	}
	r = runImport(t, nil, e.getenv, path, "--sheet", "Nope", "--no-progress")
	if r.code != 1 || !strings.Contains(r.err.Error(), "sheet") {
		t.Errorf("unknown sheet: exit %d, %v", r.code, r.err)
	}
}
