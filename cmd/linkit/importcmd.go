package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
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
	im, err := c.upload(ctx, f, name, st.Size(), a.query, prog)
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

// contentType is the raw body's type by extension; a .gz file is sent as
// the type inside with Content-Encoding gzip (the server sniffs gzip
// either way), anything unknown as octet-stream for the server to sniff.
// setFileType sets the Content-Type (and Content-Encoding) the file's name
// suggests.
func setFileType(req *http.Request, name string) {
	ctype, enc := contentType(name)
	req.Header.Set("Content-Type", ctype)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
}

func contentType(name string) (ctype, encoding string) {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".gz") {
		encoding, lower = "gzip", strings.TrimSuffix(lower, ".gz")
	}
	switch filepath.Ext(lower) {
	case ".csv":
		return "text/csv", encoding
	case ".tsv", ".tab":
		return "text/tab-separated-values", encoding
	case ".txt":
		return "text/plain", encoding
	case ".json":
		return "application/json", encoding
	case ".ndjson", ".jsonl":
		return "application/x-ndjson", encoding
	}
	return "application/octet-stream", ""
}

// apiClient speaks to /api/v1/imports.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

func newAPIClient(base, key string) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// With Expect: 100-continue a rejected key or option is answered
	// before any of the file is sent.
	tr.ExpectContinueTimeout = 2 * time.Second
	return &apiClient{base: base, key: key, http: &http.Client{Transport: tr}}
}

func (c *apiClient) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", "linkit/"+version)
	return req, nil
}

// do sends req and returns the response when it is 2xx, else an apiError.
func (c *apiClient) do(req *http.Request) (*http.Response, error) {
	res, err := c.http.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, &netError{base: c.base, err: err}
	}
	if res.StatusCode/100 == 2 {
		return res, nil
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	e := &apiError{Status: res.StatusCode}
	_ = json.Unmarshal(raw, e)
	return nil, e
}

func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	res, err := c.do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return &netError{base: c.base, err: fmt.Errorf("unreadable answer: %w", err)}
	}
	return nil
}

// upload streams the file as the request body and returns the accepted import.
func (c *apiClient) upload(ctx context.Context, f io.Reader, name string, size int64, q url.Values, prog importProgress) (*customer.Import, error) {
	q = cloneValues(q)
	q.Set("file_name", name)
	body := &uploadReader{r: f, prog: prog}
	defer body.close()
	req, err := c.request(ctx, http.MethodPost, "/api/v1/imports?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	setFileType(req, name)
	req.Header.Set("Expect", "100-continue")
	res, err := c.do(req)
	body.close() // no more progress output from the transport
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var env struct {
		Data *customer.Import `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.Data == nil || env.Data.ID == "" {
		return nil, &netError{base: c.base, err: errors.New("unreadable answer to the upload")}
	}
	return env.Data, nil
}

// previewBytes is how much of a file --preview sends: the preview reads
// 20 rows.
const previewBytes = 1 << 20

// previewAnswer is the part of POST /api/v1/imports/preview the CLI shows.
type previewAnswer struct {
	Format         string            `json:"format"`
	Encoding       string            `json:"encoding"`
	Delimiter      string            `json:"delimiter"`
	Headers        []string          `json:"headers"`
	Mapping        map[string]string `json:"mapping"`
	MissingColumns []string          `json:"missing_columns"`
	Rows           []struct {
		Valid    bool                     `json:"valid"`
		Problems []customer.ImportProblem `json:"problems"`
	} `json:"rows"`
}

// preview sends the start of the file to the preview endpoint and prints
// how it would be read. A file the import would refuse is an error.
func (c *apiClient) preview(ctx context.Context, f io.Reader, name string, q url.Values, w io.Writer) error {
	head, err := io.ReadAll(io.LimitReader(f, previewBytes+1))
	if err != nil {
		return err
	}
	if len(head) > previewBytes {
		head = head[:previewBytes]
		if i := bytes.LastIndexByte(head, '\n'); i > 0 && !strings.HasSuffix(strings.ToLower(name), ".gz") {
			head = head[:i+1] // whole lines only
		}
	}
	req, err := c.request(ctx, http.MethodPost, "/api/v1/imports/preview?"+q.Encode(), bytes.NewReader(head))
	if err != nil {
		return err
	}
	setFileType(req, name)
	res, err := c.do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var env struct {
		Data *previewAnswer `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.Data == nil {
		return &netError{base: c.base, err: errors.New("unreadable answer to the preview")}
	}
	p := env.Data
	delim := strconv.Quote(p.Delimiter)
	switch p.Delimiter {
	case "\t":
		delim = "tab"
	case "":
		delim = "none"
	}
	fmt.Fprintf(w, "Preview of %s: %s, %s, delimiter %s\n", name, p.Format, p.Encoding, delim)
	width := 6
	for _, h := range p.Headers {
		width = max(width, min(40, len(h)))
	}
	fmt.Fprintf(w, "  %-*s  field\n", width, "column")
	for _, h := range p.Headers {
		target := p.Mapping[h]
		switch target {
		case "":
			target = "(attribute)"
		case "-":
			target = "(ignored)"
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, h, target)
	}
	bad := 0
	for _, r := range p.Rows {
		if !r.Valid {
			bad++
		}
	}
	rows := "rows"
	if len(p.Rows) == 1 {
		rows = "row"
	}
	fmt.Fprintf(w, "First %d %s: %d would be imported, %d would not\n", len(p.Rows), rows, len(p.Rows)-bad, bad)
	for _, r := range p.Rows {
		for _, pr := range r.Problems {
			col := ""
			if pr.Column != "" {
				col = " (" + pr.Column + ")"
			}
			fmt.Fprintf(w, "  row %d %s%s: %s\n", pr.Row, pr.Severity, col, pr.Reason)
		}
	}
	if len(p.MissingColumns) > 0 {
		return fmt.Errorf("the import would refuse this file: %s", strings.Join(p.MissingColumns, "; "))
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// watch polls the import until it ends. Transient failures (network,
// 5xx, 429) are retried for a while; ctx ending stops the watch only.
func (c *apiClient) watch(ctx context.Context, im *customer.Import, prog importProgress) (*customer.Import, error) {
	const giveUpAfter = 2 * time.Minute
	delay := 100 * time.Millisecond
	var failingSince time.Time
	for !importDone(im.Status) {
		prog.processing(im)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return im, ctx.Err()
		case <-t.C:
		}
		if delay < time.Second {
			delay = min(delay*3/2, time.Second)
		}
		var env struct {
			Data *customer.Import `json:"data"`
		}
		err := c.getJSON(ctx, "/api/v1/imports/"+url.PathEscape(im.ID), &env)
		if err == nil && env.Data != nil {
			im, failingSince = env.Data, time.Time{}
			continue
		}
		if ctx.Err() != nil {
			return im, ctx.Err()
		}
		if !transient(err) {
			return im, err
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
			prog.note(fmt.Sprintf("checking import %s failed (%v); retrying", im.ID, err))
		} else if time.Since(failingSince) > giveUpAfter {
			return im, err
		}
		delay = 2 * time.Second
	}
	prog.processing(im)
	return im, nil
}

func importDone(status string) bool {
	switch status {
	case customer.ImportCompleted, customer.ImportFailed, customer.ImportCancelled:
		return true
	}
	return false
}

func transient(err error) bool {
	var ne *netError
	var ae *apiError
	switch {
	case errors.As(err, &ne):
		return true
	case errors.As(err, &ae):
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests
	}
	return false
}

// downloadErrors streams the import's error CSV to path and counts its rows.
func (c *apiClient) downloadErrors(ctx context.Context, id, path string) (int, error) {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/imports/"+url.PathEscape(id)+"/errors?format=csv", nil)
	if err != nil {
		return 0, err
	}
	res, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	counted := make(chan int, 1)
	go func() {
		n := -1 // the header
		cr := csv.NewReader(pr)
		cr.FieldsPerRecord, cr.LazyQuotes, cr.ReuseRecord = -1, true, true
		for {
			if _, err := cr.Read(); err == io.EOF {
				break
			} else if err != nil && !errors.As(err, new(*csv.ParseError)) {
				break
			}
			n++
		}
		_, _ = io.Copy(io.Discard, pr)
		counted <- max(n, 0)
	}()
	_, err = io.Copy(io.MultiWriter(out, pw), res.Body)
	pw.CloseWithError(err)
	n := <-counted
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	return n, nil
}

// apiError is an API answer other than 2xx, in the documented error shape.
type apiError struct {
	Status  int             `json:"-"`
	Message string          `json:"error"`
	Details json.RawMessage `json:"details"`
}

func (e *apiError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "API key rejected (401): set LINKIT_API_KEY or pass --api-key"
	case http.StatusForbidden:
		return "API key not allowed here (403): " + e.message()
	case http.StatusRequestEntityTooLarge:
		var d struct {
			MaxBytes int64 `json:"max_bytes"`
		}
		if json.Unmarshal(e.Details, &d) == nil && d.MaxBytes > 0 {
			return fmt.Sprintf("file too large (413): the server accepts at most %s", humanBytes(d.MaxBytes))
		}
		return "file too large (413)"
	}
	return fmt.Sprintf("API error %d: %s", e.Status, e.message())
}

// message is the API's message with the offending fields, if any.
func (e *apiError) message() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	var fields map[string]any
	if json.Unmarshal(e.Details, &fields) == nil && len(fields) > 0 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %v", k, fields[k])
		}
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return msg
}

// netError is a failure to reach the API or to read its answer.
type netError struct {
	base string
	err  error
}

func (e *netError) Error() string {
	var op *net.OpError
	if errors.As(e.err, &op) && op.Op == "dial" {
		return fmt.Sprintf("cannot reach the API at %s (%v): is it running? Set LINKIT_API_URL or --api-url", e.base, op.Err)
	}
	return fmt.Sprintf("API at %s: %v", e.base, e.err)
}

func (e *netError) Unwrap() error { return e.err }

// uploadReader reports the bytes read to the progress display; after
// close it reads nothing more, so nothing prints once the upload is over.
type uploadReader struct {
	mu     sync.Mutex
	r      io.Reader
	prog   importProgress
	closed bool
}

func (u *uploadReader) Read(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return 0, io.ErrClosedPipe
	}
	n, err := u.r.Read(p)
	if n > 0 {
		u.prog.uploadAdvanced(int64(n))
	}
	return n, err
}

func (u *uploadReader) close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
}

// importProgress shows the upload and the processing.
type importProgress interface {
	uploadStarted(name string, size int64)
	uploadAdvanced(n int64)
	uploadFinished(im *customer.Import, took time.Duration)
	processing(im *customer.Import)
	note(msg string)
	stop()
}

// barProgress draws progress bars (stderr is a terminal).
type barProgress struct {
	w      io.Writer
	upload *progressbar.ProgressBar
	proc   *progressbar.ProgressBar
}

func (b *barProgress) uploadStarted(name string, size int64) {
	b.upload = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("uploading "+name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *barProgress) uploadAdvanced(n int64) { _ = b.upload.Add64(n) }

func (b *barProgress) uploadFinished(im *customer.Import, took time.Duration) {
	if !b.upload.IsFinished() {
		_ = b.upload.Finish()
	}
	fmt.Fprintln(b.w, acceptedLine(im, took))
}

func (b *barProgress) processing(im *customer.Import) {
	c := im.Counts
	if c.Rows <= 0 {
		return
	}
	if b.proc == nil {
		b.proc = progressbar.NewOptions64(int64(c.Rows),
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription("processing"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
		)
	}
	b.proc.Describe("processing" + rateAndETA(im))
	_ = b.proc.Set64(int64(c.Processed + c.Invalid))
}

func (b *barProgress) note(msg string) {
	if b.proc != nil {
		_ = b.proc.Clear()
	}
	fmt.Fprintln(b.w, msg)
}

func (b *barProgress) stop() {
	for _, bar := range []*progressbar.ProgressBar{b.upload, b.proc} {
		if bar != nil && !bar.IsFinished() {
			if bar.State().CurrentPercent >= 1 {
				_ = bar.Finish()
			} else {
				_ = bar.Exit()
				fmt.Fprintln(b.w)
			}
		}
	}
	b.upload, b.proc = nil, nil
}

// lineProgress prints a status line every few seconds (no terminal or
// --no-progress).
type lineProgress struct {
	w        io.Writer
	every    time.Duration
	last     time.Time
	name     string
	size     int64
	sent     int64
	lastLine string
}

func (l *lineProgress) due() bool {
	if time.Since(l.last) < l.every {
		return false
	}
	l.last = time.Now()
	return true
}

func (l *lineProgress) uploadStarted(name string, size int64) {
	l.name, l.size, l.last = name, size, time.Now()
	fmt.Fprintf(l.w, "uploading %s (%s)\n", name, humanBytes(size))
}

func (l *lineProgress) uploadAdvanced(n int64) {
	l.sent += n
	if l.due() && l.size > 0 {
		fmt.Fprintf(l.w, "uploaded %d%% (%s of %s)\n", l.sent*100/l.size, humanBytes(l.sent), humanBytes(l.size))
	}
}

func (l *lineProgress) uploadFinished(im *customer.Import, took time.Duration) {
	l.last = time.Now()
	fmt.Fprintln(l.w, acceptedLine(im, took))
}

func (l *lineProgress) processing(im *customer.Import) {
	if importDone(im.Status) || !l.due() {
		return
	}
	c := im.Counts
	line := fmt.Sprintf("import %s %s: %d%% (%s of %s rows)%s", im.ID, im.Status, int(im.Progress*100),
		groupDigits(int64(c.Processed+c.Invalid)), groupDigits(int64(c.Rows)), rateAndETA(im))
	if line != l.lastLine {
		fmt.Fprintln(l.w, line)
		l.lastLine = line
	}
}

func (l *lineProgress) note(msg string) { fmt.Fprintln(l.w, msg) }

func (l *lineProgress) stop() {}

func acceptedLine(im *customer.Import, took time.Duration) string {
	s := fmt.Sprintf("uploaded in %s: import %s, %s rows read", roundDuration(took), im.ID, groupDigits(int64(im.Counts.Rows)))
	if im.Counts.Invalid > 0 {
		s += fmt.Sprintf(" (%s invalid)", groupDigits(int64(im.Counts.Invalid)))
	}
	return s
}

// rateAndETA is ", 1,234 rows/s, ETA 20s" once the server can tell.
func rateAndETA(im *customer.Import) string {
	if im.RowsPerSecond < 1 {
		return ""
	}
	s := fmt.Sprintf(", %s rows/s", groupDigits(int64(im.RowsPerSecond+0.5)))
	if im.ETASeconds != nil && !importDone(im.Status) {
		s += ", ETA " + roundDuration(time.Duration(*im.ETASeconds*float64(time.Second)))
	}
	return s
}

// printImportSummary is the final report on stdout.
func printImportSummary(w io.Writer, im *customer.Import, took, upload time.Duration) {
	what := "Import"
	if im.Options.DryRun {
		what = "Dry run"
	}
	fmt.Fprintf(w, "%s %s %s in %s (upload %s)\n", what, im.ID, im.Status, roundDuration(took), roundDuration(upload))
	file := []string{fmt.Sprintf("%s, %s", im.FileName, humanBytes(im.SizeBytes))}
	for _, s := range []string{im.Format, im.Encoding} {
		if s != "" {
			file = append(file, s)
		}
	}
	fmt.Fprintf(w, "  file            %s\n", strings.Join(file, ", "))
	if im.Options.DryRun {
		fmt.Fprintln(w, "  (dry run: nothing was written; the counts say what would happen)")
	}
	c := im.Counts
	for _, r := range []struct {
		label string
		n     int
	}{
		{"rows", c.Rows}, {"created", c.Created}, {"updated", c.Updated}, {"unchanged", c.Unchanged},
		{"merged in file", c.MergedInFile}, {"conflicts", c.Conflicts}, {"invalid", c.Invalid}, {"warnings", c.Warnings},
	} {
		fmt.Fprintf(w, "  %-15s %s\n", r.label, groupDigits(int64(r.n)))
	}
	if im.Kind == "orders" {
		for _, r := range []struct {
			label string
			n     int
		}{{"orders created", c.OrdersCreated}, {"orders skipped", c.OrdersSkipped}, {"orders invalid", c.OrdersInvalid}} {
			fmt.Fprintf(w, "  %-15s %s\n", r.label, groupDigits(int64(r.n)))
		}
	}
	fmt.Fprintf(w, "  %-15s %s\n", "rows/s", groupDigits(int64(im.RowsPerSecond+0.5)))
	if im.Error != "" {
		fmt.Fprintf(w, "  %-15s %s\n", "error", im.Error)
	}
	if len(im.ErrorSummary) > 0 {
		fmt.Fprintln(w, "Problems:")
		keys := make([]string, 0, len(im.ErrorSummary))
		for k := range im.ErrorSummary {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := im.ErrorSummary[keys[i]], im.ErrorSummary[keys[j]]
			return a > b || (a == b && keys[i] < keys[j])
		})
		for _, k := range keys {
			fmt.Fprintf(w, "  %7s  %s\n", groupDigits(int64(im.ErrorSummary[k])), k)
		}
	}
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// groupDigits writes 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
