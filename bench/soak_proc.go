package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// linkitProcess is `linkit all` running as a child process: its memory is
// its own, read from /proc like an operator would.
type linkitProcess struct {
	cmd      *exec.Cmd
	addr     string // host:port
	baseURL  string
	log      *os.File
	exited   chan struct{}
	stopOnce sync.Once
}

// startLinkit runs the binary on a free loopback port against the soak's
// database and Redis, and waits for /healthz.
func startLinkit(ctx context.Context, sc soakConfig, logPath string) (*linkitProcess, error) {
	if _, err := os.Stat(sc.binary); err != nil {
		return nil, fmt.Errorf("soak binary: %w (make build)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	timeout := sc.serverTimeout.String()
	pc, err := pgx.ParseConfig(sc.databaseURL)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	// The caller's LINKIT_* settings would make it another service than the
	// one measured: only ours go through.
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINKIT_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"LINKIT_DATABASE_URL="+sc.databaseURL,
		"LINKIT_REDIS_URL="+sc.redisURL,
		// Queues named after the database: two soaks sharing a Redis (other
		// worktrees, CI) never take each other's tasks.
		"LINKIT_QUEUE_NAMESPACE="+pc.Database,
		"LINKIT_HTTP_ADDR="+addr,
		"LINKIT_ADMIN_TOKEN="+soakAdminToken,
		// Limits far above the load: the limiter runs, nothing is refused.
		"LINKIT_RATE_LIMIT=1000000", "LINKIT_RATE_LIMIT_UPSERT=1000000", "LINKIT_RATE_LIMIT_IMPORT=1000000",
		"LINKIT_HTTP_READ_TIMEOUT="+timeout,
		"LINKIT_HTTP_READ_HEADER_TIMEOUT="+timeout,
		"LINKIT_HTTP_IDLE_TIMEOUT="+timeout,
		"LINKIT_IMPORT_PROGRESS_TIMEOUT="+timeout,
	)
	cmd := exec.Command(sc.binary, "all")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the soak
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", sc.binary, err)
	}
	p := &linkitProcess{cmd: cmd, addr: addr, baseURL: "http://" + addr, log: logFile, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("linkit all exited at start: %s", tail(logPath, 2000))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("linkit all did not answer /healthz within 90 s: %s", tail(logPath, 2000))
		}
	}
}

// stop sends SIGTERM (a drain), then SIGKILL after 30 s.
func (p *linkitProcess) stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		p.log.Close()
	})
}

// procMemory is the process's resident memory now and its peak, in MB.
type procMemory struct{ rss, hwm float64 }

func (p *linkitProcess) memory() procMemory {
	var m procMemory
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
		switch name {
		case "VmRSS":
			m.rss = kb / 1024
		case "VmHWM":
			m.hwm = kb / 1024
		}
	}
	return m
}

func (p *linkitProcess) metricsText(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+soakAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

// metrics reads the unlabelled samples of /metrics (Prometheus text).
func (p *linkitProcess) metrics(ctx context.Context) (map[string]float64, error) {
	b, err := p.metricsText(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

// tail is the end of a file, for an error message.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
