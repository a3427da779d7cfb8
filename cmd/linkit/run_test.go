package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres/postgrestest"
	"github.com/linkitworks/customers/queue"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer is a bytes.Buffer safe for the goroutines run logs from.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testEnv is the environment of one test's linkit: its own database, queue
// namespace and port.
type testEnv map[string]string

func newTestEnv(t *testing.T) testEnv {
	t.Helper()
	ns := "c" + randomHex(6)
	env := testEnv{
		"LINKIT_DATABASE_URL":    postgrestest.NewURL(t),
		"LINKIT_REDIS_URL":       linkittest.RedisURL(),
		"LINKIT_HTTP_ADDR":       freeAddr(t),
		"LINKIT_QUEUE_NAMESPACE": ns,
		"LINKIT_ADMIN_TOKEN":     "admin-" + randomHex(8),
	}
	t.Cleanup(func() { deleteQueues(env) })
	return env
}

func (e testEnv) getenv(name string) string { return e[name] }

func (e testEnv) baseURL() string { return "http://" + e["LINKIT_HTTP_ADDR"] }

// deleteQueues removes the namespace's queues from the tests' Redis.
func deleteQueues(env testEnv) {
	opt, err := queue.RedisOpt(env["LINKIT_REDIS_URL"])
	if err != nil {
		return
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	for _, q := range (queue.Names{Namespace: env["LINKIT_QUEUE_NAMESPACE"]}).All() {
		_ = insp.DeleteQueue(q, true)
	}
}

// runCmd runs one short command (org, key, migrate, version) in-process.
func runCmd(t *testing.T, env testEnv, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, env.getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// keyJSON is what org create / key create print with --json.
type keyJSON struct {
	OrganizationID string `json:"organization_id"`
	KeyID          string `json:"key_id"`
	APIKey         string `json:"api_key"`
}

func createOrg(t *testing.T, env testEnv, name string) keyJSON {
	t.Helper()
	out, errOut, err := runCmd(t, env, "org", "create", "--name", name, "--json")
	if err != nil {
		t.Fatalf("org create: %v; stderr: %s", err, errOut)
	}
	var k keyJSON
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.OrganizationID == "" || k.APIKey == "" || k.KeyID == "" {
		t.Fatalf("org create printed %q (%v)", out, err)
	}
	return k
}

// server is a linkit process (all, serve or work) running in-process.
type server struct {
	env    testEnv
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServer runs `linkit <cmd>` until stop (or the test's end) and waits
// for /healthz when it serves HTTP.
func startServer(t *testing.T, env testEnv, cmd string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{env: env, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, []string{cmd}, env.getenv, io.Discard, s.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(40 * time.Second):
			t.Errorf("linkit %s did not stop", cmd)
		}
	})
	if cmd == "work" {
		return s
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-s.done:
			t.Fatalf("linkit %s exited early: %v; logs:\n%s", cmd, err, s.logs)
		default:
		}
		res, err := http.Get(env.baseURL() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ready: %v; logs:\n%s", err, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels the context (SIGTERM in main) and returns what run returned.
func (s *server) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("run did not return within %s after cancel; logs:\n%s", within, s.logs)
		return nil
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	srv := startServer(t, env, "all")
	base := env.baseURL()
	k := createOrg(t, env, "Acme Coffee")

	// The API as a Go program calls it: the generated client.
	ctx := t.Context()
	api := linkittest.Client{T: t, URL: base, Key: k.APIKey}.API()
	c, err := client.OK(api.CreateCustomerWithResponse(ctx, nil, client.CustomerInput{
		FirstName: client.Ptr("Lina"), LastName: client.Ptr("Saleh"), Email: client.Ptr("lina@example.com"), Phone: client.Ptr("+966501112233"),
	}))
	if err != nil || c.StatusCode() != http.StatusCreated {
		t.Fatalf("create: %v", err)
	}
	if lina := c.JSON201.Data; lina.OrganizationId != k.OrganizationID || client.Deref(lina.Email) != "lina@example.com" {
		t.Fatalf("created customer %s", c.Body)
	}

	up, err := client.OK(api.UpsertCustomerWithResponse(ctx, nil, client.UpsertCustomerJSONRequestBody{
		Name: client.Ptr("Omar Fares"), Email: client.Ptr("omar@example.com"),
	}))
	if err != nil || up.JSON201 == nil || up.JSON201.Meta.Action != client.UpsertMetaActionCreated {
		t.Fatalf("first upsert: %v %s", err, up.Body)
	}
	again, err := client.OK(api.UpsertCustomerWithResponse(ctx, nil, client.UpsertCustomerJSONRequestBody{Email: client.Ptr(" OMAR@Example.COM")}))
	if err != nil || again.JSON200 == nil || again.JSON200.Data.Id != up.JSON201.Data.Id ||
		again.JSON200.Meta.MatchedOn == nil || *again.JSON200.Meta.MatchedOn != "email" {
		t.Fatalf("second upsert: %v %s", err, again.Body)
	}
	list, err := client.OK(api.ListCustomersWithResponse(ctx, nil))
	if err != nil || list.JSON200 == nil || list.JSON200.Meta.Total != 2 {
		t.Fatalf("customers listed: %v %s", err, list.Body)
	}
	anonymous, err := client.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	var ae *client.APIError
	if _, err := client.OK(anonymous.ListCustomersWithResponse(ctx, nil)); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %v", err)
	}

	ready := linkittest.Call(t, "GET", base+"/readyz", "", nil).Want(t, http.StatusOK)
	if checks, _ := ready.Body["checks"].(map[string]any); checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Fatalf("/readyz %s", ready.Raw)
	}

	token := env["LINKIT_ADMIN_TOKEN"]
	linkittest.Call(t, "GET", base+"/monitoring/", "", nil).Want(t, http.StatusUnauthorized)
	linkittest.Call(t, "GET", base+"/monitoring/", "Bearer wrong-token", nil).Want(t, http.StatusUnauthorized)
	req, _ := http.NewRequest("GET", base+"/monitoring/", nil)
	req.SetBasicAuth("admin", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("/monitoring/ with basic auth: %d %.200s", res.StatusCode, page)
	}

	linkittest.Call(t, "GET", base+"/metrics", "", nil).Want(t, http.StatusUnauthorized)
	metrics := linkittest.Call(t, "GET", base+"/metrics", "Bearer "+token, nil).Want(t, http.StatusOK)
	if !strings.Contains(metrics.Raw, "linkit_http_requests_total") {
		t.Fatalf("/metrics lacks linkit_http_requests_total:\n%.2000s", metrics.Raw)
	}

	// Graceful shutdown: run returns nil once the API drained and the
	// workers stopped (HTTP drain 25 s, asynq shutdown 20 s at most).
	start := time.Now()
	if err := srv.stop(t, 30*time.Second); err != nil {
		t.Fatalf("run returned %v after cancel; logs:\n%s", err, srv.logs)
	}
	t.Logf("shutdown took %s", time.Since(start).Round(time.Millisecond))
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after run returned")
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		out, _, err := runCmd(t, testEnv{}, "version")
		if err != nil || out != "linkit "+version+"\n" {
			t.Fatalf("version: %q, %v", out, err)
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		t.Parallel()
		_, errOut, err := runCmd(t, testEnv{}, "frobnicate")
		if err == nil || !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), "frobnicate") {
			t.Fatalf("unknown command: err %v (exit %d)", err, exitCode(err))
		}
		if !strings.Contains(errOut, "Usage:") {
			t.Fatalf("no usage on stderr: %q", errOut)
		}
		if _, _, err := runCmd(t, testEnv{}); err == nil || exitCode(err) != 2 {
			t.Fatalf("no command: %v", err)
		}
		if _, _, err := runCmd(t, testEnv{}, "org", "create"); err == nil || exitCode(err) != 2 {
			t.Fatalf("org create without --name: %v", err)
		}
	})

	t.Run("key create and revoke", func(t *testing.T) {
		t.Parallel()
		env := newTestEnv(t)
		env["LINKIT_AUTH_CACHE_TTL"] = "0"
		org := createOrg(t, env, "Key Shop")
		out, errOut, err := runCmd(t, env, "key", "create", "--org", org.OrganizationID, "--json")
		if err != nil {
			t.Fatalf("key create: %v; %s", err, errOut)
		}
		var shape map[string]any
		if err := json.Unmarshal([]byte(out), &shape); err != nil {
			t.Fatalf("key create printed %q: %v", out, err)
		}
		if len(shape) != 3 || shape["organization_id"] != org.OrganizationID || str(shape["key_id"]) == "" || str(shape["api_key"]) == "" {
			t.Fatalf("key create JSON %s", out)
		}
		if shape["key_id"] == org.KeyID || shape["api_key"] == org.APIKey {
			t.Fatalf("key create reused the org's first key: %s", out)
		}
		if _, _, err := runCmd(t, env, "key", "create", "--org", "org_missing", "--json"); err == nil {
			t.Fatal("key create for a missing org succeeded")
		}

		startServer(t, env, "serve")
		base := env.baseURL()
		newKey := "Bearer " + str(shape["api_key"])
		linkittest.Call(t, "GET", base+"/api/v1/customers", newKey, nil).Want(t, http.StatusOK)
		linkittest.Call(t, "GET", base+"/api/v1/customers", "Bearer "+org.APIKey, nil).Want(t, http.StatusOK)

		out, errOut, err = runCmd(t, env, "key", "revoke", str(shape["key_id"]))
		if err != nil || !strings.Contains(out, str(shape["key_id"])) {
			t.Fatalf("key revoke: %q %v; %s", out, err, errOut)
		}
		linkittest.Call(t, "GET", base+"/api/v1/customers", newKey, nil).Want(t, http.StatusUnauthorized)
		// Only the revoked key stops working.
		linkittest.Call(t, "GET", base+"/api/v1/customers", "Bearer "+org.APIKey, nil).Want(t, http.StatusOK)
		if _, _, err := runCmd(t, env, "key", "revoke", "key_missing"); err == nil {
			t.Fatal("revoking an unknown key succeeded")
		}
	})

	t.Run("migrate creates a missing database", func(t *testing.T) {
		t.Parallel()
		name := "linkit_clitest_" + randomHex(6)
		dbURL := withDatabase(t, postgrestest.AdminURL(), name)
		t.Cleanup(func() {
			ctx := context.Background()
			if conn, err := pgx.Connect(ctx, postgrestest.AdminURL()); err == nil {
				_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				conn.Close(ctx)
			}
		})
		env := testEnv{"LINKIT_DATABASE_URL": dbURL}
		for i := range 2 { // the second run finds everything applied
			out, errOut, err := runCmd(t, env, "migrate")
			if err != nil || !strings.Contains(out, "migrations applied") || !strings.Contains(out, name) {
				t.Fatalf("migrate run %d: %q %v; %s", i+1, out, err, errOut)
			}
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatalf("database not created: %v", err)
		}
		defer conn.Close(ctx)
		for _, table := range []string{"organizations", "customers", "jobs", "audit_events"} {
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
				t.Fatalf("table %s after migrate: %d rows, %v", table, n, err)
			}
		}
		// The migrated database is usable by the other commands.
		createOrg(t, env, "Fresh")
	})

	t.Run("unreachable database", func(t *testing.T) {
		t.Parallel()
		env := testEnv{
			"LINKIT_DATABASE_URL":    "postgres://linkit:s3cr3t-pw@127.0.0.1:1/linkit?sslmode=disable",
			"LINKIT_REDIS_URL":       linkittest.RedisURL(),
			"LINKIT_HTTP_ADDR":       freeAddr(t),
			"LINKIT_QUEUE_NAMESPACE": "c" + randomHex(6),
		}
		for _, args := range [][]string{
			{"migrate"},
			{"org", "create", "--name", "X"},
			{"key", "revoke", "key_x"},
			{"serve"},
			{"work"},
			{"all"},
		} {
			_, _, err := runCmd(t, env, args...)
			if err == nil {
				t.Fatalf("%v succeeded against an unreachable database", args)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || strings.Contains(msg, "s3cr3t-pw") ||
				!strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "linkit:xxxxx@") || exitCode(err) != 1 {
				t.Fatalf("%v: error must be one line naming the redacted URL, got %q", args, msg)
			}
		}
	})
}

// TestLogsHideEmailsAndPhones drives creates, upserts (waited and async),
// lookups and failures through `linkit all` at debug level and checks that
// no email address or phone number reaches the logs (SPEC §11).
func TestLogsHideEmailsAndPhones(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env["LINKIT_LOG_LEVEL"] = "debug"
	srv := startServer(t, env, "all")
	base := env.baseURL()
	k := createOrg(t, env, "Private Co")
	bearer := "Bearer " + k.APIKey

	const (
		email1 = "secret.person@privacy-test.example"
		email2 = "hidden.buyer@privacy-test.example"
		phone1 = "+966509876543"
		phone2 = "+14155550177"
	)
	linkittest.Call(t, "POST", base+"/api/v1/customers", bearer, map[string]any{
		"first_name": "Secret", "last_name": "Person", "email": email1, "phone": phone1,
	}).Want(t, http.StatusCreated)
	// Conflicts, validation errors and lookups carry identities in bodies and URLs.
	linkittest.Call(t, "POST", base+"/api/v1/customers", bearer, map[string]any{
		"first_name": "Other", "last_name": "Person", "email": email1,
	}).Want(t, http.StatusConflict)
	linkittest.Call(t, "POST", base+"/api/v1/customers", bearer, map[string]any{
		"first_name": "Bad", "last_name": "Email", "email": "not-an-email@", "phone": phone2,
	}).Want(t, http.StatusUnprocessableEntity)
	linkittest.Call(t, "GET", base+"/api/v1/customers/lookup?email="+email1, bearer, nil).Want(t, http.StatusOK)
	linkittest.Call(t, "GET", base+"/api/v1/customers/lookup?phone=%2B"+phone1[1:], bearer, nil).Want(t, http.StatusOK)
	linkittest.Call(t, "GET", base+"/api/v1/customers?search="+email1, bearer, nil).Want(t, http.StatusOK)

	linkittest.Call(t, "POST", base+"/api/v1/customers/upsert", bearer, map[string]any{
		"name": "Hidden Buyer", "email": email2, "phone": phone2, "source": "pos",
	}).Want(t, http.StatusCreated)
	// Email → customer 1, phone → customer 2: a conflict the worker records.
	linkittest.Call(t, "POST", base+"/api/v1/customers/upsert", bearer, map[string]any{"email": email1, "phone": phone2}).
		Want(t, http.StatusOK)
	acc := linkittest.Call(t, "POST", base+"/api/v1/customers/upsert?wait=0", bearer, map[string]any{"email": email2, "added_tags": []string{"vip"}}).
		Want(t, http.StatusAccepted)
	api := linkittest.Client{T: t, URL: base, Key: k.APIKey}
	if job := api.WaitJob(strings.TrimPrefix(acc.Header.Get("Location"), "/api/v1/jobs/"), 15*time.Second); job["state"] != "completed" {
		t.Fatalf("async upsert not completed: %v", job)
	}
	if err := srv.stop(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	logs := srv.logs.String()
	if !strings.Contains(logs, `"route":"POST /api/v1/customers/upsert"`) {
		t.Fatalf("access log lines missing; logs:\n%s", logs)
	}
	lower := strings.ToLower(logs)
	for _, secret := range []string{email1, email2, "secret.person", "hidden.buyer", "not-an-email", phone1[1:], phone2[1:], "509876543", "4155550177"} {
		if strings.Contains(lower, strings.ToLower(secret)) {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(strings.ToLower(line), strings.ToLower(secret)) {
					t.Errorf("log leaks %q: %s", secret, line)
				}
			}
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

func withDatabase(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
