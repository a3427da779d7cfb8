// `linkit health`: the container's HEALTHCHECK (distroless images have no
// curl), asking the process in the same container for /healthz.

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthCommand exits 0 when GET /healthz answers 200 within the timeout,
// else 1. The address is --addr, else LINKIT_WORKER_HTTP_ADDR (a `linkit
// work` container), else LINKIT_HTTP_ADDR.
func healthCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health [--addr HOST:PORT] [--timeout 3s]",
		Short: "Exit 0 when /healthz answers 200: the container HEALTHCHECK",
		Args:  cobra.NoArgs,
	}
	addr := cmd.Flags().String("addr", "", "address of the process to ask (default $LINKIT_WORKER_HTTP_ADDR, else $LINKIT_HTTP_ADDR)")
	timeout := cmd.Flags().Duration("timeout", 3*time.Second, "how long to wait for the answer")
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		a := cmp.Or(*addr, cfg.WorkerHTTPAddr, cfg.HTTPAddr)
		return checkHealth(cmd.Context(), a, *timeout, stdout)
	})
	return cmd
}

func checkHealth(ctx context.Context, addr string, timeout time.Duration, stdout io.Writer) error {
	url := "http://" + dialable(addr) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
