package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// kafkaUsage is what the report shows billed through Kafka, keyed as
// counted.
func kafkaUsage(u usageReport) counted {
	out := counted{}
	for _, s := range u.Series {
		if s.Via == viaKafka {
			out[seriesKey(s.Tenant, s.Device, s.Meter)] += s.Units
		}
	}
	return out
}

// kcat reads topic to its end as the README tells a user to, committed
// records only, and returns their values.
func kcat(t *testing.T, brokers, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kcat", "-b", brokers, "-C", "-t", topic,
		"-X", "isolation.level=read_committed", "-e", "-q", "-f", "%s\n").Output()
	require.NoError(t, err)
	return strings.Fields(string(out))
}

// The exporter's Kafka transactions (a spool turns them on) commit to the
// dev server's broker, which holds the checkpoint topic they need. What a
// replica counted is what the page shows through Kafka, and what kcat
// reads read_committed. Stopping the dev server leaves none of its
// goroutines behind: not the broker's, the reader's or the HTTP server's.
func TestDevKafkaTakesTransactionsAndStopsClean(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r, w := io.Pipe()
	ended := make(chan error, 1)
	go func() {
		ended <- dev(ctx, &output{stdout: w, stderr: io.Discard}, []string{"--addr", "127.0.0.1:0", "--kafka-port", "0"})
		_ = w.Close()
	}()
	d := &devServer{}
	banner := bufio.NewReader(r)
	require.NoError(t, d.readBanner(banner))
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(banner)
		rest <- string(b)
	}()
	brokers := strings.TrimPrefix(d.export[2], "LITEWAVE_KAFKA_BROKERS=")

	replica, c := startReplica(t, "exit", d.url, t.TempDir(), "LITEWAVE_BACKEND=kafka", d.export[2])
	require.NoError(t, replica.Wait(), "the replica shut down with everything delivered")
	require.Eventually(t, func() bool { return kafkaUsage(usageJSON(t, d)).total() == c.total() },
		10*time.Second, 20*time.Millisecond, "the page shows what the replica counted")
	u := usageJSON(t, d)
	assert.Equal(t, c, kafkaUsage(u))
	assert.Zero(t, path(t, u, viaKafka).Replays)

	read := counted{}
	for _, v := range kcat(t, brokers, devTopic) {
		rec, ok := parseUsageRecord([]byte(v))
		require.True(t, ok, v)
		read[seriesKey(rec.series.Tenant, rec.series.Device, rec.series.Meter)] += rec.units
	}
	assert.Equal(t, c, read, "kcat, read_committed, reads what was counted, each record once")
	assert.NotEmpty(t, kcat(t, brokers, devCheckpointTopic), "the exporter committed transactions, with their checkpoints")

	stop()
	require.NoError(t, <-ended)
	assert.Equal(t, "\nStop it with Ctrl-C.\nlitewave dev: stopped\n", <-rest)
}

// The page shows Kafka usage as a read_committed consumer bills it: the
// records of an aborted transaction are not usage.
func TestDevKafkaShowsOnlyCommittedUsage(t *testing.T) {
	d := startDev(t, "--addr", "127.0.0.1:0", "--kafka-port", "0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.TrimPrefix(d.export[2], "LITEWAVE_KAFKA_BROKERS=")),
		kgo.TransactionalID("dev-test"), kgo.DefaultProduceTopic(devTopic))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	produce := func(key string, units int, end kgo.TransactionEndTry) {
		require.NoError(t, cl.BeginTransaction())
		value := fmt.Sprintf(`{"meter_id":"pages.processed","customer_id":"cus_acme","total_usage":%d,"tenant_id":"acme","device_id":"d1"}`, units)
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte(value)}).FirstErr())
		require.NoError(t, cl.EndTransaction(ctx, end))
	}
	produce(`"aborted"`, 1000, kgo.TryAbort)
	produce(`"committed"`, 3, kgo.TryCommit)

	require.Eventually(t, func() bool { return path(t, usageJSON(t, d), viaKafka).Accepted > 0 }, 10*time.Second, 20*time.Millisecond)
	u := usageJSON(t, d)
	assert.Equal(t, counted{"acme/d1/pages.processed": 3}, kafkaUsage(u))
	assert.Equal(t, int64(1), path(t, u, viaKafka).Accepted)
}
