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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
)

// contentType is the raw body's type by extension; a .gz file is sent as
// the type inside with Content-Encoding gzip (the server sniffs gzip
// either way), anything unknown as octet-stream for the server to sniff.
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

// apiClient speaks to /api/v1/imports through the generated client.
type apiClient struct {
	base string
	api  *client.ClientWithResponses
}

func newAPIClient(base, key string) (*apiClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// With Expect: 100-continue a rejected key or option is answered
	// before any of the file is sent.
	tr.ExpectContinueTimeout = 2 * time.Second
	api, err := client.New(base, key,
		client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithUserAgent("linkit/"+version))
	if err != nil {
		return nil, fmt.Errorf("API client for %s: %w", base, err)
	}
	return &apiClient{base: base, api: api}, nil
}

// answer returns a call's response when it is 2xx, else an apiError (the
// API refused) or a netError (it could not be reached).
func (c *apiClient) answer(ctx context.Context, res *http.Response, err error) (*http.Response, error) {
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &netError{base: c.base, err: err}
	}
	if err := client.Check(res); err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) {
			return nil, &apiError{ae}
		}
		return nil, err
	}
	return res, nil
}

// fileEditors are the upload's headers the generated call does not set:
// the Content-Encoding of a gzipped file.
func fileEditors(name string) (ctype string, editors []client.RequestEditorFn) {
	ctype, enc := contentType(name)
	if enc != "" {
		editors = append(editors, client.Header("Content-Encoding", enc))
	}
	return ctype, editors
}

// upload streams the file as the request body and returns the accepted import.
func (c *apiClient) upload(ctx context.Context, f io.Reader, name string, size int64, params client.CreateImportParams, prog importProgress) (*customer.Import, error) {
	params.FileName = &name
	body := &uploadReader{r: f, prog: prog}
	defer body.close()
	ctype, editors := fileEditors(name)
	editors = append(editors, client.Header("Expect", "100-continue"),
		func(_ context.Context, req *http.Request) error {
			req.ContentLength = size
			if size == 0 {
				req.Body = http.NoBody
			}
			return nil
		})
	res, err := c.api.CreateImportWithBody(ctx, &params, ctype, body, editors...)
	res, err = c.answer(ctx, res, err)
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
		got, err := c.getImport(ctx, im.ID)
		if err == nil {
			im, failingSince = got, time.Time{}
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

// getImport reads the import as the API has it now.
func (c *apiClient) getImport(ctx context.Context, id string) (*customer.Import, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := c.api.GetImport(ctx, id)
	if res, err = c.answer(ctx, res, err); err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var env struct {
		Data *customer.Import `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || env.Data == nil {
		return nil, &netError{base: c.base, err: fmt.Errorf("unreadable answer: %v", err)}
	}
	return env.Data, nil
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
	res, err := c.api.ImportErrors(ctx, id, &client.ImportErrorsParams{Format: client.Ptr(client.Csv)})
	if res, err = c.answer(ctx, res, err); err != nil {
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

// apiError is an API answer other than 2xx, in the documented error
// shape, told the CLI's way.
type apiError struct{ *client.APIError }

func (e *apiError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "API key rejected (401): set LINKIT_API_KEY or pass --api-key"
	case http.StatusForbidden:
		return "API key not allowed here (403): " + e.Message()
	case http.StatusRequestEntityTooLarge:
		var d struct {
			MaxBytes int64 `json:"max_bytes"`
		}
		if json.Unmarshal(e.Body.Details, &d) == nil && d.MaxBytes > 0 {
			return fmt.Sprintf("file too large (413): the server accepts at most %s", humanBytes(d.MaxBytes))
		}
		return "file too large (413)"
	}
	return e.APIError.Error()
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
