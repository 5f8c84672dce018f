package litewavemetric_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/aiorch/litewavemetric"
)

// killSwitch kills a child process when the cluster receives a request of
// the child's that matches: the request is held until the child has
// reported what it counted, the child is killed, and then the cluster
// handles the request, as a broker does with a request whose sender died.
type killSwitch struct {
	cmd   chan *exec.Cmd
	fired chan struct{}
}

func killOn(c *kfake.Cluster, key kmsg.Key, match func(kmsg.Request) bool) *killSwitch {
	k := &killSwitch{cmd: make(chan *exec.Cmd, 1), fired: make(chan struct{})}
	var matched atomic.Bool
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		// While the first match sleeps, requests of the same key run this
		// function too: only the first may sleep.
		if !match(req) || matched.Swap(true) {
			return nil, nil, false
		}
		c.DropControl()
		c.SleepControl(func() {
			cmd := <-k.cmd
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_, _ = cmd.Process.Wait() // dead before the request is handled
			close(k.fired)
		})
		return nil, nil, false
	})
	return k
}

// arm hands the child to the switch, which kills it on the request; wait
// until it has.
func (k *killSwitch) arm(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	k.cmd <- cmd
	select {
	case <-k.fired:
	case <-time.After(30 * time.Second):
		t.Fatal("the request the child was to be killed on never came")
	}
}

// producesOf matches produce requests of transactional ids starting with
// prefix: the first one is inside the first transaction.
func producesOf(prefix string) func(kmsg.Request) bool {
	return func(req kmsg.Request) bool {
		id := req.(*kmsg.ProduceRequest).TransactionID
		return id != nil && strings.HasPrefix(*id, prefix)
	}
}

func commitsOf(prefix string) func(kmsg.Request) bool {
	return func(req kmsg.Request) bool {
		e := req.(*kmsg.EndTxnRequest)
		return e.Commit && strings.HasPrefix(e.TransactionalID, prefix)
	}
}

// readCommittedFetch matches a read_committed fetch: while only the
// restarted child reads, its read-back of the checkpoint topic.
func readCommittedFetch(req kmsg.Request) bool {
	return req.(*kmsg.FetchRequest).IsolationLevel == 1
}

func kafkaChildEnv(c *kfake.Cluster, instance string) []string {
	return []string{"LITEWAVE_BACKEND" + "=kafka", "LITEWAVE_KAFKA_BROKERS" + "=" + strings.Join(c.ListenAddrs(), ","),
		"LITEWAVE_INSTANCE_ID" + "=" + instance}
}

// recoveryLog collects what restarted exporters say of their recovery.
type recoveryLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recoveryLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "recovered") {
		l.mu.Lock()
		l.lines = append(l.lines, strings.TrimSpace(string(p)))
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *recoveryLog) option() litewavemetric.Option {
	return litewavemetric.WithLogger(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

func (l *recoveryLog) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		t.Log(line)
	}
}

// addCounts adds b's counts to a.
func addCounts(a, b map[string]int64) {
	for k, v := range b {
		a[k] += v
	}
}

// requireBilledOnce reads the topic as a read_committed consumer that
// bills every record it reads: every unit counted, and no key twice.
func requireBilledOnce(t *testing.T, c *kfake.Cluster, counted map[string]int64) {
	t.Helper()
	read := readTopic(t, c.ListenAddrs())
	assert.Empty(t, mismatches(counted, read.totals), "[counted, read back]")
	assert.Zero(t, read.duplicates, "no key read twice by a read_committed consumer")
	assert.Empty(t, read.conflicts)
	assert.Zero(t, kcatTotals(t, c.ListenAddrs(), counted).duplicates, "kcat, read_committed, reads no key twice")
	t.Logf("%d units counted in %d series; %d records read, %d repeated", sum(counted), len(counted), read.records, read.duplicates)
}

// Killed with SIGKILL inside a transaction, between its commit and the
// spool's mark, or during the restart's own read-back, and restarted on
// its spool each time: a read_committed consumer that does not deduplicate
// reads every unit once.
func TestKafkaSIGKILLAtAnyMomentBillsEachUnitOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	srv := newServer(t, customers(7)...)
	moments := map[string]func(c *kfake.Cluster) *killSwitch{
		"inside a transaction": func(c *kfake.Cluster) *killSwitch {
			return killOn(c, kmsg.Produce, producesOf("litewavemetric-crash-"))
		},
		"between the commit and the spool's mark": func(c *kfake.Cluster) *killSwitch {
			return killOn(c, kmsg.EndTxn, commitsOf("litewavemetric-crash-"))
		},
	}
	for name, at := range moments {
		t.Run(name, func(t *testing.T) {
			c := newKafka(t)
			spool := t.TempDir()
			k := at(c)
			cmd, rep := startCrashChild(t, srv.URL, spool, 40, kafkaChildEnv(c, "crash")...)
			k.arm(t, cmd)
			var log recoveryLog
			recoverFromSpool(t, srv, spool, litewavemetric.WithBackend(litewavemetric.BackendKafka),
				litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: c.ListenAddrs()}), log.option())
			requireBilledOnce(t, c, rep.Counted)
			log.report(t)
		})
	}
	t.Run("during the restart's read-back", func(t *testing.T) {
		c := newKafka(t)
		spool := t.TempDir()
		k := killOn(c, kmsg.EndTxn, commitsOf("litewavemetric-crash-"))
		cmd, first := startCrashChild(t, srv.URL, spool, 40, kafkaChildEnv(c, "crash")...)
		k.arm(t, cmd)
		k = killOn(c, kmsg.Fetch, readCommittedFetch)
		cmd, second := startCrashChild(t, srv.URL, spool, 40, kafkaChildEnv(c, "crash")...)
		k.arm(t, cmd)
		var log recoveryLog
		recoverFromSpool(t, srv, spool, litewavemetric.WithBackend(litewavemetric.BackendKafka),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: c.ListenAddrs()}), log.option())
		addCounts(first.Counted, second.Counted)
		requireBilledOnce(t, c, first.Counted)
		log.report(t)
	})
}

// Three replicas share the topic, each with its own spool, and are killed
// at different moments; they restart while a fourth keeps producing.
// Every unit is read once.
func TestKafkaReplicasKilledAtDifferentMomentsBillOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	srv := newServer(t, customers(7)...)
	c := newKafka(t)
	switches := []*killSwitch{
		killOn(c, kmsg.Produce, producesOf("litewavemetric-replica-0-")),
		killOn(c, kmsg.EndTxn, commitsOf("litewavemetric-replica-1-")),
		nil, // killed once it has reported, wherever it is
	}
	counted := map[string]int64{}
	spools := make([]string, len(switches))
	for i, k := range switches {
		spools[i] = t.TempDir()
		cmd, rep := startCrashChild(t, srv.URL, spools[i], 30, kafkaChildEnv(c, "replica-"+strconv.Itoa(i))...)
		if k != nil {
			k.arm(t, cmd)
		} else {
			kill(t, cmd)
		}
		addCounts(counted, rep.Counted)
	}

	// The fourth replica produces all along.
	fourth := kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(t.TempDir()), litewavemetric.WithInstanceID("replica-3"))
	pages := fourth.counter("pages")
	var stop atomic.Bool
	var wg sync.WaitGroup
	fourthCounted := map[string]int64{}
	wg.Go(func() {
		for round := 0; !stop.Load() || round < 3; round++ {
			for d := range 10 {
				device := "live-" + strconv.Itoa(d)
				pages.Add(context.Background(), int64(round+1), at(tenantID(d%7), device))
				fourthCounted[crashKey(tenantID(d%7), device, "pages")] += int64(round + 1)
			}
			assert.NoError(t, fourth.flush())
		}
	})
	var log recoveryLog
	for _, spool := range spools {
		recoverFromSpool(t, srv, spool, litewavemetric.WithBackend(litewavemetric.BackendKafka),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: c.ListenAddrs()}), log.option())
	}
	stop.Store(true)
	wg.Wait()
	require.NoError(t, fourth.shutdownWithin(20*time.Second))
	addCounts(counted, fourthCounted)
	requireBilledOnce(t, c, counted)
	log.report(t)
}

// The spool carries the transactional id: a restart with another instance
// id, or a drain from elsewhere, recovers under the same one.
func TestKafkaTransactionalIDIsTheSpools(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(2)...)
	c := newKafka(t)
	spool := t.TempDir()
	var (
		mu  sync.Mutex
		ids []string
	)
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if id := req.(*kmsg.InitProducerIDRequest).TransactionalID; id != nil {
			mu.Lock()
			ids = append(ids, *id)
			mu.Unlock()
		}
		return nil, nil, false
	})
	for i := range 2 {
		p := kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(spool), litewavemetric.WithInstanceID("pod-"+strconv.Itoa(i)))
		p.counter("pages").Add(context.Background(), 1, at(tenantID(0), "d"))
		require.NoError(t, p.shutdownWithin(10*time.Second))
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, ids)
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	assert.True(t, strings.HasPrefix(ids[0], "litewavemetric-pod-0-"), ids[0])
}

// answerLost applies the first commit of a transaction, then drops its
// answer and every retry of it: the commit's outcome is unknown to the
// exporter, which must find it out before sending anything again.
func answerLost(t *testing.T, c *kfake.Cluster) {
	side, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(side.Close)
	type producer struct {
		id    int64
		epoch int16
	}
	var (
		mu       sync.Mutex
		lost     *producer // the transaction whose answers are dropped
		applying atomic.Bool
	)
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		e := req.(*kmsg.EndTxnRequest)
		if !e.Commit || applying.Load() {
			return nil, nil, false
		}
		mu.Lock()
		first := lost == nil
		if first {
			lost = &producer{e.ProducerID, e.ProducerEpoch}
		}
		drop := *lost == producer{e.ProducerID, e.ProducerEpoch}
		mu.Unlock()
		if first {
			// The same request, from another connection: the broker
			// applies it.
			c.SleepControl(func() {
				applying.Store(true)
				defer applying.Store(false)
				applied := *e
				resp, err := applied.RequestWith(context.Background(), side)
				if assert.NoError(t, err) {
					assert.NoError(t, kerr.ErrorForCode(resp.ErrorCode), "the commit is applied")
				}
			})
		}
		if drop {
			return nil, errors.New("answer lost"), true
		}
		return nil, nil, false
	})
}

// brokersAway closes every connection for a while, then lets them back.
func brokersAway(c *kfake.Cluster) (back func()) {
	var away atomic.Bool
	away.Store(true)
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !away.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("broker away"), true
	})
	return func() { away.Store(false) }
}

// Through transaction failures, on a cluster with KIP-890 transactions and
// on one without (where AddPartitionsToTxn is sent), the flush delivers,
// and a read_committed consumer that does not deduplicate reads every
// unit once; so does kcat.
func TestKafkaTransactionFaultsBillOnce(t *testing.T) {
	t.Parallel()
	clusters := map[string][]kfake.Opt{
		"KIP-890":        nil,
		"before KIP-890": {kfake.MaxVersions(kversion.V3_9_0())},
	}
	for name, opts := range clusters {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, customers(5)...)
			c := newKafka(t, opts...)
			p := kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(t.TempDir()),
				litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}}))
			pages := p.counter("pages")
			counted := map[string]int64{}
			round := 0
			add := func() {
				round++
				for i := range 5 {
					for d := range 3 {
						device := "d" + strconv.Itoa(d)
						pages.Add(context.Background(), int64(round+i), at(tenantID(i), device))
						counted[crashKey(tenantID(i), device, "pages")] += int64(round + i)
					}
				}
			}
			faults := []struct {
				name   string
				inject func()
			}{
				{"produce fails inside the transaction", func() {
					c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.UnknownServerError, Count: 1})
				}},
				{"AddPartitionsToTxn fails", func() {
					c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Err: kerr.UnknownServerError, Count: 1})
				}},
				{"EndTxn fails", func() {
					c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, TopLevel: true, Count: 1})
				}},
				{"EndTxn applied, answer lost", func() { answerLost(t, c) }},
				{"the coordinator moves", c.RehashCoordinators},
			}
			for _, f := range faults {
				add()
				f.inject()
				require.NoError(t, p.flush(), f.name)
			}
			add()
			back := brokersAway(c)
			var ue *litewavemetric.UndeliveredError
			require.ErrorAs(t, p.flushWithin(time.Second), &ue, "brokers away: owed")
			back()
			require.NoError(t, p.flush(), "brokers back")
			require.NoError(t, p.shutdownWithin(20*time.Second))
			requireBilledOnce(t, c, counted)
		})
	}
}

// Two exporters holding one transactional id (a spool directory copied)
// take it from each other: the second fence soon after the first is a
// configuration problem that says so, and the usage stays owed.
func TestKafkaSharedTransactionalIDIsConfiguration(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	c := newKafka(t)
	first := t.TempDir()
	p := kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(first))
	require.NoError(t, p.shutdownWithin(10*time.Second))
	copied := t.TempDir()
	data, err := os.ReadFile(filepath.Join(first, "outbox.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(copied, "outbox.db"), data, 0o600))

	pipelines := []*pipeline{
		kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(first)),
		kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(copied)),
	}
	var shared error
	for round := 0; shared == nil && round < 8; round++ {
		p := pipelines[round%2]
		p.counter("pages").Add(context.Background(), 1, at(tenantID(0), "d"))
		err := p.flushWithin(2 * time.Second)
		if err != nil && strings.Contains(err.Error(), "used by another process") {
			shared = err
		}
	}
	require.Error(t, shared, "the shared id is reported")
	assert.Contains(t, shared.Error(), "two exporters share a spool directory or an instance id")
	var ue *litewavemetric.UndeliveredError
	assert.ErrorAs(t, shared, &ue, "the usage stays owed")
	for _, p := range pipelines {
		_ = p.shutdownWithin(5 * time.Second)
	}
}

// What transactions need from the cluster, missing, is a configuration
// problem that says what to grant or create, or how to do without.
func TestKafkaTransactionNeedsAreConfiguration(t *testing.T) {
	cases := map[string]struct {
		cluster func(t *testing.T) *kfake.Cluster
		want    []string
	}{
		"no transactional ACL": {
			cluster: func(t *testing.T) *kfake.Cluster {
				c := newKafka(t)
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.TransactionalIDAuthorizationFailed, Count: -1})
				return c
			},
			want: []string{"TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "LITEWAVE_KAFKA_TRANSACTIONS=false"},
		},
		"no checkpoint topic": {
			cluster: func(t *testing.T) *kfake.Cluster {
				c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, usageTopic))
				require.NoError(t, err)
				t.Cleanup(c.Close)
				return c
			},
			want: []string{"create the checkpoint topic " + checkpointTopic, "LITEWAVE_KAFKA_CHECKPOINT_TOPIC"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reports := handleErrors(t)
			srv := newServer(t, customers(1)...)
			c := tc.cluster(t)
			p := kafkaPipeline(t, srv, c.ListenAddrs(), litewavemetric.WithSpoolDir(t.TempDir()),
				litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{kgo.UnknownTopicRetries(1)}}))
			p.counter("pages").Add(context.Background(), 4, at(tenantID(0), "d"))
			var ue *litewavemetric.UndeliveredError
			require.ErrorAs(t, p.flushWithin(3*time.Second), &ue)
			assert.Equal(t, int64(4), ue.Units, "owed")
			ds := deferred(reports.all())
			require.NotEmpty(t, ds)
			assert.Equal(t, "configuration", ds[len(ds)-1].Failure)
			for _, w := range tc.want {
				assert.Contains(t, ds[len(ds)-1].Error(), w)
			}
			t.Logf("a user sees: %v", ds[len(ds)-1])
		})
	}
}

// franz-go options that would undo transactions are refused while they
// are on, and accepted without them.
func TestKafkaOptionsThatUndoTransactionsAreRefused(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]kgo.Opt{
		"TransactionalID":        kgo.TransactionalID("mine"),
		"DisableIdempotentWrite": kgo.DisableIdempotentWrite(),
		"TransactionTimeout":     kgo.TransactionTimeout(time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			base := []litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafka),
				litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: []string{"127.0.0.1:1"}}), litewavemetric.WithEndpoint("http://127.0.0.1:1"),
				litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{o}})}
			_, err := litewavemetric.New(context.Background(), append(base, litewavemetric.WithSpoolDir(t.TempDir()))...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
			assert.Contains(t, err.Error(), "LITEWAVE_KAFKA_TRANSACTIONS=false")
			exp, err := litewavemetric.New(context.Background(), append(base, litewavemetric.WithSpoolDir(t.TempDir()),
				litewavemetric.WithKafkaTransactions(litewavemetric.KafkaTransactions{Off: true}))...)
			require.NoError(t, err)
			require.NoError(t, exp.Shutdown(context.Background()))
		})
	}
}
