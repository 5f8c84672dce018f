package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser test renders the dev server's page in headless Chromium. A
// browser reaches out to the internet on its own, so the browser and the
// dev server run in a network namespace that holds only loopback: the test
// binary re-executes itself there as the helper below.
const (
	browserHelperEnv   = "LITEWAVE_CLI_TEST_BROWSER" // the litewave binary
	browserChromiumEnv = "LITEWAVE_CLI_TEST_CHROMIUM"
	browserProfileEnv  = "LITEWAVE_CLI_TEST_PROFILE" // Chromium's user data directory
)

func TestPageShowsBilledUsageInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium), so the page is not rendered")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip is not installed (apt-get install iproute2): loopback cannot be brought up in a network namespace")
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace (unshare -n: %v %s); the browser must not reach the network, so the page is not rendered", err, out)
	}
	needBinary(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", os.Args[0], "-test.run=^$")
	cmd.Env = append(cleanEnv(), browserHelperEnv+"="+binary, browserChromiumEnv+"="+chromium, browserProfileEnv+"="+t.TempDir())
	var dom, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &dom, &stderr
	require.NoError(t, cmd.Run(), "the helper's stderr:\n%s", &stderr)
	t.Logf("rendered in %v (Chromium, dev server and posts in a loopback-only network namespace)", time.Since(start).Round(time.Millisecond))

	assert.Contains(t, dom.String(), `<tr><td>acme</td><td>scanner-1</td><td>pages.processed</td><td class="n">24</td></tr>`)
	assert.Contains(t, dom.String(), `<tr><td>globex</td><td>d7</td><td>tokens</td><td class="n">7</td></tr>`)
	assert.Contains(t, dom.String(), `<td class="n" id="total">31</td>`)
	assert.Contains(t, dom.String(), "2 events and 0 records accepted")
	assert.NotContains(t, string(page), "acme", "the served HTML holds no data: the page's script rendered it")
	if t.Failed() {
		t.Logf("the dumped DOM:\n%s\nthe helper's stderr:\n%s", &dom, &stderr)
	}
}

// browserHelper runs inside the namespace: a dev server, usage posted to
// it by the CLI, and Chromium's rendering of the page, printed to stdout.
func browserHelper() int {
	binary = os.Getenv(browserHelperEnv)
	if err := renderPage(); err != nil {
		fmt.Fprintln(os.Stderr, "browser helper:", err)
		return 1
	}
	return 0
}

func renderPage() error {
	d, err := launchDev("--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer func() { _, _ = d.stop(syscall.SIGINT) }()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"post", "--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "24"},
		{"post", "--tenant", "globex", "--device", "d7", "--meter", "tokens", "--usage", "7"},
	} {
		post := exec.CommandContext(ctx, binary, args...)
		post.Env = append(cleanEnv(), "LITEWAVE_ENDPOINT="+d.url)
		if out, err := post.CombinedOutput(); err != nil {
			return fmt.Errorf("litewave %v: %v\n%s", args, err, out)
		}
	}

	browser := exec.CommandContext(ctx, os.Getenv(browserChromiumEnv),
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+os.Getenv(browserProfileEnv), "--virtual-time-budget=5000", "--dump-dom", d.url+"/")
	var stderr bytes.Buffer
	browser.Stdout, browser.Stderr = os.Stdout, &stderr
	// Chromium's helper processes may keep its output open after it exits.
	browser.WaitDelay = 5 * time.Second
	if err := browser.Run(); err != nil {
		return fmt.Errorf("chromium: %v\n%s", err, &stderr)
	}
	return nil
}
