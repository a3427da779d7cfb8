package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgSettings are the server settings that move the figures most: the
// import writes gigabytes of WAL, and a small max_wal_size checkpoints every
// few seconds, each checkpoint making the next touch of every page a full
// page image.
var pgSettings = []string{"server_version", "shared_buffers", "max_wal_size", "work_mem"}

// readPGSettings describes the server the run measured, for the report.
func readPGSettings(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var parts []string
	for _, name := range pgSettings {
		var v string
		if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return "", fmt.Errorf("read %s: %w", name, err)
		}
		parts = append(parts, name+" "+strings.Fields(v)[0])
	}
	return strings.Join(parts, ", "), nil
}

var walSizeRE = regexp.MustCompile(`^[0-9]+(kB|MB|GB|TB)?$`)

// setMaxWALSize applies -pg-max-wal-size for the run (ALTER SYSTEM and a
// reload: it needs a superuser) and returns how to put the old value back.
func setMaxWALSize(ctx context.Context, pool *pgxpool.Pool, size string) (restore func(), err error) {
	if !walSizeRE.MatchString(size) { // ALTER SYSTEM takes no parameters
		return nil, fmt.Errorf("-pg-max-wal-size %q: want a size such as 16GB", size)
	}
	var old, file string
	if err := pool.QueryRow(ctx, `SELECT setting || coalesce(unit, ''), coalesce(sourcefile, '') FROM pg_settings
		WHERE name = 'max_wal_size'`).Scan(&old, &file); err != nil {
		return nil, err
	}
	for _, q := range []string{`ALTER SYSTEM SET max_wal_size = '` + size + `'`, `SELECT pg_reload_conf()`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("-pg-max-wal-size: %w", err)
		}
	}
	// The reload is a signal: wait until sessions see the new value.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var applied bool
		if err := pool.QueryRow(ctx, `SELECT pg_size_bytes(current_setting('max_wal_size')) = pg_size_bytes($1)`, size).
			Scan(&applied); err != nil {
			return nil, err
		}
		if applied {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("-pg-max-wal-size: the server still reports the old value after a reload")
		}
	}
	// The restore opens its own connection: the import suite closes and
	// replaces the run's pool when it copies the database.
	return func() {
		ctx := context.WithoutCancel(ctx)
		q := `ALTER SYSTEM RESET max_wal_size`
		if strings.HasSuffix(file, "postgresql.auto.conf") && walSizeRE.MatchString(old) {
			q = `ALTER SYSTEM SET max_wal_size = '` + old + `'` // it was set this way before
		}
		conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
		if err != nil {
			fmt.Fprintf(os.Stderr, "-pg-max-wal-size: not restored (%v): run %s; SELECT pg_reload_conf()\n", err, q)
			return
		}
		defer conn.Close(ctx)
		for _, stmt := range []string{q, `SELECT pg_reload_conf()`} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				fmt.Fprintf(os.Stderr, "-pg-max-wal-size: not restored (%v): run %s; SELECT pg_reload_conf()\n", err, q)
				return
			}
		}
	}, nil
}
