package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// A Node.js program using the official @opentelemetry/sdk-metrics and
// OTLP/HTTP exporter from npm, which exports cumulative sums, is billed
// what it counted.
func TestNodeClientBillsThroughTheCollector(t *testing.T) {
	dir := filepath.Join("testdata", "node")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the Node.js client is not tested")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@opentelemetry", "sdk-metrics")); err != nil {
		t.Skip("testdata/node/node_modules is absent: run npm ci in collector/testdata/node")
	}
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	addr := freeAddr(t)
	startCollector(t, collectorConfig(addr, srv.URL, ""))

	cmd := exec.CommandContext(t.Context(), node, "count.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OTLP_METRICS_URL=http://"+addr+"/v1/metrics")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var counted map[string]int64
	require.NoError(t, json.Unmarshal(out, &counted))
	require.Len(t, counted, 2)

	require.Eventually(t, func() bool { return srv.Total() == sum(counted) }, 10*time.Second, 5*time.Millisecond)
	for tenant, n := range counted {
		require.Equal(t, n, srv.Totals()[litewavetest.Series{Tenant: tenant, Device: "node-device", Meter: "api_calls"}], tenant)
	}
	require.Empty(t, srv.Conflicts())
}
