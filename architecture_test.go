// Package architecture_test keeps the dependency arrows pointing one way:
// domain ← dedupe ← store ← importer/queue ← worker/api ← cmd. A new package,
// or an import against the arrows, fails here before it spreads.
package architecture_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/linkitworks/customers"

// layers ranks every package of the module: a package may import (in its
// non-test files) only packages of a strictly lower rank. Packages of equal
// rank are siblings that must not know about one another.
var layers = map[string]int{
	"customer":              0, // domain types, validation, the one error type
	"migrations":            0, // embedded SQL
	"client":                0, // the API's Go client, generated from api/openapi.yaml: none of ours
	"telemetry":             0, // OpenTelemetry setup, the log handler
	"dedupe":                1, // pure rules: normalization, matching decisions
	"webhook":               1, // outbound webhooks: events, secrets, signed sends
	"postgres":              2, // the store
	"postgres/postgrestest": 3, // per-test databases
	"importer":              3, // file → rows
	"queue":                 3, // asynq glue
	"worker":                4, // task handlers
	"api":                   4, // HTTP
	"linkittest":            5, // the in-process stack of tests and the benchmark
	"webapp":                5, // the merchant web app over the API
	"bench":                 6, // programs
	"cmd/linkit":            6,
}

// pure packages hold rules only: no database, queue, cache or network.
var pure = []string{"customer", "dedupe"}

var forbiddenInPure = []string{
	"github.com/jackc/pgx", "github.com/hibiken/asynq", "github.com/redis/go-redis",
	"database/sql", "net/http", "os/exec",
}

func TestDependenciesPointOneWay(t *testing.T) {
	t.Parallel()
	imports := goList(t, "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	var pkgs []string
	for pkg := range imports {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		if pkg == "." { // the module root holds only this test
			continue
		}
		rank, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s is not in the layer table of architecture_test.go: add it with its rank", pkg)
			continue
		}
		for _, dep := range imports[pkg] {
			depRank, internal := layers[dep]
			if !internal {
				continue
			}
			if depRank >= rank {
				t.Errorf("%s (layer %d) imports %s (layer %d): dependencies must point to lower layers", pkg, rank, dep, depRank)
			}
		}
	}
	for pkg := range layers {
		if _, ok := imports[pkg]; !ok {
			t.Errorf("layer table names %s, which no longer exists", pkg)
		}
	}
}

func TestPurePackagesDoNoIO(t *testing.T) {
	t.Parallel()
	for _, pkg := range pure {
		deps := goList(t, "{{.ImportPath}}", "-deps", "./"+pkg)
		for dep := range deps {
			if dep == "database/sql/driver" { // interfaces only: ULIDs implement it
				continue
			}
			for _, f := range forbiddenInPure {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: it must stay a pure rule book every layer can import", pkg, dep)
				}
			}
		}
	}
}

// goList runs go list with the format and returns each line's first field
// (module prefix trimmed) mapped to the rest.
func goList(t *testing.T, format string, args ...string) map[string][]string {
	t.Helper()
	// go test puts its own go first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is not on PATH: %v", err)
	}
	cmd := exec.Command(goTool, append([]string{"list", "-f", format}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	trim := func(p string) string {
		if p == module {
			return "."
		}
		return strings.TrimPrefix(p, module+"/")
	}
	res := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var rest []string
		for _, d := range f[1:] {
			rest = append(rest, trim(d))
		}
		res[trim(f[0])] = rest
	}
	return res
}
