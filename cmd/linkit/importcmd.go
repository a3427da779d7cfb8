package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const importUsage = `Usage: linkit import FILE [flags]

Uploads a customer or order file (CSV, TSV, JSON or NDJSON, optionally .gz) through
the API, shows upload and processing progress, prints a summary and
optionally writes the rejected rows to a CSV you can fix and upload again.

Flags:
  --kind K            customers (default) | orders (one row per order line)
  --location ID       import into this location (its region parses phones)
  --tags a,b          tags added to every imported customer
  --group-ids g1,g2   customer groups every imported customer joins
  --merge-policy P    fill_blanks | overwrite | do_not_update | merge_conflicts
  --region CC         default phone region, ISO 3166-1 alpha-2 (e.g. US, SA)
  --mapping JSON      column → field overrides, e.g. '{"E-mail Address":"email"}'
                      (or @file.json)
  --dry-run           run the whole pipeline without writing customers
  --preview           show how the file would be read — encoding, delimiter,
                      each column's field, the first 20 rows' problems — and
                      import nothing (sends at most the first MiB)
  --errors FILE       write the rejected rows (original columns + "error") here
  --no-progress       no progress bars; print a status line every few seconds
  --api-url URL       API base URL (LINKIT_API_URL, default http://localhost:8080)
  --api-key KEY       API key (LINKIT_API_KEY)

Exit codes:
  0    completed, every row imported (warnings allowed)
  1    import failed or was cancelled, or an API/network error
  2    usage error
  3    completed, but some rows were invalid and not imported
  130  interrupted (Ctrl-C); the import goes on on the server
`

// importStatusEvery is how often a status line is printed without bars.
var importStatusEvery = 3 * time.Second

// exitError makes run end the process with a chosen exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// importArgs is the parsed command line of linkit import.
type importArgs struct {
	file       string
	apiURL     string
	apiKey     string
	query      url.Values
	dryRun     bool
	preview    bool
	errorsPath string
	noProgress bool
}

func parseImportArgs(args []string, getenv func(string) string, stderr io.Writer) (*importArgs, error) {
	a := &importArgs{query: url.Values{}}
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var kind, location, tags, groups, policy, region, mapping string
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage) }
	fs.StringVar(&a.apiURL, "api-url", env("LINKIT_API_URL", "http://localhost:8080"), "")
	fs.StringVar(&a.apiKey, "api-key", env("LINKIT_API_KEY", ""), "")
	fs.StringVar(&kind, "kind", "", "")
	fs.StringVar(&location, "location", "", "")
	fs.StringVar(&tags, "tags", "", "")
	fs.StringVar(&groups, "group-ids", "", "")
	fs.StringVar(&policy, "merge-policy", "", "")
	fs.StringVar(&region, "region", "", "")
	fs.StringVar(&mapping, "mapping", "", "")
	fs.BoolVar(&a.dryRun, "dry-run", false, "")
	fs.BoolVar(&a.preview, "preview", false, "")
	fs.StringVar(&a.errorsPath, "errors", "", "")
	fs.BoolVar(&a.noProgress, "no-progress", false, "")

	// Flags may come before or after FILE.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			files = append(files, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		files, args = append(files, rest[0]), rest[1:]
	}
	usageErr := func(format string, v ...any) error {
		fmt.Fprint(stderr, importUsage)
		return fmt.Errorf("%w: import: "+format, append([]any{errUsage}, v...)...)
	}
	switch len(files) {
	case 0:
		return nil, usageErr("FILE is required")
	case 1:
		a.file = files[0]
	default:
		return nil, usageErr("one FILE at a time (got %d)", len(files))
	}
	a.apiURL = strings.TrimRight(strings.TrimSpace(a.apiURL), "/")
	if u, err := url.Parse(a.apiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--api-url %q is not an http(s) URL", a.apiURL)
	}
	a.apiKey = strings.TrimSpace(a.apiKey)
	if a.apiKey == "" {
		return nil, usageErr("no API key: set LINKIT_API_KEY or pass --api-key")
	}
	policy = strings.TrimSpace(policy)
	if policy != "" && !slices.Contains(dedupe.Policies, policy) {
		return nil, usageErr("--merge-policy must be one of %s", strings.Join(dedupe.Policies, ", "))
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	if region != "" && !dedupe.ValidRegion(region) {
		return nil, usageErr("--region %q is not a known ISO 3166-1 alpha-2 region", region)
	}
	if strings.HasPrefix(mapping, "@") {
		b, err := os.ReadFile(mapping[1:])
		if err != nil {
			return nil, usageErr("--mapping: %v", err)
		}
		mapping = string(b)
	}
	if mapping = strings.TrimSpace(mapping); mapping != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(mapping), &m); err != nil {
			return nil, usageErr(`--mapping must be a JSON object of column → field, e.g. {"E-mail Address":"email"}`)
		}
		a.query.Set("mapping", mapping)
	}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			a.query.Set(k, v)
		}
	}
	set("kind", kind)
	set("location_id", location)
	set("tags", tags)
	set("group_ids", groups)
	set("merge_policy", policy)
	set("default_region", region)
	if a.dryRun {
		a.query.Set("dry_run", "true")
	}
	return a, nil
}

// importCommand is linkit import: upload, watch, summarize.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, err := parseImportArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := os.Open(a.file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", a.file)
	}
	c := newAPIClient(a.apiURL, a.apiKey)
	if a.preview {
		return c.preview(ctx, f, filepath.Base(a.file), a.query, stdout)
	}
	var prog importProgress = &lineProgress{w: stderr, every: importStatusEvery}
	if !a.noProgress && isTerminal(stderr) {
		prog = &barProgress{w: stderr}
	}
	defer prog.stop()

	start := time.Now()
	name := filepath.Base(a.file)
	prog.uploadStarted(name, st.Size())
	im, err := uploadWhenAllowed(ctx, c, f, name, st.Size(), a.query, prog)
	if err != nil {
		if ctx.Err() != nil {
			prog.stop()
			fmt.Fprintln(stderr, "upload interrupted: nothing was imported")
			return &exitError{130, errors.New("interrupted during upload")}
		}
		return err
	}
	uploaded := time.Since(start)
	prog.uploadFinished(im, uploaded)

	im, err = c.watch(ctx, im, prog)
	prog.stop()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "Stopped watching: import %s goes on on the server. Check it later with\n", im.ID)
			fmt.Fprintf(stderr, "  curl -H \"Authorization: Bearer $LINKIT_API_KEY\" %s/api/v1/imports/%s\n", a.apiURL, im.ID)
			fmt.Fprintf(stderr, "and fetch its rejected rows with\n")
			fmt.Fprintf(stderr, "  curl -H \"Authorization: Bearer $LINKIT_API_KEY\" -o errors.csv '%s/api/v1/imports/%s/errors?format=csv'\n", a.apiURL, im.ID)
			return &exitError{130, fmt.Errorf("interrupted; import %s goes on on the server", im.ID)}
		}
		return fmt.Errorf("%w (import %s goes on on the server)", err, im.ID)
	}
	printImportSummary(stdout, im, time.Since(start), uploaded)

	wrote := -1
	if a.errorsPath != "" {
		if im.Counts.Invalid > 0 {
			n, err := c.downloadErrors(ctx, im.ID, a.errorsPath)
			if err != nil {
				return fmt.Errorf("write error rows: %w", err)
			}
			wrote = n
			fmt.Fprintf(stdout, "Rejected rows written to %s (%d rows; fix them and import that file again)\n", a.errorsPath, n)
		} else {
			fmt.Fprintf(stdout, "No rejected rows; %s not written\n", a.errorsPath)
		}
	}

	switch im.Status {
	case customer.ImportCompleted:
		if im.Counts.Invalid == 0 {
			return nil
		}
		where := fmt.Sprintf("rerun with --errors FILE or GET %s/api/v1/imports/%s/errors?format=csv", a.apiURL, im.ID)
		if wrote >= 0 {
			where = "see " + a.errorsPath
		}
		return &exitError{3, fmt.Errorf("import %s: %d of %d rows invalid, not imported (%s)",
			im.ID, im.Counts.Invalid, im.Counts.Rows, where)}
	case customer.ImportCancelled:
		return fmt.Errorf("import %s was cancelled", im.ID)
	default:
		reason := im.Error
		if reason == "" {
			reason = "no reason given"
		}
		return fmt.Errorf("import %s %s: %s", im.ID, im.Status, reason)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// uploadWhenAllowed uploads the file, and again after the server's
// Retry-After while it answers that too many uploads are in progress (429
// for the organization, 503 for the server): with Expect: 100-continue
// that answer comes before any of the file is sent.
func uploadWhenAllowed(ctx context.Context, c *apiClient, f *os.File, name string, size int64, q url.Values, prog importProgress) (*customer.Import, error) {
	for attempt := 1; ; attempt++ {
		im, err := c.upload(ctx, f, name, size, q, prog)
		var ae *apiError
		if err == nil || attempt == maxUploadAttempts || !errors.As(err, &ae) || ae.RetryAfter <= 0 ||
			(ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusServiceUnavailable) {
			return im, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(ae.RetryAfter):
		}
	}
}

// maxUploadAttempts bounds the waits for an upload slot (about 5 minutes
// at the server's Retry-After of 10 s).
const maxUploadAttempts = 30
