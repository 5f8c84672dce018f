package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	html := dom.String()
	// Each series through each path, with its customer and the time of
	// its last change; Kafka's is what the dev server read back.
	for _, row := range []string{
		`<tr><td>acme</td><td>scanner-1</td><td>pages.processed</td><td>cus_acme</td><td>Kafka</td><td class="n">5</td><td class="last" title="[^"]+">\d{1,2}:\d{2}:\d{2}[^<]*</td></tr>`,
		`<tr><td>acme</td><td>scanner-1</td><td>pages.processed</td><td>cus_acme</td><td>REST Proxy</td><td class="n">6</td>`,
		`<tr><td>acme</td><td>scanner-1</td><td>pages.processed</td><td>cus_acme</td><td>events API</td><td class="n">24</td>`,
		`<tr><td>globex</td><td>d7</td><td>tokens</td><td>cus_globex</td><td>events API</td><td class="n">7</td>`,
	} {
		assert.Regexp(t, row, html)
	}
	// A total per meter, with its chart: 15 minutes, drawn on the page.
	assert.Regexp(t, `<tr><td>pages.processed</td><td class="n">35</td><td><svg [^>]*>(<rect class="bar"[^>]*><title>[^<]*</title></rect>){15}<line`, html)
	assert.Regexp(t, `<tr><td>tokens</td><td class="n">7</td><td><svg `, html)
	assert.NotContains(t, html, ">42<", "pages and tokens are never added together")
	assert.Contains(t, html, "events API (POST /api/v1/events): 2 events billed.")
	assert.Contains(t, html, "REST Proxy (POST /topics/{topic}): 1 record billed.")
	assert.Regexp(t, `Kafka \(127\.0\.0\.1:\d+, topic usage-events \(3 partitions\), read_committed\): 1 record billed\.`, html)
	assert.NotContains(t, string(page), "acme", "the served HTML holds no data: the page's script rendered it")
	assert.NotRegexp(t, `(?i)(https?:)?//[a-z0-9]`, string(page), "the page names no other host to load from")
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
	d, err := launchDev("--addr", "127.0.0.1:0", "--kafka-port", "0")
	if err != nil {
		return err
	}
	defer func() { _, _ = d.stop(syscall.SIGINT) }()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	posts := []struct {
		backend string
		args    []string
	}{
		{"events", []string{"--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "24"}},
		{"events", []string{"--tenant", "globex", "--device", "d7", "--meter", "tokens", "--usage", "7"}},
		{"kafka-rest", []string{"--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "6"}},
		{"kafka", []string{"--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "5"}},
	}
	for _, p := range posts {
		post := exec.CommandContext(ctx, binary, append([]string{"post"}, p.args...)...)
		post.Env = append(append(cleanEnv(), d.export...), "LITEWAVE_BACKEND="+p.backend)
		if out, err := post.CombinedOutput(); err != nil {
			return fmt.Errorf("litewave post %v through %s: %v\n%s", p.args, p.backend, err, out)
		}
	}
	// Render once the reader has read Kafka's record back.
	if err := until(ctx, func() bool { return kafkaBilled(d) }); err != nil {
		return fmt.Errorf("the dev server did not read Kafka's record back: %w", err)
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

// kafkaBilled reports whether the dev server shows usage read from Kafka.
func kafkaBilled(d *devServer) bool {
	body, err := d.get("/usage.json")
	var u usageReport
	if err != nil || json.Unmarshal(body, &u) != nil {
		return false
	}
	for _, p := range u.Paths {
		if p.Path == viaKafka {
			return p.Accepted > 0
		}
	}
	return false
}

// until polls cond until it holds or ctx ends.
func until(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
