package main

import (
	"encoding/json"
	"net"
	"strings"
	"syscall"
	"testing"

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

// A program configured with the variables the banner prints, as pasted,
// looks customers up (at the portal), bills through the events API and
// through the REST Proxy endpoint, and the usage shows in /usage.json.
func TestDevServerStandsInForLitewave(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0")
	require.Len(t, d.export, 4, "LITEWAVE_ENDPOINT, LITEWAVE_KAFKA_REST_URL, LITEWAVE_PORTAL_URL, LITEWAVE_API_KEY")
	for _, kv := range d.export[:3] {
		assert.True(t, strings.HasSuffix(kv, "="+d.url), kv)
	}
	assert.Equal(t, usageReport{Series: []seriesUsage{}}, usageJSON(t, d), "nothing billed yet")

	res := litewave(t, d.export, "lookup", "acme")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "cus_acme\n", res.stdout, "every tenant has a stable customer id")

	require.Equal(t, 0, litewave(t, d.export, postArgs...).code)
	kafka := append([]string{"LITEWAVE_BACKEND=kafka-rest"}, d.export...)
	require.Equal(t, 0, litewave(t, kafka, "post", "--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "6").code)
	require.Equal(t, 0, litewave(t, d.export, "post", "--tenant", "globex", "--device", "d7", "--meter", "tokens", "--usage", "7").code)

	assert.Equal(t, usageReport{
		Series: []seriesUsage{{"acme", "scanner-1", "pages.processed", 30}, {"globex", "d7", "tokens", 7}},
		Total:  37, Events: 2, Records: 1,
	}, usageJSON(t, d))

	code, err := d.stop(syscall.SIGINT)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "Ctrl-C is a clean stop")
	assert.True(t, strings.HasSuffix(d.out.String(), "litewave dev: stopped\n"), d.out.String())
}

func TestDevServerWithGivenCustomers(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0", "--customer", "acme=cus_42", "--redpanda")
	assert.Contains(t, d.out.String(), "only acme=cus_42 (other tenants have no account)")

	res := litewave(t, d.export, "lookup", "acme")
	assert.Equal(t, "cus_42\n", res.stdout)
	res = litewave(t, d.export, "lookup", "globex")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "litewave: tenant globex has no customer account")

	kafka := append([]string{"LITEWAVE_BACKEND=kafka-rest"}, d.export...)
	require.Equal(t, 0, litewave(t, kafka, postArgs...).code)
	assert.Equal(t, int64(24), usageJSON(t, d).Total)

	code, err := d.stop(syscall.SIGTERM)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "SIGTERM is a clean stop")
}

func TestDevServerOnAnAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	res := litewave(t, nil, "dev", "--addr", l.Addr().String())
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "address already in use; is another server using it? Choose another with --addr")
}

// The page is self-contained: nothing from elsewhere, and no data in the
// HTML itself, which its script fetches from /usage.json.
func TestDevPageIsSelfContained(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0")
	require.Equal(t, 0, litewave(t, d.export, postArgs...).code)
	body, err := d.get("/")
	require.NoError(t, err)
	html := string(body)
	assert.Contains(t, html, `fetch("usage.json"`)
	assert.NotContains(t, html, "acme", "the server sends no data in the HTML")
	for _, external := range []string{"http://", "https://", "//cdn", "<link", "src="} {
		assert.NotContains(t, html, external)
	}
}
