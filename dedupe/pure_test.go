package dedupe_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure keeps dedupe free of I/O packages so it stays a pure, fuzzable
// rule book that every layer can import.
func TestPure(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbiddenModules := []string{"github.com/jackc/pgx", "github.com/hibiken/asynq", "github.com/redis/go-redis"}
	// database/sql/driver is allowed: it is interfaces only (ULIDs implement it).
	forbiddenPackages := []string{"database/sql", "net/http"}
	for _, dep := range strings.Fields(string(out)) {
		for _, m := range forbiddenModules {
			if strings.HasPrefix(dep, m) {
				t.Errorf("dedupe depends on %s", dep)
			}
		}
		for _, p := range forbiddenPackages {
			if dep == p {
				t.Errorf("dedupe depends on %s", dep)
			}
		}
	}
}
