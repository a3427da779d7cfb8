// The API client of linkit import: upload, watch, fetch the error CSV, and the errors it reports.

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/linkitworks/customers/customer"
)

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
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", encoding
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
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
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

func importDone(status customer.ImportStatus) bool {
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
	// RetryAfter is the answer's Retry-After (0 when absent).
	RetryAfter time.Duration `json:"-"`
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
