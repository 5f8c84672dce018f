package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/config"
)

// The topics dev's Kafka holds: the library's defaults, so that a program
// needs only LITEWAVE_BACKEND=kafka and the brokers. The checkpoint topic
// is what the exporter's Kafka transactions write to when it has a spool.
var (
	devTopic           = config.KafkaTopic.Default
	devCheckpointTopic = devTopic + ".checkpoints"
)

const devPartitions = 3

// devKafka is dev's Kafka: an in-process broker (franz-go's kfake) on
// loopback, and a read_committed reader of the usage topic that tallies
// what a metering consumer would bill.
type devKafka struct {
	cluster *kfake.Cluster
	reader  *kgo.Client
	addr    string // host:port of the broker
	stop    context.CancelFunc
	done    chan struct{} // closed when the reader has stopped

	mu       sync.Mutex
	tally    *tally
	keys     map[string]bool // the keys of the records billed
	records  int64           // records billed: the first under their key
	replays  int64           // records under a key read before, not billed again
	unusable int64           // records whose value is not usage
	problem  string          // the reader's last error, if any
}

// startKafka starts the broker on 127.0.0.1:port (0 picks a free one) and
// its reader. Only loopback: the broker has no authentication, and it
// tells clients to connect to the address it listens on.
func startKafka(port int) (*devKafka, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port),
		kfake.SeedTopics(devPartitions, devTopic), kfake.SeedTopics(1, devCheckpointTopic))
	if err != nil {
		return nil, err
	}
	addr := cluster.ListenAddrs()[0]
	reader, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("litewave-dev-reader"),
		kgo.ConsumeTopics(devTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// As the README asks of consumers: an aborted transaction's
		// records are sent again in a later one.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The page refreshes every second; a commit shows by the next one.
		kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		cluster.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	k := &devKafka{cluster: cluster, reader: reader, addr: addr, stop: stop, done: make(chan struct{}),
		tally: newTally(), keys: map[string]bool{}}
	go k.read(ctx)
	return k, nil
}

func (k *devKafka) read(ctx context.Context) {
	defer close(k.done)
	for {
		fs := k.reader.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		k.mu.Lock()
		k.problem = "" // until a fetch fails again
		fs.EachError(func(topic string, p int32, err error) {
			k.problem = fmt.Sprintf("reading %s partition %d: %v", topic, p, err)
		})
		fs.EachRecord(k.addLocked)
		k.mu.Unlock()
	}
}

// addLocked bills r unless its key was read before, as a consumer keyed
// by event id does. k.mu must be held.
func (k *devKafka) addLocked(r *kgo.Record) {
	if r.Key != nil && k.keys[string(r.Key)] {
		k.replays++
		return
	}
	u, ok := parseUsageRecord(r.Value)
	if !ok {
		k.unusable++
		return
	}
	if r.Key != nil {
		k.keys[string(r.Key)] = true
	}
	k.records++
	k.tally.add(viaKafka, u, r.Timestamp)
}

// report adds what the reader billed to t, and returns its counts.
func (k *devKafka) report(t *tally) pathUsage {
	k.mu.Lock()
	defer k.mu.Unlock()
	t.merge(k.tally)
	return pathUsage{Path: viaKafka, Where: k.addr + ", topic " + devTopic + " (" + strconv.Itoa(devPartitions) + " partitions), read_committed",
		Noun: "record", Accepted: k.records, Replays: k.replays, Unusable: k.unusable, Problem: k.problem}
}

// close stops the reader, then the broker.
func (k *devKafka) close() {
	k.stop()
	<-k.done
	k.reader.Close()
	k.cluster.Close()
}
