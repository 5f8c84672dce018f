package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests run the litewave binary as a user does: built once, run as a
// process with arguments and environment. The test binary also serves as
// the helper processes some tests need: a replica that spools usage
// (spoolchild_test.go), and the browser run inside a network namespace
// (browser_test.go).

var (
	binary    string // the litewave command under test; see needBinary
	buildDir  string
	buildOnce sync.Once
	buildErr  error
)

// buildFlags are added to go build: race_test.go adds -race, so that a
// race-checked test run checks the command too.
var buildFlags []string

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(childEnv) != "":
		os.Exit(spoolChild(os.Getenv(childEnv)))
	case os.Getenv(browserHelperEnv) != "":
		os.Exit(browserHelper())
	}
	var err error
	if buildDir, err = os.MkdirTemp("", "litewave-cli-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(buildDir)
	os.Exit(code)
}

// needBinary builds the command on first use, so that a run that selects
// no test (go test -run '^$' -bench .) does not build it.
func needBinary(t testing.TB) {
	t.Helper()
	buildOnce.Do(func() { binary, buildErr = build(buildDir) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// build compiles the command into dir.
func build(dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(dir, "litewave")
	args := append(append([]string{"build"}, buildFlags...), "-o", out, ".")
	if msg, err := exec.Command(goCmd, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// result is what a run of the command printed, and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// litewave runs the command with args, in an environment of the test's
// without LITEWAVE_* and OTEL_* variables, plus env. Every run is logged,
// so that go test -v shows what a user would see.
func litewave(t *testing.T, env []string, args ...string) result {
	t.Helper()
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("litewave %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ %slitewave %s\n[exit %d]\n--- stdout\n%s--- stderr\n%s", envPrefix(env), strings.Join(args, " "), res.code, res.stdout, res.stderr)
	return res
}

// cleanEnv is the test's environment without the variables that configure
// the library, so that a developer's settings cannot change the outcome.
// A race-checked binary would sleep a second at every exit without
// atexit_sleep_ms=0.
func cleanEnv() []string {
	out := []string{"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LITEWAVE_") && !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "GORACE=") {
			out = append(out, kv)
		}
	}
	return out
}

func envPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return strings.Join(env, " ") + " "
}
