package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hostile is the soak's hostile client: the black-box probe's findings
// (issue 21), sent over and over from an organization of its own. Each
// request must be refused with a 4xx or have its connection cut, in time;
// anything else (a 5xx, an acceptance, no answer) is counted as bad.
type hostile struct {
	addr    string
	key     string
	timeout time.Duration // the service's read/idle/progress timeouts

	mu    sync.Mutex
	kinds map[string]*hostileCount
	bad   []string
}

type hostileCount struct {
	N, Bad int
	Seen   map[string]int // answers: "422", "cut", …
}

func newHostile(addr, key string, timeout time.Duration) *hostile {
	return &hostile{addr: addr, key: key, timeout: timeout, kinds: map[string]*hostileCount{}}
}

func (h *hostile) note(kind string, ok bool, seen, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.kinds[kind]
	if c == nil {
		c = &hostileCount{Seen: map[string]int{}}
		h.kinds[kind] = c
	}
	c.N++
	c.Seen[seen]++
	if !ok {
		c.Bad++
		if len(h.bad) < 20 {
			h.bad = append(h.bad, kind+": "+detail)
		}
	}
}

func (h *hostile) totals() (n, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.kinds {
		n += c.N
		bad += c.Bad
	}
	return n, bad
}

func (h *hostile) snapshot() (map[string]*hostileCount, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]*hostileCount{}
	for k, c := range h.kinds {
		cc := *c
		cc.Seen = maps.Clone(c.Seen)
		out[k] = &cc
	}
	return out, append([]string(nil), h.bad...)
}

// run sends the hostile cases until ctx ends; every case in flight then
// finishes (each is bounded by its own deadline).
func (h *hostile) run(ctx context.Context) {
	var wg sync.WaitGroup
	loop := func(f func()) {
		wg.Go(func() {
			for ctx.Err() == nil {
				f()
			}
		})
	}
	// One stalled upload at a time leaves the organization's second upload
	// slot to the hostile imports below (else they meet 429 only); the
	// legitimate organization's import must find a slot all along.
	loop(h.stalledUpload)
	loop(h.slowBody)
	loop(h.idleConnections)
	quick := h.quickCases()
	loop(func() {
		for _, c := range quick {
			if ctx.Err() != nil {
				return
			}
			c()
			time.Sleep(100 * time.Millisecond)
		}
	})
	wg.Wait()
}

// verdict: a 4xx or a cut connection is what the service owes a hostile
// request.
func (h *hostile) verdict(kind string, status int, err error) {
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		h.note(kind, false, "hung", "no answer and not cut within the deadline")
	case err != nil:
		h.note(kind, true, "cut", "")
	case status >= 400 && status < 500:
		h.note(kind, true, strconv.Itoa(status), "")
	default:
		h.note(kind, false, strconv.Itoa(status), fmt.Sprintf("status %d", status))
	}
}

// exchange sends head on a new connection, then runs trickle (if any)
// while it waits up to wait for the answer's status line.
func (h *hostile) exchange(head []byte, trickle func(net.Conn), wait time.Duration) (int, error) {
	conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(head); err != nil {
		return 0, err // cut while we wrote
	}
	if trickle != nil {
		go trickle(conn)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// slack is how long past a service timeout a cut may take.
func (h *hostile) slack() time.Duration { return 2*h.timeout + 20*time.Second }

// stalledUpload sends a few rows of a CSV that claims 10 MB, then nothing:
// cut by the progress deadline (408), or 429 when the organization already
// has its uploads in flight.
func (h *hostile) stalledUpload() {
	head := "POST /api/v1/imports HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer " + h.key +
		"\r\nContent-Type: text/csv\r\nContent-Length: 10000000\r\n\r\nFirst Name,Email\r\nAda,ada1@example.com\r\nBob,bob2@example.com\r\n"
	status, err := h.exchange([]byte(head), nil, h.slack())
	h.verdict("stalled-upload", status, err)
}

// slowBody sends an upsert body a byte at a time, slower than the read
// timeout allows.
func (h *hostile) slowBody() {
	head := "POST /api/v1/customers/upsert HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer " + h.key +
		"\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"
	step := max(h.timeout/5, 100*time.Millisecond)
	status, err := h.exchange([]byte(head), func(c net.Conn) {
		for range 399 {
			time.Sleep(step)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}, h.slack())
	h.verdict("slow-body", status, err)
}

// idleConnections opens connections that send nothing, and keep-alives
// that go idle after one request: the service must close all of them.
func (h *hostile) idleConnections() {
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			kind := "idle-silent"
			conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
			if err != nil {
				h.note(kind, false, "dial", "dial: "+err.Error())
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(h.slack()))
			br := bufio.NewReader(conn)
			if i%2 == 1 {
				kind = "idle-keepalive"
				if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: soak\r\n\r\n")); err != nil {
					h.note(kind, false, "write", "write: "+err.Error())
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					h.note(kind, false, "healthz", "healthz: "+err.Error())
					return
				}
				_, _ = resp.Body.Read(make([]byte, 512))
				resp.Body.Close()
			}
			// Now idle: the only right outcome is the service closing it
			// (EOF); a 408 before the close is fine too.
			_, err = br.ReadByte()
			for err == nil {
				_, err = br.ReadByte()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				h.note(kind, false, "open", "not closed by the service within the deadline")
			} else {
				h.note(kind, true, "closed", "")
			}
		})
	}
	wg.Wait()
}

// quickCases are the requests answered at once: each returns its 4xx.
func (h *hostile) quickCases() []func() {
	client := &http.Client{Timeout: h.slack()}
	send := func(kind, method, path, ctype string, body []byte, header map[string]string) func() {
		return func() {
			req, err := http.NewRequest(method, "http://"+h.addr+path, bytes.NewReader(body))
			if err != nil {
				h.note(kind, false, "request", "request: "+err.Error())
				return
			}
			req.Header.Set("Authorization", "Bearer "+h.key)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			for k, v := range header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				h.verdict(kind, 0, err)
				return
			}
			resp.Body.Close()
			h.verdict(kind, resp.StatusCode, nil)
		}
	}
	raw := func(kind, head string) func() {
		return func() {
			status, err := h.exchange([]byte(head), nil, h.slack())
			h.verdict(kind, status, err)
		}
	}
	deep := []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000))
	huge := []byte(`{"name":"` + strings.Repeat("x", 8<<20) + `","email":"huge@example.com"}`)
	var fields bytes.Buffer
	mw := multipart.NewWriter(&fields)
	for i := range 200 {
		_ = mw.WriteField(fmt.Sprintf("f%d", i), strings.Repeat("v", 1024))
	}
	fw, _ := mw.CreateFormFile("file", "c.csv")
	_, _ = fw.Write([]byte("Email\na@example.com\n"))
	_ = mw.Close()
	auth := "Authorization: Bearer " + h.key + "\r\n"
	upsert := `{"name":"Nul Person","email":"nul.person@example.com"}`
	return []func(){
		raw("huge-method", strings.Repeat("A", 100<<10)+" /healthz HTTP/1.1\r\nHost: soak\r\n\r\n"),
		send("deep-json-upsert", http.MethodPost, "/api/v1/customers/upsert", "application/json", deep, nil),
		send("deep-json-import", http.MethodPost, "/api/v1/imports", "application/json", deep, nil),
		send("nul-query", http.MethodGet, "/api/v1/customers/lookup?email=a%00b%40example.com", "", nil, nil),
		send("nul-path", http.MethodGet, "/api/v1/customers/cust_%00x", "", nil, nil),
		send("nul-search", http.MethodGet, "/api/v1/customers?search=%00%ff", "", nil, nil),
		send("nul-json", http.MethodPost, "/api/v1/customers/upsert", "application/json",
			[]byte(`{"name":"a\u0000b","email":"nul.json@example.com"}`), nil),
		raw("bad-utf8-idempotency-key", "POST /api/v1/customers/upsert HTTP/1.1\r\nHost: soak\r\n"+auth+
			"Idempotency-Key: k\xff\xfe\r\nContent-Type: application/json\r\n"+
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(upsert), upsert)),
		raw("bad-utf8-authorization", "GET /api/v1/customers HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer lk_\xff\xfe\r\n\r\n"),
		send("oversized-body", http.MethodPost, "/api/v1/customers/upsert", "application/json", huge, nil),
		send("oversized-multipart-fields", http.MethodPost, "/api/v1/imports", mw.FormDataContentType(), fields.Bytes(), nil),
	}
}
