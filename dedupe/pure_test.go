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
	forbidden := []string{"github.com/jackc/pgx", "github.com/hibiken/asynq", "github.com/redis/", "database/sql", "net/http"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("dedupe depends on %s", dep)
			}
		}
	}
}
