package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres"
)

func migrate(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied to", postgres.Redact(cfg.DatabaseURL))
	return nil
}

// serve runs the API until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg config, withMigrate bool, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	if withMigrate {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	store, err := postgres.Open(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns))
	if err != nil {
		return err
	}
	defer store.Close()

	srv := &http.Server{
		Addr: cfg.HTTPAddr,
		Handler: api.NewServer(api.Config{AdminToken: cfg.AdminToken, AuthCacheTTL: cfg.AuthCacheTTL},
			store, log, api.Check{Name: "postgres", Ping: store.Ping}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
