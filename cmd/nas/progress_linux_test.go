package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair, or skips the test.
func openPTY(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skip("no pseudo-terminal:", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skip("no pseudo-terminal:", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skip("no pseudo-terminal:", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skip("no pseudo-terminal:", err)
	}
	return m, s
}

// With standard error on a terminal, a search draws a progress bar instead
// of log lines.
func TestSearchOnATerminalDrawsABar(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, master); close(copied) }()
	db := filepath.Join(t.TempDir(), "s.db")
	var out bytes.Buffer
	code := run([]string{"search", "--evaluator", "synthetic", "--controller", "random", "--trials", "20", "--db", db}, &out, slave)
	slave.Close()
	<-copied
	text := screen.String()
	if code != 0 || !strings.Contains(text, "\r") || !strings.Contains(text, "(20/20)") || !strings.Contains(text, "best #") ||
		strings.Contains(text, "[1/20] trial") {
		t.Fatalf("exit %d, terminal:\n%q", code, text)
	}
}
