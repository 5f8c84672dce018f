package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// The million-series rows measure the heap of the SDK and the exporter
// alone, so the fake backend runs in another process: the bench runs
// itself with -serve-fake, which serves litewavetest (events API and
// lookups), a REST Proxy that counts (restProxyCounter) and a kfake
// cluster on 127.0.0.1 until its stdin closes.

// fakeAddrs is the line a fake process prints once it serves.
type fakeAddrs struct {
	URL     string   `json:"url"`
	Brokers []string `json:"brokers"`
}

// billed is what a fake process was sent, counted without deduplication.
type billed struct {
	// Events the fake took, duplicates included, and records the REST
	// Proxy took.
	Events, EventDuplicates, Records int64
	// Events the fake refused, records that are not the usage of the
	// tenant's customer.
	Refused int64
	// KafkaRecords are the records a read_committed consumer read from
	// the usage topic, every one of them; KafkaOffsets the topic's end
	// offsets, summed: more than KafkaRecords if records were left unread.
	KafkaRecords, KafkaOffsets int64
	// Fingerprint sums seriesPrint(series)·units over all the usage
	// billed, by the fake and the consumer: equal to the one of the usage
	// counted exactly when every series was billed what it counted.
	Fingerprint uint64
}

// seriesPrint is a series' weight in a fingerprint.
func seriesPrint(tenant, device, meter string) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, tenant)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, device)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, meter)
	return h.Sum64()
}

// serveFake is the fake process: it serves until its stdin closes.
func serveFake() error {
	fake := litewavetest.NewHandler(litewavetest.WithAnyTenant())
	defer fake.Close()
	cluster, err := kafkaCluster()
	if err != nil {
		return err
	}
	defer cluster.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	proxy := new(restProxyCounter)
	mux := http.NewServeMux()
	mux.Handle("/", fake)
	mux.Handle("POST /topics/", proxy)
	mux.HandleFunc("GET /bench/billed", func(w http.ResponseWriter, r *http.Request) {
		want, _ := strconv.ParseInt(r.URL.Query().Get("kafka-records"), 10, 64)
		b, err := billedBy(r.Context(), fake, proxy, cluster.ListenAddrs(), want)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(b)
	})
	mux.HandleFunc("GET /bench/cpu", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strconv.FormatInt(int64(processCPU()), 10))
	})
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if err := json.NewEncoder(os.Stdout).Encode(fakeAddrs{URL: "http://" + l.Addr().String(), Brokers: cluster.ListenAddrs()}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// billedBy counts what fake and proxy took and, when kafkaRecords > 0,
// reads the usage topic until that many records came or a minute passed.
func billedBy(ctx context.Context, fake *litewavetest.Server, proxy *restProxyCounter, brokers []string, kafkaRecords int64) (billed, error) {
	st := fake.Stats()
	b := billed{Events: st.Accepted + st.Duplicates, EventDuplicates: st.Duplicates,
		Records: proxy.records.Load(), Fingerprint: proxy.fingerprint.Load(),
		Refused: st.Conflicts + st.Rejected + st.Unauthorized + proxy.wrong.Load()}
	for s, units := range fake.Totals() {
		b.Fingerprint += seriesPrint(s.Tenant, s.Device, s.Meter) * uint64(units)
	}
	if kafkaRecords == 0 {
		return b, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(benchTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return b, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for b.KafkaRecords < kafkaRecords && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			b.KafkaRecords++
			var u usageRecord
			if json.Unmarshal(r.Value, &u) != nil {
				b.Refused++
				return
			}
			w, ok := u.weight()
			if !ok {
				b.Refused++
			}
			b.Fingerprint += w
		})
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), benchTopic)
	if err != nil {
		return b, err
	}
	ends.Each(func(o kadm.ListedOffset) { b.KafkaOffsets += o.Offset })
	return b, nil
}

// fakeProcess is a running fake process, seen from the bench.
type fakeProcess struct {
	fakeAddrs
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startFake runs this program with -serve-fake and waits until it serves.
func startFake() (*fakeProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve-fake"}
	if *cpuprofile != "" {
		args = append(args, "-cpuprofile", *cpuprofile+".fake")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &fakeProcess{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &p.fakeAddrs)
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("fake process: %w", err)
	}
	return p, nil
}

// billed asks the fake what it was sent; kafkaRecords > 0 reads that many
// records from its Kafka cluster.
func (p *fakeProcess) billed(kafkaRecords int64) (billed, error) {
	var b billed
	resp, err := http.Get(p.URL + "/bench/billed?kafka-records=" + strconv.FormatInt(kafkaRecords, 10))
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return b, fmt.Errorf("fake process: %s", msg)
	}
	return b, json.NewDecoder(resp.Body).Decode(&b)
}

// cpu is the CPU time the fake process has used.
func (p *fakeProcess) cpu() (time.Duration, error) {
	resp, err := http.Get(p.URL + "/bench/cpu")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	return time.Duration(ns), err
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// close ends the fake process by closing its stdin, and waits for it.
func (p *fakeProcess) close() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}
