// Package postgrestest gives each test its own PostgreSQL database, cloned
// in milliseconds from a template migrated once per schema version.
package postgrestest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/migrations"
	"github.com/linkitworks/customers/postgres"
)

// AdminURL is the server used for tests: LINKIT_TEST_DATABASE_URL or the
// local trust-auth default.
func AdminURL() string {
	if u := os.Getenv("LINKIT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// NewURL creates a fresh migrated database and returns its URL. The database
// is dropped when the test passes and kept (its URL logged) when it fails.
func NewURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("test database template: %v", templateErr)
	}
	name := "linkit_test_" + randomHex(6)
	admin := connect(t, AdminURL())
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+templateName); err != nil {
		t.Fatalf("clone test database: %v", err)
	}
	dbURL := withDatabase(AdminURL(), name)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept test database: %s", dbURL)
			return
		}
		conn, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return dbURL
}

// New returns a Store on a fresh database (see NewURL).
func New(t testing.TB) *postgres.Store {
	t.Helper()
	dbURL := NewURL(t)
	s, err := postgres.Open(context.Background(), dbURL, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ensureTemplate migrates a template named after the migrations' hash,
// once per schema version; an advisory lock keeps parallel test binaries
// from building it twice.
func ensureTemplate(ctx context.Context) (string, error) {
	name := "linkit_tpl_" + migrationsHash()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return "", err
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(727274)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	if err := postgres.Migrate(ctx, withDatabase(AdminURL(), building)); err != nil {
		return "", err
	}
	// Renaming after a complete migration means a half-built template is never used.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(migrations.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS(), n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", postgres.Redact(dbURL), err)
	}
	return conn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
