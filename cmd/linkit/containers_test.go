package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// repoFile reads a file at the repository's root.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The image builds in stages, runs as a numeric non-root user, stamps the
// version into main.version and checks itself with `linkit health`; the
// build context leaves out history, local data and binaries.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	var froms []int // line index of each FROM
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(repoFile(t, "Dockerfile")))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			froms = append(froms, len(lines))
		}
		lines = append(lines, l)
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(froms))
	}
	final := lines[froms[len(froms)-1]:]
	instr := func(name string) []string {
		var out []string
		for _, l := range final {
			if f := strings.Fields(l); strings.EqualFold(f[0], name) {
				out = append(out, strings.TrimSpace(l[len(f[0]):]))
			}
		}
		return out
	}
	users := instr("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	uid, _, _ := strings.Cut(users[len(users)-1], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Fatalf("USER %s: want a numeric non-root uid (runtimes check runAsNonRoot by number)", users[len(users)-1])
	}
	hc := instr("HEALTHCHECK")
	if len(hc) != 1 || !regexp.MustCompile(`CMD \[?"?/linkit"?,? *"?health"?`).MatchString(hc[0]) || !strings.Contains(hc[0], "--timeout=") {
		t.Fatalf("HEALTHCHECK %q: want one, with a --timeout, running /linkit health", hc)
	}
	all := strings.Join(lines, "\n")
	_ = version // the variable -X stamps
	if !strings.Contains(all, "ARG VERSION") || !strings.Contains(all, "-X main.version=${VERSION}") {
		t.Fatal("the build does not stamp main.version from the VERSION build argument")
	}

	ignore := strings.Fields(repoFile(t, ".dockerignore"))
	for _, want := range []string{".git", ".data", "bin", "**/testdata", "bench/out"} {
		if !slices.Contains(ignore, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

type composeService struct {
	Image           string
	Command         []string
	Ports           []string
	Restart         string
	StopGracePeriod string `yaml:"stop_grace_period"`
	Healthcheck     *struct {
		Test    []string
		Disable bool
	}
	DependsOn map[string]struct {
		Condition string
	} `yaml:"depends_on"`
	Environment map[string]string
}

// docker-compose.yml: every service has a healthcheck (a one-shot says it
// has none) and a restart policy, waits for what it needs to be healthy or
// done, publishes ports on 127.0.0.1 only, and the linkit services get a
// stop grace period longer than the drain.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	var file struct {
		Services map[string]composeService
	}
	if err := yaml.Unmarshal([]byte(repoFile(t, "docker-compose.yml")), &file); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"postgres", "redis", "migrate", "api", "worker"} {
		if _, ok := file.Services[want]; !ok {
			t.Errorf("no %s service", want)
		}
	}
	for name, s := range file.Services {
		oneShot := s.Restart == "no"
		switch {
		case s.Restart == "":
			t.Errorf("%s: no restart policy", name)
		case s.Healthcheck == nil:
			t.Errorf("%s: no healthcheck", name)
		case s.Healthcheck.Disable && !oneShot:
			t.Errorf("%s: healthcheck disabled on a long-running service", name)
		case !s.Healthcheck.Disable && len(s.Healthcheck.Test) < 2:
			t.Errorf("%s: healthcheck without a test", name)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every interface; bind it to 127.0.0.1", name, p)
			}
		}
		for dep, d := range s.DependsOn {
			if want := "service_healthy"; file.Services[dep].Restart == "no" {
				if d.Condition != "service_completed_successfully" {
					t.Errorf("%s waits for one-shot %s with %q, want service_completed_successfully", name, dep, d.Condition)
				}
			} else if d.Condition != want {
				t.Errorf("%s waits for %s with %q, want %s", name, dep, d.Condition, want)
			}
		}
		if strings.HasPrefix(s.Image, "linkit") && !oneShot {
			if test := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(test, "/linkit health") {
				t.Errorf("%s: healthcheck %q, want /linkit health", name, test)
			}
			grace, err := time.ParseDuration(s.StopGracePeriod)
			if err != nil || grace <= drainTimeout {
				t.Errorf("%s: stop_grace_period %q, want longer than the %s drain", name, s.StopGracePeriod, drainTimeout)
			}
		}
	}
	if w := file.Services["worker"]; w.Environment["LINKIT_WORKER_HTTP_ADDR"] == "" || w.Environment["LINKIT_DATABASE_URL"] == "" {
		t.Errorf("worker environment %v: want the shared settings and LINKIT_WORKER_HTTP_ADDR (its health endpoint)", w.Environment)
	}
	if a := file.Services["api"]; a.Environment["LINKIT_WORKER_HTTP_ADDR"] != "" {
		t.Error("api has LINKIT_WORKER_HTTP_ADDR: its `linkit health` would ask the wrong address")
	}
}
