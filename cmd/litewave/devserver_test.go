package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// devServer is a running `litewave dev`. Its helpers return errors rather
// than take a testing.T, because the browser helper process uses them too.
type devServer struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	url    string   // where it serves
	export []string // the variables its banner says to export
}

// launchDev starts `litewave dev args...` and waits until it answers.
func launchDev(args ...string) (*devServer, error) {
	d := &devServer{out: &lockedBuffer{}}
	d.cmd = exec.Command(binary, append([]string{"dev"}, args...)...)
	d.cmd.Env = cleanEnv()
	d.cmd.Stdout, d.cmd.Stderr = d.out, os.Stderr
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	if err := d.readBanner(); err != nil {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
		return nil, fmt.Errorf("%w; it printed:\n%s", err, d.out)
	}
	return d, nil
}

func (d *devServer) readBanner() error {
	const lead = "litewave dev: a local stand-in for Litewave at "
	var banner string
	if !poll(10*time.Second, func() bool {
		banner = d.out.String()
		return strings.Contains(banner, "\nexport ")
	}) {
		return errors.New("litewave dev printed no export line")
	}
	for line := range strings.Lines(banner) {
		switch {
		case strings.HasPrefix(line, lead):
			d.url = strings.TrimSpace(strings.TrimPrefix(line, lead))
		case strings.HasPrefix(line, "export "):
			d.export = strings.Fields(strings.TrimPrefix(line, "export "))
		}
	}
	if d.url == "" {
		return errors.New("litewave dev did not say where it serves")
	}
	if !poll(10*time.Second, func() bool { _, err := d.get("/usage.json"); return err == nil }) {
		return fmt.Errorf("litewave dev does not answer at %s", d.url)
	}
	return nil
}

// get fetches path from the server, on a fresh connection that leaves no
// idle one behind.
func (d *devServer) get(path string) ([]byte, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(d.url + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return body, err
}

// stop sends sig and returns the exit status.
func (d *devServer) stop(sig syscall.Signal) (int, error) {
	if err := d.cmd.Process.Signal(sig); err != nil {
		return -1, err
	}
	err := d.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// poll reports whether cond became true within d. It polls a condition
// with a deadline; nothing relies on how long anything takes.
func poll(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// lockedBuffer is a buffer a process writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
