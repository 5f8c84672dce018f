package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startDev(t *testing.T, args ...string) *devServer {
	t.Helper()
	needBinary(t)
	d, err := launchDev(args...)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = d.stop(syscall.SIGKILL) })
	t.Logf("$ litewave dev %s\n%s", strings.Join(args, " "), d.out)
	return d
}

func usageJSON(t *testing.T, d *devServer) usageReport {
	t.Helper()
	body, err := d.get("/usage.json")
	require.NoError(t, err)
	var u usageReport
	require.NoError(t, json.Unmarshal(body, &u), "%s", body)
	return u
}

// rows is the report's series without their times, which the test
// cannot know, after checking that each has one.
func rows(t *testing.T, u usageReport) []seriesUsage {
	t.Helper()
	out := []seriesUsage{}
	for _, s := range u.Series {
		assert.False(t, s.Last.IsZero(), "%+v has the time of its last change", s)
		s.Last = time.Time{}
		out = append(out, s)
	}
	return out
}

// meterTotals is the report's total per meter.
func meterTotals(u usageReport) map[string]int64 {
	out := map[string]int64{}
	for _, m := range u.Meters {
		out[m.Meter] = m.Units
	}
	return out
}

// path is the report's counts of one path.
func path(t *testing.T, u usageReport, name string) pathUsage {
	t.Helper()
	for _, p := range u.Paths {
		if p.Path == name {
			return p
		}
	}
	t.Fatalf("no path %q in %+v", name, u.Paths)
	return pathUsage{}
}

// A program configured with the variables the banner prints, as pasted,
// looks customers up (at the portal), bills through the events API, the
// REST Proxy endpoint and Kafka, and the usage shows in /usage.json per
// path and series, with a total per meter.
func TestDevServerStandsInForLitewave(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0", "--kafka-port", "0")
	require.Len(t, d.export, 5, "LITEWAVE_ENDPOINT, LITEWAVE_KAFKA_REST_URL, LITEWAVE_KAFKA_BROKERS, LITEWAVE_PORTAL_URL, LITEWAVE_API_KEY")
	for _, i := range []int{0, 1, 3} {
		assert.True(t, strings.HasSuffix(d.export[i], "="+d.url), d.export[i])
	}
	assert.Regexp(t, `^LITEWAVE_KAFKA_BROKERS=127\.0\.0\.1:\d+$`, d.export[2], "Kafka listens on loopback only")
	u := usageJSON(t, d)
	assert.Empty(t, u.Series, "nothing billed yet")
	assert.Empty(t, u.Meters)

	res := litewave(t, d.export, "lookup", "acme")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "cus_acme\n", res.stdout, "every tenant has a stable customer id")

	require.Equal(t, 0, litewave(t, d.export, postArgs...).code)
	rest := append([]string{"LITEWAVE_BACKEND=kafka-rest"}, d.export...)
	require.Equal(t, 0, litewave(t, rest, "post", "--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "6").code)
	kafka := append([]string{"LITEWAVE_BACKEND=kafka"}, d.export...)
	require.Equal(t, 0, litewave(t, kafka, "post", "--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "5").code)
	require.Equal(t, 0, litewave(t, d.export, "post", "--tenant", "globex", "--device", "d7", "--meter", "tokens", "--usage", "7").code)

	// Kafka's usage shows once the reader has read it.
	require.Eventually(t, func() bool { return path(t, usageJSON(t, d), viaKafka).Accepted == 1 }, 10*time.Second, 20*time.Millisecond)
	u = usageJSON(t, d)
	assert.Equal(t, []seriesUsage{
		{Via: viaKafka, Tenant: "acme", Device: "scanner-1", Meter: "pages.processed", Customer: "cus_acme", Units: 5},
		{Via: viaREST, Tenant: "acme", Device: "scanner-1", Meter: "pages.processed", Customer: "cus_acme", Units: 6},
		{Via: viaEvents, Tenant: "acme", Device: "scanner-1", Meter: "pages.processed", Customer: "cus_acme", Units: 24},
		{Via: viaEvents, Tenant: "globex", Device: "d7", Meter: "tokens", Customer: "cus_globex", Units: 7},
	}, rows(t, u))
	assert.Equal(t, map[string]int64{"pages.processed": 35, "tokens": 7}, meterTotals(u), "a total per meter, never one across meters")
	for _, m := range u.Meters {
		assert.Len(t, m.PerMinute, chartMinutes)
		var sum int64
		for _, n := range m.PerMinute {
			sum += n
		}
		assert.Equal(t, m.Units, sum, "%s: the chart's minutes hold all of the last minutes' usage", m.Meter)
	}
	assert.Equal(t, int64(2), path(t, u, viaEvents).Accepted)
	assert.Equal(t, int64(1), path(t, u, viaREST).Accepted)
	assert.Contains(t, path(t, u, viaKafka).Where, strings.TrimPrefix(d.export[2], "LITEWAVE_KAFKA_BROKERS="))

	code, err := d.stop(syscall.SIGINT)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "Ctrl-C is a clean stop")
	assert.True(t, strings.HasSuffix(d.out.String(), "litewave dev: stopped\n"), d.out.String())
}

func TestDevServerWithGivenCustomers(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0", "--kafka-port", "0", "--customer", "acme=cus_42", "--redpanda")
	assert.Contains(t, d.out.String(), "only acme=cus_42 (other tenants have no account)")

	res := litewave(t, d.export, "lookup", "acme")
	assert.Equal(t, "cus_42\n", res.stdout)
	res = litewave(t, d.export, "lookup", "globex")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "litewave: tenant globex has no customer account")

	kafka := append([]string{"LITEWAVE_BACKEND=kafka-rest"}, d.export...)
	require.Equal(t, 0, litewave(t, kafka, postArgs...).code)
	assert.Equal(t, map[string]int64{"pages.processed": 24}, meterTotals(usageJSON(t, d)))

	code, err := d.stop(syscall.SIGTERM)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "SIGTERM is a clean stop")
}

func TestDevServerOnAnAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	res := litewave(t, nil, "dev", "--addr", l.Addr().String(), "--kafka-port", "0")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "address already in use; is another server using it? Choose another with --addr")

	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	res = litewave(t, nil, "dev", "--addr", "127.0.0.1:0", "--kafka-port", port)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "litewave: dev: Kafka: listen tcp 127.0.0.1:"+port+": bind: address already in use; is another server using it? Choose another with --kafka-port (0 picks a free one)")
}

// The page is self-contained: nothing from elsewhere, which the browser is
// also told to refuse, and no data in the HTML itself, which its script
// fetches from /usage.json.
func TestDevPageIsSelfContained(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0", "--kafka-port", "0")
	require.Equal(t, 0, litewave(t, d.export, postArgs...).code)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(d.url + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'", resp.Header.Get("Content-Security-Policy"))
	html := string(body)
	assert.Contains(t, html, `fetch("usage.json"`)
	assert.NotContains(t, html, "acme", "the server sends no data in the HTML")
	for _, external := range []string{"http://", "https://", "//cdn", "<link", "src="} {
		assert.NotContains(t, html, external)
	}
}
