package litewavemetric_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric"
)

// A provider's flush returns once its collection is delivered, not when
// franz-go's linger ends: once the outbox has handed every event to a
// Send, nothing more is coming, and the records go at once. Here the
// linger is a minute (franz-go's longest), longer than the flushes may
// take; each collection has 4000 series, several Sends under way at once,
// and a consumer that does not deduplicate reads each event once.
func TestKafkaFlushDoesNotWaitOutTheLinger(t *testing.T) {
	t.Parallel()
	const tenants, devices = 4, 1000
	srv := newServer(t, customers(tenants)...)
	cluster := newKafka(t)
	p := kafkaPipeline(t, srv, cluster.ListenAddrs(), litewavemetric.WithConcurrency(8),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{kgo.ProducerLinger(time.Minute)}}))
	c := p.counter("pages")
	counted := map[string]int64{}
	for round := range 2 { // the first looks customers up; the second is the steady state
		for i := range tenants {
			for d := range devices {
				device := "d" + strconv.Itoa(d)
				n := int64(round + i + d%7 + 1)
				c.Add(context.Background(), n, at(tenantID(i), device))
				counted[crashKey(tenantID(i), device, "pages")] += n
			}
		}
		require.NoError(t, p.flushWithin(20*time.Second), "collection %d", round)
	}
	read := readTopic(t, cluster.ListenAddrs())
	assert.Equal(t, 2*tenants*devices, read.records, "one record per series and collection")
	assert.Zero(t, read.duplicates)
	assert.Empty(t, mismatches(counted, read.totals), "[counted, read back]")
}

// A Client's post is a Send alone: it returns once its record is
// answered, not when the linger ends, on a new client too, whose first
// record waits for the topic's partitions before it could start lingering.
func TestKafkaClientPostDoesNotWaitOutTheLinger(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	cluster := newKafka(t)
	c := newClient(t, srv, litewavemetric.WithBackend(litewavemetric.BackendKafka),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: cluster.ListenAddrs(), Options: []kgo.Opt{kgo.ProducerLinger(time.Minute)}}))
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := c.PostMeterUsage(ctx, tenantID(0), "d", "pages", int64(i+1))
		cancel()
		require.NoError(t, err, "post %d", i)
	}
	read := readTopic(t, cluster.ListenAddrs())
	assert.Equal(t, 3, read.records)
	assert.Equal(t, map[string]int64{crashKey(tenantID(0), "d", "pages"): 6}, read.totals)
}
