package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// importLong is linkit import's help, above its flags.
const importLong = `Uploads a customer or order file (CSV, TSV, JSON or NDJSON, optionally .gz,
or an Excel .xlsx workbook) through the API, shows upload and processing
progress, prints a summary and optionally writes the rejected rows to a CSV
you can fix and upload again.

It talks to $LINKIT_API_URL (default http://localhost:8080) with
$LINKIT_API_KEY, or --api-url and --api-key.`

// importExitCodes close linkit import's usage.
const importExitCodes = `
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
	params     client.CreateImportParams // the upload's options
	dryRun     bool
	preview    bool
	errorsPath string
	noProgress bool
	asJSON     bool // the summary as one JSON object on stdout
	quiet      bool // no progress, no summary: errors only
	sheet      string

	kind, location, tags, groups, policy, region, mapping string
}

// importCommand is linkit import: upload, watch, summarize.
func importCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	a := &importArgs{}
	cmd := &cobra.Command{
		Use:   "import FILE [flags]",
		Short: "Upload a customer or order file through the API",
		Long:  importLong,
		// FILE is checked by the command: its message names it.
		Args: cobra.ArbitraryArgs,
	}
	cmd.SetUsageTemplate(cmd.UsageTemplate() + importExitCodes)
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&a.kind, "kind", "", "customers (default) | orders (one row per order line)")
	fs.StringVar(&a.location, "location", "", "import into this location (its region parses phones)")
	fs.StringVar(&a.tags, "tags", "", "tags added to every imported customer, comma-separated")
	fs.StringVar(&a.groups, "group-ids", "", "customer groups every imported customer joins, comma-separated")
	fs.StringVar(&a.policy, "merge-policy", "", "fill_blanks | overwrite | do_not_update | merge_conflicts")
	fs.StringVar(&a.region, "region", "", "default phone region, ISO 3166-1 alpha-2 (e.g. US, SA)")
	fs.StringVar(&a.mapping, "mapping", "", `column → field overrides, e.g. '{"E-mail Address":"email"}' (or @file.json)`)
	fs.StringVar(&a.sheet, "sheet", "", "the worksheet of an .xlsx workbook to read, by name or 1-based index (default: the first)")
	fs.BoolVar(&a.dryRun, "dry-run", false, "run the whole pipeline without writing customers")
	fs.BoolVar(&a.preview, "preview", false, "show how the file would be read (encoding, each column's field, the first 20 rows' problems) and import nothing")
	fs.StringVar(&a.errorsPath, "errors", "", `write the rejected rows (original columns + "error") to this CSV`)
	fs.BoolVar(&a.noProgress, "no-progress", false, "no progress bars; print a status line every few seconds")
	fs.BoolVarP(&a.quiet, "quiet", "q", false, "no progress and no summary: only errors")
	fs.BoolVar(&a.asJSON, "json", false, "print the summary (or the preview) as one JSON object on stdout")
	fs.StringVar(&a.apiURL, "api-url", "", "API base URL (default $LINKIT_API_URL, else http://localhost:8080)")
	fs.StringVar(&a.apiKey, "api-key", "", "API key (default $LINKIT_API_KEY)")
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		if err := a.check(args, getenv); err != nil {
			return err
		}
		return uploadAndWatch(cmd.Context(), a, stdout, stderr)
	})
	return cmd
}

// check validates the command line and builds the upload's options.
func (a *importArgs) check(files []string, getenv func(string) string) error {
	a.params = client.CreateImportParams{}
	usageErr := func(format string, v ...any) error {
		return fmt.Errorf("%w: import: "+format, append([]any{errUsage}, v...)...)
	}
	switch len(files) {
	case 0:
		return usageErr("FILE is required")
	case 1:
		a.file = files[0]
	default:
		return usageErr("one FILE at a time (got %d)", len(files))
	}
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	a.apiURL = strings.TrimRight(strings.TrimSpace(cmp.Or(a.apiURL, env("LINKIT_API_URL", "http://localhost:8080"))), "/")
	if u, err := url.Parse(a.apiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--api-url %q is not an http(s) URL", a.apiURL)
	}
	a.apiKey = strings.TrimSpace(cmp.Or(a.apiKey, env("LINKIT_API_KEY", "")))
	if a.apiKey == "" {
		return usageErr("no API key: set LINKIT_API_KEY or pass --api-key")
	}
	policy := strings.TrimSpace(a.policy)
	if policy != "" && !slices.Contains(dedupe.Policies, policy) {
		return usageErr("--merge-policy must be one of %s", strings.Join(dedupe.Policies, ", "))
	}
	region := strings.ToUpper(strings.TrimSpace(a.region))
	if region != "" && !dedupe.ValidRegion(region) {
		return usageErr("--region %q is not a known ISO 3166-1 alpha-2 region", region)
	}
	mapping := a.mapping
	if strings.HasPrefix(mapping, "@") {
		b, err := os.ReadFile(mapping[1:])
		if err != nil {
			return usageErr("--mapping: %v", err)
		}
		mapping = string(b)
	}
	if mapping = strings.TrimSpace(mapping); mapping != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(mapping), &m); err != nil {
			return usageErr(`--mapping must be a JSON object of column → field, e.g. {"E-mail Address":"email"}`)
		}
		a.params.Mapping = &mapping
	}
	set := func(v string) *string {
		if v = strings.TrimSpace(v); v != "" {
			return &v
		}
		return nil
	}
	a.params.Kind = (*client.CreateImportParamsKind)(set(a.kind))
	a.params.LocationId = set(a.location)
	a.params.Tags = set(a.tags)
	a.params.GroupIds = set(a.groups)
	a.params.MergePolicy = (*client.CreateImportParamsMergePolicy)(set(policy))
	a.params.DefaultRegion = set(region)
	a.params.Sheet = set(a.sheet)
	if a.dryRun {
		a.params.DryRun = client.Ptr(true)
	}
	return nil
}

// uploadAndWatch uploads the file, watches the import and reports.
func uploadAndWatch(ctx context.Context, a *importArgs, stdout, stderr io.Writer) error {
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
	c, err := newAPIClient(a.apiURL, a.apiKey)
	if err != nil {
		return err
	}
	if a.preview {
		return c.preview(ctx, f, filepath.Base(a.file), a.params, stdout, a.asJSON)
	}
	var prog importProgress = &lineProgress{w: stderr, every: importStatusEvery}
	switch {
	case a.quiet:
		prog = quietProgress{}
	case !a.noProgress && isTerminal(stderr):
		prog = &barProgress{w: stderr}
	}
	// The human summary; --json and --quiet print none.
	text := stdout
	if a.quiet || a.asJSON {
		text = io.Discard
	}
	defer prog.stop()

	start := time.Now()
	name := filepath.Base(a.file)
	prog.uploadStarted(name, st.Size())
	im, err := uploadWhenAllowed(ctx, c, f, name, st.Size(), a.params, prog)
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
	took := time.Since(start)
	printImportSummary(text, im, took, uploaded)

	wrote := -1
	if a.errorsPath != "" {
		if im.Counts.Invalid > 0 {
			n, err := c.downloadErrors(ctx, im.ID, a.errorsPath)
			if err != nil {
				return fmt.Errorf("write error rows: %w", err)
			}
			wrote = n
			fmt.Fprintf(text, "Rejected rows written to %s (%d rows; fix them and import that file again)\n", a.errorsPath, n)
		} else {
			fmt.Fprintf(text, "No rejected rows; %s not written\n", a.errorsPath)
		}
	}

	if a.asJSON {
		if err := printImportJSON(stdout, im, took, uploaded, a.errorsPath, wrote); err != nil {
			return err
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
func uploadWhenAllowed(ctx context.Context, c *apiClient, f *os.File, name string, size int64, params client.CreateImportParams, prog importProgress) (*customer.Import, error) {
	for attempt := 1; ; attempt++ {
		im, err := c.upload(ctx, f, name, size, params, prog)
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
