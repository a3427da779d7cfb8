package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// docsRunOrder is the order the documents' shell blocks run in, one bash session:
// later documents may use what earlier ones created. A docs/*.md file with a
// runnable block must be listed here.
var docsRunOrder = []string{
	"README.md",
	"docs/api.md",
	"docs/cli.md",
	"docs/operations.md",
}

// docsURL is the address the documents use; the test rewrites it to its own server's.
const docsURL = "http://localhost:8080"

// docsExpectRe finds a stated status: a comment line with "→ 201" (docs/testing.md).
var docsExpectRe = regexp.MustCompile(`^\s*#.*→ (\d{3})\b`)

// docsPrelude wraps curl: it checks the status a comment stated for the next call, or
// that the call succeeded when none was stated. Failures print "docs:LINE:" so the
// test can name the document's line.
const docsPrelude = `set -Eeuo pipefail
shopt -s inherit_errexit
__d=$(mktemp -d)
__expect() {
  if [ -e "$__d/want" ]; then echo "docs:${BASH_LINENO[0]}: the status stated before ($(cat "$__d/want")) was never checked: no curl between" >&2; return 1; fi
  echo "$1" > "$__d/want"
}
curl() {
  local want="" got rc=0 line=${BASH_LINENO[0]}
  if [ -e "$__d/want" ]; then want=$(cat "$__d/want"); rm -f "$__d/want"; fi
  command curl -D "$__d/headers" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then echo "docs:$line: curl exited $rc" >&2; return "$rc"; fi
  got=$(awk '/^HTTP\//{s=$2} END{print s}' "$__d/headers")
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    echo "docs:$line: status $got, the document states $want" >&2; return 1
  fi
  if [ -z "$want" ] && [ "${got:-0}" -ge 400 ]; then
    echo "docs:$line: status $got, and the document states none (unstated means success)" >&2; return 1
  fi
}
trap 'echo "docs:$LINENO: exit status $?: $BASH_COMMAND" >&2' ERR
`

// docsScript is the generated bash script and, per line, where it came from.
type docsScript struct {
	buf    bytes.Buffer
	source []string // source[i] is the document line of script line i+1
}

func (s *docsScript) add(line, source string) {
	s.buf.WriteString(line + "\n")
	s.source = append(s.source, source)
}

// where replaces "docs:N:" (a script line) by the document's file:line.
func (s *docsScript) where(out string) string {
	return regexp.MustCompile(`docs:(\d+):`).ReplaceAllStringFunc(out, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(m, "docs:"), ":"))
		if n >= 1 && n <= len(s.source) && s.source[n-1] != "" {
			return s.source[n-1] + ":"
		}
		return m
	})
}

// docsShellBlocks returns the lines of a Markdown file's ```sh and ```bash blocks
// with their line numbers; other fences (```console, ```text) are not run.
func docsShellBlocks(t *testing.T, path string) (lines []string, numbers []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, n := false, 0
	for sc.Scan() {
		n++
		text := sc.Text()
		fence := strings.TrimSpace(text)
		switch {
		case !in && (fence == "```sh" || fence == "```bash"):
			in = true
		case in && fence == "```":
			in = false
		case in:
			lines, numbers = append(lines, text), append(numbers, n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if in {
		t.Fatalf("%s: a shell block is not closed", path)
	}
	return lines, numbers
}

func buildDocsScript(t *testing.T, root, base string) *docsScript {
	t.Helper()
	s := &docsScript{}
	for _, line := range strings.Split(strings.TrimSuffix(docsPrelude, "\n"), "\n") {
		s.add(line, "")
	}
	listed := map[string]bool{}
	for _, doc := range docsRunOrder {
		listed[doc] = true
		lines, numbers := docsShellBlocks(t, filepath.Join(root, doc))
		if len(lines) == 0 {
			t.Fatalf("%s has no ```sh block: is a fence mistyped, or should it leave docsRunOrder?", doc)
		}
		for i, line := range lines {
			src := fmt.Sprintf("%s:%d", doc, numbers[i])
			if m := docsExpectRe.FindStringSubmatch(line); m != nil {
				s.add("__expect "+m[1], src)
			}
			s.add(strings.ReplaceAll(line, docsURL, base), src)
		}
	}
	others, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range others {
		rel, _ := filepath.Rel(root, p)
		if lines, _ := docsShellBlocks(t, p); len(lines) > 0 && !listed[filepath.ToSlash(rel)] {
			t.Errorf("%s has ```sh blocks but is not in docsRunOrder: add it, or fence them ```console", rel)
		}
	}
	s.add(`[ ! -e "$__d/want" ] || { echo "docs: the last stated status was never checked" >&2; exit 1; }`, "")
	s.add("echo docs-ran-to-the-end", "")
	return s
}

// TestDocs runs the shell blocks of README.md and docs/*.md against the real
// service, started the way make run starts it, so that every command a
// newcomer pastes works (docs/testing.md, "The docs test").
func TestDocs(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the docs (scripts/test-deps.sh installs it): %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// The working directory stands in for the repository after make run: bin/linkit.
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(buildLinkit(t), filepath.Join(work, "bin", "linkit")); err != nil {
		t.Fatal(err)
	}

	env := newTestEnv(t) // its own database, the tests' Redis DB, a free port
	base := env.baseURL()
	env["LINKIT_API_URL"] = base
	// As scripts/run.sh does: the demo organization and its key.
	out, errOut, err := runCmd(t, env, "org", "create", "--name", "Demo Store", "--id", "org_demo", "--region", "US", "--json")
	if err != nil {
		t.Fatalf("org create: %v; stderr: %s", err, errOut)
	}
	var key keyJSON
	if err := json.Unmarshal([]byte(out), &key); err != nil || key.APIKey == "" {
		t.Fatalf("org create printed %q: %v", out, err)
	}
	srv := startServer(t, env, "all")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("linkit all logs:\n%s", srv.logs)
		}
	})

	s := buildDocsScript(t, root, base)
	scriptPath := filepath.Join(t.TempDir(), "docs.sh")
	if err := os.WriteFile(scriptPath, s.buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", scriptPath)
	sh.Dir = work
	// The developer's own LINKIT_* (say, the key of their make run) stay out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINKIT_") {
			sh.Env = append(sh.Env, kv)
		}
	}
	for k, v := range env {
		sh.Env = append(sh.Env, k+"="+v)
	}
	sh.Env = append(sh.Env, "LINKIT_API_KEY="+key.APIKey, "TMPDIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	runErr := sh.Run()
	if runErr != nil || !strings.Contains(stdout.String(), "docs-ran-to-the-end") {
		t.Fatalf("the documents' commands failed (%v):\n%s\n--- last output:\n%s",
			runErr, s.where(stderr.String()), docsTail(stdout.String(), 40))
	}
}

func docsTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDocsLinks checks that the relative links of README.md and docs/*.md
// reach a file and, with a #fragment, one of its headings.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, doc)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, fragment, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s: link %s: no such file", rel, target)
				continue
			}
			if fragment != "" && !docsHasAnchor(t, file, fragment) {
				t.Errorf("%s: link %s: no heading with that anchor", rel, target)
			}
		}
	}
}

// docsHasAnchor reports whether a Markdown file has a heading whose GitHub
// anchor is fragment: lowercased, punctuation dropped, spaces to hyphens.
func docsHasAnchor(t *testing.T, file, fragment string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fenced := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var slug strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				slug.WriteRune(r)
			}
		}
		if slug.String() == fragment {
			return true
		}
	}
	return false
}

// TestDocsBanner keeps make run's "Try it" commands (scripts/run.sh) and the
// README's runnable copy of them the same, so TestDocs runs what the banner
// tells a newcomer to paste.
func TestDocsBanner(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var banner []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "Try it:":
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			// The heredoc's escapes, as the shell prints them.
			line = strings.NewReplacer("${base}", docsURL, `\\`, `\`, `\$`, `$`).Replace(line)
			banner = append(banner, strings.TrimSpace(line))
		}
	}
	readme, _ := docsShellBlocks(t, filepath.Join(root, "README.md"))
	var commands []string
	for _, line := range readme {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			commands = append(commands, line)
		}
	}
	if len(banner) == 0 || strings.Join(banner, "\n") != strings.Join(commands, "\n") {
		t.Errorf("make run's Try it commands and the README's shell block differ:\nscripts/run.sh:\n%s\nREADME.md:\n%s",
			strings.Join(banner, "\n"), strings.Join(commands, "\n"))
	}
}
