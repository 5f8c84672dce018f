// Command litewave-bench measures the exporter against the physical limit
// of a one-POST-per-event API and against meter-lib's access pattern, on a
// fast in-process backend on loopback, and prints one table. Each figure is
// the median of several rounds; each ratio is the median of the rounds'
// ratios, each of two measurements made in the same round, because shared
// machines are noisy.
//
//	go run ./cmd/litewave-bench
//	go run ./cmd/litewave-bench -million   # a million series in one collection
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/internal/config"
)

// defaults are the exporter's, which the bare clients match.
var defaults = config.Defaults()

var (
	n              = flag.Int("n", 20_000, "usage series in the measured collection")
	tenants        = flag.Int("tenants", 100, "distinct tenants among them")
	concurrency    = flag.Int("concurrency", defaults.Concurrency, "requests in flight, exporter and bare client alike")
	rounds         = flag.Int("rounds", 9, "rounds per figure; the median is printed")
	meterLibSample = flag.Int("meterlib-sample", 1000, "events sent in meter-lib's access pattern (it is slow)")
	owed           = flag.Int("owed", 100_000, "series owed in the memory measurement")
	sweep          = flag.String("sweep", "", "comma-separated concurrencies to compare the exporter at, e.g. 4,8,16,32,64")
	latency        = flag.Duration("latency", time.Millisecond, "service time of the modelled backend for the latency rows (0 skips them)")
	latencyN       = flag.Int("latency-n", 5000, "series in the measured collection at -latency")
	kafkaN         = flag.Int("kafka-n", 10_000, "series in the collection measured on Kafka, against the events API and a bare franz-go producer (0 skips it)")
	only           = flag.String("only", "", "measure one thing only, to profile it: exporter, spool, bare, meter-lib, kafka (ForceFlush), kafka-txn, kafka-export (Export only), bare-kafka or bare-kafka-txn (-kafka-txn-size records per transaction); with -million, events, kafka-rest or kafka")
	kafkaTxnSize   = flag.Int("kafka-txn-size", 1000, "records per transaction of -only bare-kafka-txn")
	cpuprofile     = flag.String("cpuprofile", "", "write a CPU profile of the run to this file (with -only kafka or kafka-txn, of each measured ForceFlush to this file suffixed .N; with -million, of each measured ForceFlush to this file suffixed .PATH.N, and the fake process's suffixed .fake)")
	million        = flag.Bool("million", false, "measure only one collection of -million-n series, and of a tenth of them, through kafka-rest and kafka (a tenth through the events API), with the fake backend in another process: time, heap peak and live heap per series")
	millionN       = flag.Int("million-n", 1_000_000, "series in the largest collection of -million, 100 devices per tenant")
	millionRounds  = flag.Int("million-rounds", 3, "rounds of -million")
	heapEvery      = flag.Duration("heap-every", time.Millisecond, "how often -million samples the heap during a flush, for its peak")
	memprofile     = flag.String("memprofile", "", "with -million, write a heap profile of what each run keeps live after delivery to this file, suffixed .PATH.N")
	serveFakeFlag  = flag.Bool("serve-fake", false, "serve -million's fake backend until stdin closes (the bench runs itself with it)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "litewave-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	// The memory figure measures an outage; its reports are not news here.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	if *cpuprofile != "" && !*million && !flushProfiles() {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *serveFakeFlag {
		return serveFake()
	}
	if *million {
		return measureMillion()
	}
	b, err := startBackend(0)
	if err != nil {
		return err
	}
	defer b.close()
	fmt.Printf("litewave-bench: %d series over %d tenants, concurrency %d, median of %d rounds (a ratio is the median of the rounds' ratios, not value/value); %s %s/%s, %d CPUs\n\n",
		*n, *tenants, *concurrency, *rounds, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())

	if *sweep != "" {
		if *latency > 0 {
			slow, err := startBackend(*latency)
			if err != nil {
				return err
			}
			defer slow.close()
			fmt.Printf("at %v backend latency, %d series:\n", *latency, *latencyN)
			if err := concurrencySweep(slow, *latencyN); err != nil {
				return err
			}
			fmt.Printf("\non loopback with no latency, %d series:\n", *n)
		}
		return concurrencySweep(b, *n)
	}
	if *only != "" {
		return measureOnly(b)
	}
	reqs := requests(*n, *tenants)
	rest := []litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafkaREST), litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: b.URL})}
	var exp, bare, bareNoTimeout, spool, meterLib, restRates []float64
	var perRequest float64
	var lookups [2]int64
	for round := range *rounds {
		// Odd rounds measure the bare client first, so that neither side
		// always runs on a warmer machine.
		if round%2 == 1 {
			r, err := bareDelivery(b, reqs, *concurrency, defaults.Timeout)
			if err != nil {
				return fmt.Errorf("bare client: %w", err)
			}
			bare = append(bare, r)
		}
		r, l, err := exporterDelivery(b, *n, *tenants, *concurrency, false)
		if err != nil {
			return fmt.Errorf("exporter: %w", err)
		}
		exp, lookups = append(exp, r), l
		if round%2 == 0 {
			if r, err = bareDelivery(b, reqs, *concurrency, defaults.Timeout); err != nil {
				return fmt.Errorf("bare client: %w", err)
			}
			bare = append(bare, r)
		}
		if r, err = bareDelivery(b, reqs, *concurrency, 0); err != nil {
			return fmt.Errorf("bare client: %w", err)
		}
		bareNoTimeout = append(bareNoTimeout, r)
		if r, _, err = exporterDelivery(b, *n, *tenants, *concurrency, true); err != nil {
			return fmt.Errorf("exporter with spool: %w", err)
		}
		spool = append(spool, r)
		if r, err = meterLibDelivery(b, reqs[:min(*meterLibSample, len(reqs))]); err != nil {
			return fmt.Errorf("meter-lib pattern: %w", err)
		}
		meterLib = append(meterLib, r)
		if r, _, err = exporterDelivery(b, *n, *tenants, *concurrency, false, rest...); err != nil {
			return fmt.Errorf("kafka-rest backend: %w", err)
		}
		restRates = append(restRates, r)
		perRequest = float64(b.records.Load()) / float64(b.produces.Load())
	}
	var slowExp, slowMeterLib []float64
	if *latency > 0 {
		slow, err := startBackend(*latency)
		if err != nil {
			return err
		}
		defer slow.close()
		slowReqs := requests(*latencyN, *tenants)
		for range *rounds {
			r, _, err := exporterDelivery(slow, *latencyN, *tenants, *concurrency, false)
			if err != nil {
				return fmt.Errorf("exporter at %v: %w", *latency, err)
			}
			slowExp = append(slowExp, r)
			if r, err = meterLibDelivery(slow, slowReqs[:min(*meterLibSample/4, len(slowReqs))]); err != nil {
				return fmt.Errorf("meter-lib pattern at %v: %w", *latency, err)
			}
			slowMeterLib = append(slowMeterLib, r)
		}
	}
	var kr kafkaRates
	var shape kafkaShape
	if *kafkaN > 0 {
		if kr, err = measureKafka(b, *kafkaN, *tenants, *concurrency, *rounds); err != nil {
			return err
		}
		if shape, err = measureShape(b, *kafkaN, *tenants, *concurrency); err != nil {
			return fmt.Errorf("records per produce request: %w", err)
		}
	}
	mem, err := owedMemory(*owed, *tenants, *concurrency)
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	idleTime, idleAllocs, idleRequests, err := idle(b, 1000)
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}

	mExp, mBare, mSpool, mMeterLib := median(exp), median(bare), median(spool), median(meterLib)
	meterLibRatio := pairedRatio(exp, meterLib)
	// Ratios are medians of each round's ratio, of two measurements made in
	// the same round: the machine's drift between rounds cancels out of them.
	expBare, expNoTimeout, spoolExp := pairedRatio(exp, bare), pairedRatio(exp, bareNoTimeout), pairedRatio(spool, exp)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "figure\tvalue\tratio\ttarget\t")
	fmt.Fprintf(w, "delivery, exporter\t%s events/s\t\t\t\n", count(mExp))
	fmt.Fprintf(w, "delivery, bare tuned net/http client\t%s events/s\t%.2f exporter/bare\t>= 0.90 %s\t\n", count(mBare), expBare, verdict(expBare >= 0.90))
	fmt.Fprintf(w, "  the same client, no per-request timeout\t%s events/s\t%.2f exporter/it\t\t\n", count(median(bareNoTimeout)), expNoTimeout)
	fmt.Fprintf(w, "delivery, meter-lib's access pattern\t%s events/s\t%.1fx exporter/meter-lib\t>= 50x %s\t\n", count(mMeterLib), meterLibRatio, verdict(meterLibRatio >= 50))
	if *latency > 0 {
		e, s, es := median(slowExp), median(slowMeterLib), pairedRatio(slowExp, slowMeterLib)
		fmt.Fprintf(w, "delivery at %v latency, exporter\t%s events/s\t\t\t\n", *latency, count(e))
		fmt.Fprintf(w, "delivery at %v latency, meter-lib's pattern\t%s events/s\t%.1fx exporter/meter-lib\t>= 50x %s\t\n", *latency, count(s), es, verdict(es >= 50))
	}
	fmt.Fprintf(w, "delivery, exporter with spool\t%s events/s\t%.2f spool/no spool\t>= 0.90 %s\t\n", count(mSpool), spoolExp, verdict(spoolExp >= 0.90))
	mRest := median(restRates)
	fmt.Fprintf(w, "delivery, kafka-rest backend (same fake)\t%s events/s\t%.1fx kafka-rest/events\t\t\n", count(mRest), pairedRatio(restRates, exp))
	fmt.Fprintf(w, "  records per produce request\t%.0f\tbatches of <= %d\t\t\n", perRequest, defaults.RESTMaxRecords)
	if *kafkaN > 0 {
		printKafka(w, *kafkaN, kr, shape)
	}
	fmt.Fprintf(w, "lookups, first collection\t%d\tfor %d tenants\tone per tenant %s\t\n", lookups[0], *tenants, verdict(lookups[0] == int64(*tenants)))
	fmt.Fprintf(w, "lookups, next collection\t%d\tfor %s events\tnone while cached %s\t\n", lookups[1], count(float64(*n)), verdict(lookups[1] == 0))
	fmt.Fprintf(w, "memory, %s series owed, backend down\t%.0f B/series\tlive heap\t<= 512 %s\t\n", count(float64(*owed)), mem, verdict(mem <= 512))
	fmt.Fprintf(w, "idle collection, requests\t%d\t\t0 %s\t\n", idleRequests, verdict(idleRequests == 0))
	fmt.Fprintf(w, "idle collection, time\t%v/export\t\t\t\n", idleTime.Round(10*time.Nanosecond))
	fmt.Fprintf(w, "idle collection, allocations\t%.0f/export\t\t\t\n", idleAllocs)
	return w.Flush()
}

// measureOnly runs one measurement for -rounds rounds, for profiling.
// flushProfiles reports whether -cpuprofile profiles each measured
// ForceFlush (-only kafka, kafka-txn) rather than the whole run.
func flushProfiles() bool { return *only == "kafka" || *only == "kafka-txn" }

func measureOnly(b *backend) error {
	reqs := requests(*n, *tenants)
	var rates []float64
	for round := range *rounds {
		var r float64
		var err error
		switch *only {
		case "exporter", "spool":
			r, _, err = exporterDelivery(b, *n, *tenants, *concurrency, *only == "spool")
		case "bare":
			r, err = bareDelivery(b, reqs, *concurrency, defaults.Timeout)
		case "meter-lib":
			r, err = meterLibDelivery(b, reqs[:min(*meterLibSample, len(reqs))])
		case "kafka", "kafka-txn", "kafka-export", "bare-kafka", "bare-kafka-txn":
			r, err = kafkaOnly(b, round)
		default:
			return fmt.Errorf("-only %q: want exporter, spool, bare, meter-lib, kafka, kafka-txn, kafka-export, bare-kafka or bare-kafka-txn", *only)
		}
		if err != nil {
			return err
		}
		rates = append(rates, r)
	}
	fmt.Printf("%s: %s events/s\n", *only, count(median(rates)))
	return nil
}

// concurrencySweep prints exporter and bare-client throughput at several
// concurrencies, to choose the default from.
func concurrencySweep(b *backend, n int) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "concurrency\texporter events/s\tbare client events/s\texporter/bare\t")
	reqs := requests(n, *tenants)
	for _, f := range strings.Split(*sweep, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("bad -sweep value %q", f)
		}
		var exp, bare []float64
		for range *rounds {
			r, _, err := exporterDelivery(b, n, *tenants, c, false)
			if err != nil {
				return err
			}
			exp = append(exp, r)
			if r, err = bareDelivery(b, reqs, c, defaults.Timeout); err != nil {
				return err
			}
			bare = append(bare, r)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%.2f\t\n", c, count(median(exp)), count(median(bare)), pairedRatio(exp, bare))
	}
	return w.Flush()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// pairedRatio is the median of a[i]/b[i].
func pairedRatio(a, b []float64) float64 {
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = a[i] / b[i]
	}
	return median(rs)
}

func count(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// deadEndpoint is a loopback address nothing listens on.
func deadEndpoint() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "http://127.0.0.1:9"
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}
