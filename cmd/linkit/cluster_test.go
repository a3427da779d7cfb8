package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The helpers here run the infrastructure of a multi-process deployment on
// loopback for one test: PgBouncer in transaction mode and Redis with
// Sentinel. They start their own daemons on free ports and never touch the
// shared PostgreSQL's settings or the shared Redis's data.

// daemon is an infrastructure process (pgbouncer, redis-server) a test runs.
type daemon struct {
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func startDaemon(t *testing.T, name string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(name, args...)
	d := &daemon{name: name, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("%s %s logs:\n%.4000s", name, strings.Join(args, " "), d.logs)
		}
	})
	return d
}

// kill ends the daemon at once (SIGKILL: no save, no goodbye).
func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// freePort is a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// waitListening polls until something accepts TCP connections on addr.
func waitListening(t *testing.T, d *daemon, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited: %s", d.name, d.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s: %v\n%s", d.name, addr, err, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// needTool skips unless the tool is installed; scripts/test-deps.sh
// installs it (make test), so CI never skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if p, err = exec.LookPath(filepath.Join("/usr/sbin", name)); err != nil {
			t.Skipf("%s is not installed (scripts/test-deps.sh installs it)", name)
		}
	}
	return p
}

// startPgBouncer runs PgBouncer in transaction mode in front of the
// PostgreSQL of databaseURL and returns the same URL through it. The pool
// is smaller than the clients' pools together, so server connections are
// really shared between processes and transactions.
func startPgBouncer(t *testing.T, databaseURL string, poolSize int) string {
	t.Helper()
	bin := needTool(t, "pgbouncer")
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "linkit-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(t)
	user := u.User.Username()
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
`, u.Hostname(), u.Port(), port, filepath.Join(dir, "users.txt"), poolSize)
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; it drops to this user.
		ini += "user = postgres\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(fmt.Sprintf("%q \"\"\n", user)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, filepath.Join(dir, "pgbouncer.ini"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, d, addr)
	u.Host = addr
	// PgBouncer before 1.21 keeps no prepared statements across
	// transactions: pgx caches statement descriptions instead of naming
	// prepared statements (docs/scaling.md#pgbouncer).
	q := u.Query()
	q.Set("default_query_exec_mode", "cache_describe")
	u.RawQuery = q.Encode()
	return u.String()
}

// sentinelRedis is a Redis master, its replica and three Sentinels
// watching them (quorum 2), all on free loopback ports.
type sentinelRedis struct {
	t         *testing.T
	master    string // "mymaster"
	primary   *daemon
	addrs     [2]string // the initial master's and replica's addresses
	sentinels []string
	URL       string // redis-sentinel://…?master=…
	// link is the master's address as everyone knows it (Sentinels,
	// clients, the replica): a proxy whose cut drops what the master sends
	// its replica, like replication lag at a crash. (A replica pointed at a
	// proxy the Sentinels do not know would be "fixed" by them.)
	link *replLink
}

// replLink forwards connections to the master; once cut, the master's
// stream to a replica (a connection that sent PSYNC) is read and dropped:
// the master sees a healthy replica, the replica waits for more.
type replLink struct {
	addr string
	cut  atomic.Bool
}

func startReplLink(t *testing.T, master string) *replLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	l := &replLink{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go l.pipe(c, master)
		}
	}()
	return l
}

func (l *replLink) pipe(client net.Conn, master string) {
	defer client.Close()
	m, err := net.Dial("tcp", master)
	if err != nil {
		return
	}
	defer m.Close()
	var replica atomic.Bool
	go func() {
		defer m.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if !replica.Load() && bytes.Contains(buf[:n], []byte("PSYNC")) {
					replica.Store(true)
				}
				if _, werr := m.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := m.Read(buf)
		if n > 0 && !(l.cut.Load() && replica.Load()) {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func startSentinelRedis(t *testing.T) *sentinelRedis {
	t.Helper()
	bin := needTool(t, "redis-server")
	dir := t.TempDir()
	s := &sentinelRedis{t: t, master: "linkit"}
	var servers [2]*daemon
	for i := range servers {
		if i == 1 {
			s.link = startReplLink(t, s.addrs[0])
		}
		port := freePort(t)
		s.addrs[i] = fmt.Sprintf("127.0.0.1:%d", port)
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0",
			"--dir", dir, "--dbfilename", fmt.Sprintf("dump%d.rdb", i)}
		if i == 1 {
			_, lport, _ := net.SplitHostPort(s.link.addr)
			args = append(args, "--replicaof", "127.0.0.1", lport)
		}
		servers[i] = startDaemon(t, bin, args...)
		waitListening(t, servers[i], s.addrs[i])
	}
	s.primary = servers[0]
	_, mport, _ := net.SplitHostPort(s.link.addr)
	for i := range 3 {
		port := freePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", i))
		// Sentinel rewrites its config file, so each gets its own.
		m := s.master
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n", port, dir) +
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2\n", m, mport) +
			fmt.Sprintf("sentinel down-after-milliseconds %s 1000\n", m) +
			fmt.Sprintf("sentinel failover-timeout %s 5000\n", m) +
			fmt.Sprintf("sentinel parallel-syncs %s 1\n", m)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, bin, conf, "--sentinel")
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		waitListening(t, d, addr)
		s.sentinels = append(s.sentinels, addr)
	}
	s.URL = "redis-sentinel://" + strings.Join(s.sentinels, ",") + "?master=" + s.master
	s.waitHealthy()
	return s
}

// waitHealthy waits until the replica is in sync and every Sentinel knows
// the replica and the two other Sentinels: only then can they agree on a
// failover.
func (s *sentinelRedis) waitHealthy() {
	t := s.t
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
		for {
			m, err := sc.Master(ctx, s.master).Result()
			if err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1" && m["flags"] == "master" {
				break
			}
			if time.Now().After(deadline) {
				sc.Close()
				t.Fatalf("sentinel %s never saw the whole set-up: %v %v", addr, m, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		sc.Close()
	}
	replica := redis.NewClient(&redis.Options{Addr: s.addrs[1]})
	defer replica.Close()
	for {
		info, err := replica.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failover SIGKILLs the master (writes it had not replicated are lost, as
// in a real crash) and waits until the Sentinels have promoted the replica.
func (s *sentinelRedis) failover() time.Duration {
	t := s.t
	t.Helper()
	start := time.Now()
	s.primary.kill()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0]})
	defer sc.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		addr, err := sc.GetMasterAddrByName(context.Background(), s.master).Result()
		if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == s.addrs[1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinels did not promote the replica within a minute: %v %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The promoted replica accepts writes once it has left replica mode.
	rdb := redis.NewClient(&redis.Options{Addr: s.addrs[1]})
	defer rdb.Close()
	for {
		role, err := rdb.Do(context.Background(), "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("promoted replica still not a master: %v %v", role, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// privatePostgres is a PostgreSQL cluster of the test's own (initdb in a
// temporary directory, a free port), so a scenario can restart it without
// touching the server every other test shares.
type privatePostgres struct {
	t    *testing.T
	bin  string // the server's bin directory
	data string
	log  string // the server's log (pg_ctl -l: else the server holds pg_ctl's output open)
	URL  string // its database "linkit"
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	ctls, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(ctls) == 0 {
		t.Skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) to run a private cluster")
	}
	sort.Strings(ctls)
	dir, err := os.MkdirTemp("", "linkit-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePostgres{t: t, bin: filepath.Dir(ctls[len(ctls)-1]), data: filepath.Join(dir, "data"), log: filepath.Join(dir, "log")}
	if os.Geteuid() == 0 {
		// The server refuses to run as root: the cluster belongs to postgres.
		if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = p.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := p.command("initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
		"--locale=C.UTF-8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c max_connections=200", port, dir)
	if err := p.pgCtl("start", "-o", opts); err != nil {
		t.Fatal(err)
	}
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/linkit?sslmode=disable", port)
	return p
}

func (p *privatePostgres) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (p *privatePostgres) pgCtl(args ...string) error {
	out, err := p.command("pg_ctl", append([]string{"-D", p.data, "-l", p.log, "-w", "-t", "60"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// restart stops the server the way a crash does (immediate: no
// checkpoint, every connection cut) and starts it again, which recovers
// from the WAL.
func (p *privatePostgres) restart() {
	p.t.Helper()
	if err := p.pgCtl("restart", "-m", "immediate"); err != nil {
		p.t.Error(err) // may run on a goroutine of the test
	}
}

// startLatencyProxy forwards loopback connections to target, each byte
// arriving delay later in both directions: a slow network between the
// service and its servers, in user space. (tc netem in a network namespace
// would do the same in the kernel; kernels without sch_netem, like many
// containers', cannot.)
func startLatencyProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go delayCopy(s, c, delay)
			go delayCopy(c, s, delay)
		}
	}()
	return ln.Addr().String()
}

// delayCopy copies src to dst, holding each read back for delay (in
// order, so throughput is not limited, only latency added).
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type packet struct {
		at   time.Time
		data []byte
	}
	q := make(chan packet, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- packet{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for p := range q {
		time.Sleep(time.Until(p.at))
		if _, err := dst.Write(p.data); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}
