package litewavemetric_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

const (
	usageTopic      = "usage-events"
	checkpointTopic = usageTopic + ".checkpoints" // the default
)

// fastMetadata keeps tests of moving leaders and absent brokers short:
// franz-go otherwise waits 5s between metadata refreshes.
var fastMetadata = litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{kgo.MetadataMinAge(100 * time.Millisecond)}})

// newKafka starts an in-process cluster that speaks the Kafka protocol,
// with the usage topic on 6 partitions and the checkpoint topic, closed
// when the test ends.
func newKafka(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(6, usageTopic), kfake.SeedTopics(1, checkpointTopic)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// kafkaPipeline bills c, looking customers up at srv.
func kafkaPipeline(t *testing.T, srv *litewavetest.Server, brokers []string, opts ...litewavemetric.Option) *pipeline {
	return newPipeline(t, srv, append([]litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafka),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: brokers}), fastMetadata}, opts...)...)
}

// topicRead is what a consumer of the usage topic finds: totals per series
// counting each key once, and what breaks that rule.
type topicRead struct {
	totals     map[string]int64 // by crashKey
	records    int
	duplicates int      // records whose key was seen before, with the same value
	conflicts  []string // keys seen with two values
}

// readTopic consumes the whole usage topic read_committed, up to its last
// stable offsets now, as the metering pipeline's consumers do. It counts
// every record; totals count each key once, and duplicates what a consumer
// that does not deduplicate would bill again.
func readTopic(t *testing.T, brokers []string) topicRead {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(usageTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too: reading them tells where
		// the committed part of a partition ends.
		kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, usageTopic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	next := map[int32]int64{}
	done := func() bool {
		for p, o := range ends[usageTopic] {
			if next[p] < o.Offset {
				return false
			}
		}
		return true
	}
	read := topicRead{totals: map[string]int64{}}
	seen := map[string][]byte{}
	for !done() {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d records, at %v of %v", read.records, next, ends)
		fs.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				read.add(t, r.Key, r.Value, seen)
			}
		})
	}
	return read
}

func (read *topicRead) add(t *testing.T, key, value []byte, seen map[string][]byte) {
	read.records++
	if first, ok := seen[string(key)]; ok {
		if bytes.Equal(first, value) {
			read.duplicates++
		} else {
			read.conflicts = append(read.conflicts, string(key))
		}
		return
	}
	seen[string(key)] = bytes.Clone(value)
	var v struct {
		Tenant string `json:"tenant_id"`
		Device string `json:"device_id"`
		Meter  string `json:"meter_id"`
		Units  int64  `json:"total_usage"`
	}
	require.NoError(t, json.Unmarshal(value, &v), "%s", value)
	require.Regexp(t, `^"[0-9a-f-]{36}"$`, string(key), "every record is keyed by its event's id")
	read.totals[crashKey(v.Tenant, v.Device, v.Meter)] += v.Units
}

// The same compiled program bills through Kafka too, chosen by its
// environment alone: what a consumer reads, each key once, is what was
// counted, and nothing went to the events API.
func TestOneProgramBillsThroughKafka(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	c := newKafka(t)
	srv := newServer(t, customers(7)...)
	rep := runProgram(t, 40, "LITEWAVE_BACKEND"+"=kafka",
		"LITEWAVE_KAFKA_BROKERS"+"="+strings.Join(c.ListenAddrs(), ","), "LITEWAVE_ENDPOINT"+"="+srv.URL)
	assert.Empty(t, rep.Shutdown, "Shutdown returned nil")
	read := readTopic(t, c.ListenAddrs())
	assert.Empty(t, mismatches(rep.Counted, read.totals), "[counted, read back]")
	assert.Empty(t, read.conflicts)
	assert.Zero(t, srv.Stats().Posts+srv.Stats().Produces, "usage went nowhere else")
}

// Brokers unreachable at first, then a cluster whose leaders move:
// usage is kept owed, then delivered through the provider's flush with
// franz-go retrying inside; each key once, no key with two values, and an
// independent client (kcat) reads the same totals.
func TestKafkaThroughAbsentBrokersAndMovingLeaders(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(5)...)
	port := freePort(t)
	p := kafkaPipeline(t, srv, []string{"127.0.0.1:" + strconv.Itoa(port)})
	c := p.counter("pages")
	counted := map[string]int64{}
	add := func(round int) {
		for i := range 5 {
			for d := range 4 {
				n := int64(round*3 + i + d + 1)
				c.Add(context.Background(), n, at(tenantID(i), "d"+strconv.Itoa(d)))
				counted[crashKey(tenantID(i), "d"+strconv.Itoa(d), "pages")] += n
			}
		}
	}
	add(0)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flushWithin(300*time.Millisecond), &ue, "no broker yet: owed")
	assert.Equal(t, sum(counted), ue.Units)

	cluster := newKafka(t, kfake.Ports(port, freePort(t), freePort(t)))
	cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: usageTopic, Err: kerr.NotLeaderForPartition, Count: 4})
	add(1)
	require.NoError(t, p.flush())
	add(2)
	require.NoError(t, p.shutdownWithin(20*time.Second))

	read := readTopic(t, cluster.ListenAddrs())
	assert.Empty(t, mismatches(counted, read.totals), "[counted, read back]")
	assert.Empty(t, read.conflicts, "no key with two values")
	kcatTotals(t, cluster.ListenAddrs(), counted)
}

// A record the brokers refuse for good (here INVALID_RECORD on its
// partition) is rejected for its series only, reported by the flush; every
// other series is delivered: in a transaction, the rest commit in the next
// one, once.
func TestKafkaNonRetriableRecordIsRejectedAlone(t *testing.T) {
	t.Parallel()
	for name, spool := range map[string]bool{"idempotent": false, "transactions": true} {
		t.Run(name, func(t *testing.T) { testRejectedAlone(t, spool) })
	}
}

func testRejectedAlone(t *testing.T, spooled bool) {
	srv := newServer(t, customers(6)...)
	cluster := newKafka(t)
	var opts []litewavemetric.Option
	if spooled {
		opts = append(opts, litewavemetric.WithSpoolDir(t.TempDir()))
	}
	p := kafkaPipeline(t, srv, cluster.ListenAddrs(), opts...)
	c := p.counter("pages")
	for i := range 6 {
		c.Add(context.Background(), int64(i+1), at(tenantID(i), "d"))
	}
	require.NoError(t, p.flush())
	victim := readTopic(t, cluster.ListenAddrs())
	require.Len(t, victim.totals, 6)

	cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: usageTopic, Err: kerr.InvalidRecord, Count: 1})
	c.Add(context.Background(), 100, at(tenantID(0), "d"))
	err := p.flush()
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int64(100), re.Units)
	assert.Contains(t, re.Error(), "INVALID_RECORD")
	for i := 1; i < 6; i++ {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flush(), &ue, "the rejected usage is kept")
	assert.Equal(t, int64(100), ue.RejectedUnits)
	read := readTopic(t, cluster.ListenAddrs())
	assert.Equal(t, int64(1+2+3+4+5+6+5), sum(read.totals), "the other series were delivered")
	assert.Zero(t, read.duplicates)
}

// A topic that does not exist is a configuration problem naming the
// variable, and the usage stays owed.
func TestKafkaMissingTopicIsConfiguration(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, customers(1)...)
	cluster := newKafka(t)
	p := kafkaPipeline(t, srv, cluster.ListenAddrs(), litewavemetric.WithKafka(litewavemetric.KafkaConfig{Topic: "not-there", Options: []kgo.Opt{kgo.UnknownTopicRetries(1)}}))
	requireMissingTopicReported(t, p, reports, 5*time.Second)
}

// Killed with SIGKILL while the brokers are away, before its first
// produce, a process loses nothing it exported: restarted on its spool with
// them back, it bills everything once, to a read_committed consumer that
// does not deduplicate.
func TestKafkaCrashWithBrokersAwayBillsOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	spool := t.TempDir()
	srv := newServer(t, customers(7)...)
	port := freePort(t)
	cmd, rep := startCrashChild(t, srv.URL, spool, 40,
		"LITEWAVE_BACKEND"+"=kafka", "LITEWAVE_KAFKA_BROKERS"+"=127.0.0.1:"+strconv.Itoa(port))
	kill(t, cmd)
	cluster := newKafka(t, kfake.Ports(port, freePort(t), freePort(t)))
	recoverFromSpool(t, srv, spool, litewavemetric.WithBackend(litewavemetric.BackendKafka),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: cluster.ListenAddrs()}), fastMetadata)
	read := readTopic(t, cluster.ListenAddrs())
	assert.Empty(t, mismatches(rep.Counted, read.totals), "[counted, read back each key once]")
	assert.Empty(t, read.conflicts, "replays carry the same key and value")
	assert.Zero(t, read.duplicates, "no key twice")
	t.Logf("killed child counted %d units in %d series; %d records read back, %d of them replays of a key",
		sum(rep.Counted), len(rep.Counted), read.records, read.duplicates)
}

// kcatTotals reads the topic with kcat (librdkafka), the client most
// consumers use, read_committed, and checks it finds the same totals, each
// key once.
func kcatTotals(t *testing.T, brokers []string, want map[string]int64) topicRead {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat not installed (Debian package kcat; .ci/run installs it): the independent read is skipped")
		return topicRead{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-C", "-b", strings.Join(brokers, ","), "-t", usageTopic, "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", "%k\t%s\n").Output()
	require.NoError(t, err)
	read := topicRead{totals: map[string]int64{}}
	seen := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "\t")
		require.True(t, ok, "%q", sc.Text())
		read.add(t, []byte(key), []byte(value), seen)
	}
	assert.Empty(t, mismatches(want, read.totals), "kcat: [counted, read back]")
	assert.Empty(t, read.conflicts)
	t.Logf("kcat read %d records: the same totals", read.records)
	return read
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
