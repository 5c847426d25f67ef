package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// MainWithBinary is Main for packages that run the cachewarm binary as child processes: it
// builds ./cmd/cachewarm once into a temporary directory, passes its path to set, runs the
// tests, and removes the directory afterwards.
func MainWithBinary(m *testing.M, set func(path string)) {
	dir, err := os.MkdirTemp("", "cachewarm-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	path := filepath.Join(dir, "cachewarm")
	build := exec.Command("go", "build", "-o", path, "github.com/cachewarm/cachewarm/cmd/cachewarm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: go build ./cmd/cachewarm:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	set(path)
	Main(m, func() { _ = os.RemoveAll(dir) })
}

// SyncBuffer is a bytes.Buffer safe for one writer and concurrent readers: a child process's
// output, read by the test while the process runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
