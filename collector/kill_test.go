package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// A Collector process SIGKILLed while it delivers, and restarted on its
// spool, bills every unit counted on a cumulative stream, and none twice:
// what it had taken is sent again with the same keys (the server counts a
// key once, and records each resend as a duplicate), and the stream's
// state, stored with the usage, makes the restarted Collector bill only
// growth.
func TestKilledCollectorRestartsOnItsSpool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the distribution")
	}
	bin := filepath.Join(t.TempDir(), "litewave-collector")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	var ambiguous atomic.Bool
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if ambiguous.Load() {
			return litewavetest.Fault{Target: "events", DropAfterRecord: true}
		}
		return litewavetest.Fault{}
	})
	defer srv.Close()
	addr, dir := freeAddr(t), t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(collectorConfig(addr, srv.URL, filepath.Join(dir, "spool"))), 0o600))
	run := func() *exec.Cmd { return runCollector(t, bin, config, addr) }

	// The client starts after the Collector: the first point of a stream
	// that began before the exporter is only a baseline (see the README).
	collector := run()
	client := newGoClient(t, addr, "shop-1")
	tenants := []string{"t1", "t2", "t3"}
	var counted int64
	count := func(n int64) {
		for _, tenant := range tenants {
			client.add(tenant, n)
			counted += n
		}
	}

	for round := range 3 {
		count(int64(round + 1))
		require.NoError(t, client.flush(t))
	}
	// The backend records the next events but its answers are lost: the
	// Collector holds them owed, retrying, when it is killed.
	ambiguous.Store(true)
	before := srv.Stats().Posts
	count(10)
	go func() { _ = client.flush(t) }()
	require.Eventually(t, func() bool { return srv.Stats().Posts >= before+int64(len(tenants)) }, 10*time.Second, time.Millisecond)
	require.NoError(t, collector.Process.Kill())
	_ = collector.Wait()
	ambiguous.Store(false)

	count(100)
	run()
	for round := range 3 {
		count(int64(round + 1000))
		require.NoError(t, client.flush(t))
	}
	require.Eventually(t, func() bool { return srv.Total() == counted }, 20*time.Second, 10*time.Millisecond,
		"billed %d, counted %d", srv.Total(), counted)
	require.Empty(t, srv.Conflicts())
	var duplicates int
	for _, e := range srv.Events() {
		if e.Duplicate {
			duplicates++
		}
	}
	require.Positive(t, duplicates, "the ambiguous events were sent again after the restart")
}
