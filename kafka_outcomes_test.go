package litewavemetric_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The brokers refuse every record of one partition, in a collection of
// many series whose records franz-go answers partition by partition, in
// another order than they were handed over: exactly the series whose
// records were refused are rejected, every other series is delivered
// once, and retrying the rejected usage delivers it, none of it twice.
func TestKafkaRefusedPartitionRejectsExactlyItsSeries(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(6)...)
	cluster := newKafka(t)
	p := kafkaPipeline(t, srv, cluster.ListenAddrs())
	c := p.counter("pages")
	counted := map[string]int64{}
	for i := range 60 {
		device := "d" + strconv.Itoa(i)
		c.Add(context.Background(), int64(i+1), at(tenantID(i%6), device))
		counted[crashKey(tenantID(i%6), device, "pages")] = int64(i + 1)
	}
	refuse := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: usageTopic, Partitions: []int32{0},
		Err: kerr.InvalidRecord, Count: -1})
	require.Error(t, p.flush())
	refuse.Remove()

	rejected := map[string]int64{}
	for _, re := range p.exp.Rejected() {
		rejected[crashKey(re.Tenant, re.Device, re.Meter)] += re.Units
	}
	require.NotEmpty(t, rejected, "partition 0 holds some of 60 series")
	read := readTopic(t, cluster.ListenAddrs())
	assert.Zero(t, read.duplicates)
	for k, units := range counted {
		if r, ok := rejected[k]; ok {
			assert.Equal(t, units, r, "%s is rejected with its usage", k)
			assert.NotContains(t, read.totals, k, "%s is rejected and was not delivered", k)
		} else {
			assert.Equal(t, units, read.totals[k], "%s is delivered", k)
		}
	}

	assert.Equal(t, len(rejected), p.exp.RetryRejected())
	require.NoError(t, p.flush())
	read = readTopic(t, cluster.ListenAddrs())
	assert.Equal(t, counted, read.totals)
	assert.Zero(t, read.duplicates)
	assert.Empty(t, read.conflicts)
}
