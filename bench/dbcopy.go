package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// snapshot is a copy of the loaded benchmark database, taken with no one
// connected to it, that later copies are made from (CREATE DATABASE …
// TEMPLATE needs its template idle, and the running service never is).
type snapshot struct {
	url  string // the benchmark database's URL
	name string // the snapshot's database
}

// withDatabase is a postgres:// URL naming another database.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("database url %q: a postgres:// URL is needed to name its copies", raw)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// adminExec runs statements on the server's maintenance database.
func adminExec(ctx context.Context, dbURL string, stmts ...string) error {
	pc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	pc.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	for _, q := range stmts {
		if _, err := admin.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// copyDatabase creates dst as a copy of src (both names must contain
// "bench"), dropping an older dst first. FILE_COPY copies the files (with a
// checkpoint) instead of writing every page to the WAL: seconds for a
// database of gigabytes.
func copyDatabase(ctx context.Context, dbURL, src, dst string) error {
	if !strings.Contains(dst, "bench") || !strings.Contains(src, "bench") {
		return fmt.Errorf("refusing to copy %q to %q: names must contain \"bench\"", src, dst)
	}
	strategy := ""
	var v int
	if pc, err := pgx.ParseConfig(dbURL); err == nil {
		if c, err := pgx.ConnectConfig(ctx, pc); err == nil {
			_ = c.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&v)
			c.Close(ctx)
		}
	}
	if v >= 150000 {
		strategy = " STRATEGY = FILE_COPY"
	}
	return adminExec(ctx, dbURL,
		"DROP DATABASE IF EXISTS "+pgx.Identifier{dst}.Sanitize()+" WITH (FORCE)",
		"CREATE DATABASE "+pgx.Identifier{dst}.Sanitize()+" TEMPLATE "+pgx.Identifier{src}.Sanitize()+strategy)
}

// dropDatabase drops a copy (name must contain "bench").
func dropDatabase(ctx context.Context, dbURL, name string) error {
	if !strings.Contains(name, "bench") {
		return fmt.Errorf("refusing to drop %q", name)
	}
	return adminExec(context.WithoutCancel(ctx), dbURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// takeSnapshot copies the benchmark database (nothing may be connected to it).
func takeSnapshot(ctx context.Context, dbURL string, logf func(string, ...any)) (*snapshot, error) {
	pc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	s := &snapshot{url: dbURL, name: pc.Database + "_snap"}
	start := time.Now()
	if err := copyDatabase(ctx, dbURL, pc.Database, s.name); err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", pc.Database, err)
	}
	logf("import: snapshot %s of the loaded database in %.1f s", s.name, time.Since(start).Seconds())
	return s, nil
}

// copy makes a fresh copy of the snapshot named after it with suffix and
// returns its name and URL.
func (s *snapshot) copy(ctx context.Context, suffix string) (name, dbURL string, err error) {
	name = strings.TrimSuffix(s.name, "_snap") + "_" + suffix
	if dbURL, err = withDatabase(s.url, name); err != nil {
		return "", "", err
	}
	if err := copyDatabase(ctx, s.url, s.name, name); err != nil {
		return "", "", err
	}
	return name, dbURL, nil
}

func (s *snapshot) drop(ctx context.Context) error { return dropDatabase(ctx, s.url, s.name) }
