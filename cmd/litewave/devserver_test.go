package main

import (
	"bufio"
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
	out    *lockedBuffer // everything it printed
	copied chan struct{} // closed when its stdout has closed
	url    string        // where it serves
	export []string      // the variables its banner says to export
}

// launchDev starts `litewave dev args...` and returns once it has printed
// its banner, which it does once it listens: it answers from then on.
func launchDev(args ...string) (*devServer, error) {
	d := &devServer{out: &lockedBuffer{}, copied: make(chan struct{})}
	d.cmd = exec.Command(binary, append([]string{"dev"}, args...)...)
	d.cmd.Env = cleanEnv()
	d.cmd.Stderr = os.Stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	// A server that never prints its banner is killed, which ends the read.
	hung := time.AfterFunc(10*time.Second, func() { _ = d.cmd.Process.Kill() })
	err = d.readBanner(bufio.NewReader(io.TeeReader(stdout, d.out)))
	hung.Stop()
	go func() {
		_, _ = io.Copy(d.out, stdout)
		close(d.copied)
	}()
	if err != nil {
		_ = d.cmd.Process.Kill()
		<-d.copied
		_ = d.cmd.Wait()
		return nil, fmt.Errorf("%w; it printed:\n%s", err, d.out)
	}
	return d, nil
}

// readBanner reads the banner up to its export line.
func (d *devServer) readBanner(r *bufio.Reader) error {
	const lead = "litewave dev: a local stand-in for Litewave at "
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return errors.New("litewave dev printed no export line")
		}
		switch {
		case strings.HasPrefix(line, lead):
			d.url = strings.TrimSpace(strings.TrimPrefix(line, lead))
		case strings.HasPrefix(line, "export "):
			d.export = strings.Fields(strings.TrimPrefix(line, "export "))
			if d.url == "" {
				return errors.New("litewave dev did not say where it serves")
			}
			return nil
		}
	}
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

// stop sends sig and returns the exit status, once all it printed is in
// d.out.
func (d *devServer) stop(sig syscall.Signal) (int, error) {
	if err := d.cmd.Process.Signal(sig); err != nil {
		return -1, err
	}
	<-d.copied // Wait must follow the last read of the pipe
	err := d.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
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
