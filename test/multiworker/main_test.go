// Package multiworker_test runs several `cachewarm worker` processes against one database,
// as a scaled-out deployment does, and checks that River shares the work between them without
// running anything twice or losing anything when one stops.
package multiworker_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cachewarm/cachewarm/internal/testenv"
)

// binary is the cachewarm binary TestMain builds once for every test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cachewarm-multiworker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "multiworker:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cachewarm")
	build := exec.Command("go", "build", "-o", binary, "github.com/cachewarm/cachewarm/cmd/cachewarm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "multiworker: go build ./cmd/cachewarm:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	testenv.Main(m, func() { _ = os.RemoveAll(dir) })
}
