package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aiorch/litewavemetric/litewavetest"
)

const usageTopic = "usage-events"

// A Collector billing Kafka with transactions, SIGKILLed while it
// produces and restarted on its spool: a read_committed consumer that
// does not deduplicate reads every unit counted on a cumulative stream,
// and no record twice.
func TestKilledCollectorBillsKafkaOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the distribution")
	}
	bin := filepath.Join(t.TempDir(), "litewave-collector")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, usageTopic), kfake.SeedTopics(1, usageTopic+".checkpoints"))
	require.NoError(t, err)
	defer cluster.Close()
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	addr, dir := freeAddr(t), t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	cfg := collectorConfig(addr, srv.URL, filepath.Join(dir, "spool"), fmt.Sprintf(`    backend: kafka
    kafka:
      brokers: [%s]
      topic: %s
`, cluster.ListenAddrs()[0], usageTopic))
	require.NoError(t, os.WriteFile(config, []byte(cfg), 0o600))
	run := func() *exec.Cmd { return runCollector(t, bin, config, addr) }

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
	// The next produce request is held until the Collector is dead, then
	// handled, as a broker handles a request whose sender died: its
	// records are written, and the Collector never learnt it.
	var matched atomic.Bool
	killed := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if matched.Swap(true) {
			return nil, nil, false
		}
		cluster.DropControl()
		cluster.SleepControl(func() {
			_ = collector.Process.Signal(syscall.SIGKILL)
			_ = collector.Wait()
			close(killed)
		})
		return nil, nil, false
	})
	count(10)
	go func() { _ = client.flush(t) }()
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the Collector never produced")
	}

	count(100)
	run()
	for round := range 3 {
		count(int64(round + 1000))
		require.NoError(t, client.flush(t))
	}
	require.Eventually(t, func() bool { units, _ := readCommitted(t, cluster.ListenAddrs()); return units == counted },
		30*time.Second, 50*time.Millisecond)
	units, repeated := readCommitted(t, cluster.ListenAddrs())
	require.Equal(t, counted, units)
	require.Zero(t, repeated, "no record read twice")
}

// readCommitted reads the usage topic read_committed up to its stable end,
// as a consumer that bills every record it reads: the units of all
// records, and how many keys it read more than once.
func readCommitted(t *testing.T, brokers []string) (units int64, repeated int) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(usageTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, usageTopic)
	require.NoError(t, err)
	next := map[int32]int64{}
	done := func() bool {
		for p, o := range ends[usageTopic] {
			if next[p] < o.Offset {
				return false
			}
		}
		return true
	}
	seen := map[string]bool{}
	for !done() && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			var v struct {
				Units int64 `json:"total_usage"`
			}
			require.NoError(t, json.Unmarshal(r.Value, &v))
			units += v.Units
			if seen[string(r.Key)] {
				repeated++
			}
			seen[string(r.Key)] = true
		})
	}
	return units, repeated
}
