// `linkit health`: the container's HEALTHCHECK (distroless images have no
// curl), asking the process in the same container for /healthz.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthCommand exits 0 when GET /healthz answers 200 within the timeout,
// else 1. The address is --addr, else LINKIT_WORKER_HTTP_ADDR (a `linkit
// work` container), else LINKIT_HTTP_ADDR.
func healthCommand(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	addr := cfg.HTTPAddr
	if cfg.WorkerHTTPAddr != "" {
		addr = cfg.WorkerHTTPAddr
	}
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", addr, "address of the process to ask (LINKIT_WORKER_HTTP_ADDR, else LINKIT_HTTP_ADDR)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	url := "http://" + dialable(addr) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d", url, res.StatusCode)
	}
	fmt.Fprintln(stdout, "ok", url)
	return nil
}

// dialable turns a listen address (":8080", "0.0.0.0:8080", "[::]:8080")
// into one to connect to on this host.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
