package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// collectionSize is one path at one number of series.
type collectionSize struct {
	path string
	n    int
}

// measureMillion prints the million-series rows: one collection of
// -million-n series over a hundredth as many tenants, and of a tenth of
// them, through the REST Proxy and native Kafka; a tenth through the
// events API, one POST per event; and each size into a discarding
// exporter, the SDK's own heap, which the exporter's figures are beyond.
// Each round measures every row once, a figure is the median of the
// rounds and a ratio the median of the rounds' ratios.
func measureMillion() error {
	big, small := *millionN, *millionN/10
	tenants := max(1, big/100)
	sizes := []collectionSize{{toDiscard, small}, {toEvents, small}, {toKafkaREST, small}, {toKafka, small},
		{toDiscard, big}, {toKafkaREST, big}, {toKafka, big}}
	if *only != "" {
		if *only != toEvents && *only != toKafkaREST && *only != toKafka {
			return fmt.Errorf("-million -only %q: want events, kafka-rest or kafka", *only)
		}
		sizes = slices.DeleteFunc(sizes, func(s collectionSize) bool { return s.path != toDiscard && s.path != *only })
	}
	runs := map[collectionSize][]collectionRun{}
	for round := range *millionRounds {
		for _, s := range sizes {
			run, err := collectionOf(s.path, s.n, tenants)
			if err != nil {
				return fmt.Errorf("%s, %d series: %w", s.path, s.n, err)
			}
			fmt.Fprintf(os.Stderr, "round %d, %s, %d series: ForceFlush %v (CPU %v, fake's %v), peak %.0f MiB, live %.0f MiB\n",
				round+1, s.path, s.n, run.flush.Round(time.Millisecond), run.cpu.Round(time.Millisecond), run.fakeCPU.Round(time.Millisecond),
				run.peak/(1<<20), run.live/(1<<20))
			runs[s] = append(runs[s], run)
		}
	}
	fmt.Printf("litewave-bench -million: one collection (the second of the same series) of %s and %s series over %s tenants, billed exactly, fake backend in another process; median (range) of %d rounds\n\n",
		count(float64(big)), count(float64(small)), count(float64(tenants)), *millionRounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "figure\tvalue\tratio\ttarget\t")
	for _, n := range []int{small, big} {
		sdk := runs[collectionSize{toDiscard, n}]
		fmt.Fprintf(w, "SDK alone (discarding exporter), %s series\tpeak %s, live %s\tForceFlush %s\t\t\n", count(float64(n)),
			spread(sdk, func(r collectionRun) float64 { return r.peak / (1 << 20) }, 0, "MiB"),
			spread(sdk, func(r collectionRun) float64 { return r.live / (1 << 20) }, 0, "MiB"),
			spread(sdk, func(r collectionRun) float64 { return r.flush.Seconds() }, 2, "s"))
	}
	for _, path := range []string{toEvents, toKafkaREST, toKafka} {
		for _, n := range []int{small, big} {
			rs, ok := runs[collectionSize{path, n}]
			if !ok {
				continue
			}
			printCollection(w, path, n, rs, runs[collectionSize{toDiscard, n}], n == big)
			if n == big {
				ratio := pairedRatio(seconds(rs), seconds(runs[collectionSize{path, small}]))
				fmt.Fprintf(w, "  time, %s against %s series\t\t%.1fx\t<= 11x %s\t\n", count(float64(big)), count(float64(small)), ratio, verdict(ratio <= 11))
				cpu := pairedRatio(cpuSeconds(rs), cpuSeconds(runs[collectionSize{path, small}]))
				fmt.Fprintf(w, "  CPU of this process, %s against %s series\t\t%.1fx\t\t\n", count(float64(big)), count(float64(small)), cpu)
			}
		}
	}
	return w.Flush()
}

// printCollection prints the rows of one path at n series; beyond the
// SDK's figures, those of the same rounds into a discarding exporter. At
// the largest size the figures have targets.
func printCollection(w *tabwriter.Writer, path string, n int, rs, sdk []collectionRun, targets bool) {
	fmt.Fprintf(w, "%s, %s series, ForceFlush\t%s\tfirst collection %s\t\t\n", path, count(float64(n)),
		spread(rs, func(r collectionRun) float64 { return r.flush.Seconds() }, 2, "s"),
		spread(rs, func(r collectionRun) float64 { return r.first.Seconds() }, 2, "s"))
	fmt.Fprintf(w, "  CPU during it, this process and the fake's\t%s, %s\t\t\t\n",
		spread(rs, func(r collectionRun) float64 { return r.cpu.Seconds() }, 2, "s"),
		spread(rs, func(r collectionRun) float64 { return r.fakeCPU.Seconds() }, 2, "s"))
	peak := beyond(rs, sdk, n, func(r collectionRun) float64 { return r.peak })
	livePeak := beyond(rs, sdk, n, func(r collectionRun) float64 { return r.livePeak })
	live := beyond(rs, sdk, n, func(r collectionRun) float64 { return r.live })
	allocated := beyond(rs, sdk, n, func(r collectionRun) float64 { return r.allocated })
	peakTarget, liveTarget := "", ""
	if targets {
		peakTarget = "<= 512 " + verdict(median(peak) <= 512)
		liveTarget = "<= 400 " + verdict(median(live) <= 400)
	}
	fmt.Fprintf(w, "  heap peak during it, beyond the SDK's\t%s\t\t%s\t\n", spreadOf(peak, 0, "B/series"), peakTarget)
	fmt.Fprintf(w, "  the most a GC found live during it, beyond the SDK's\t%s\t\t\t\n", spreadOf(livePeak, 0, "B/series"))
	fmt.Fprintf(w, "  allocated during it, beyond the SDK's\t%s\t\t\t\n", spreadOf(allocated, 0, "B/series"))
	fmt.Fprintf(w, "  live heap after delivery, beyond the SDK's\t%s\t\t%s\t\n", spreadOf(live, 0, "B/series"), liveTarget)
}

// beyond is, per round, what of of rs is beyond the same of sdk, per
// series.
func beyond(rs, sdk []collectionRun, n int, of func(collectionRun) float64) []float64 {
	out := make([]float64, len(rs))
	for i := range rs {
		out[i] = (of(rs[i]) - of(sdk[i])) / float64(n)
	}
	return out
}

func seconds(rs []collectionRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.flush.Seconds()
	}
	return out
}

func cpuSeconds(rs []collectionRun) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.cpu.Seconds()
	}
	return out
}

// spread formats the median of of over rs, and its range.
func spread(rs []collectionRun, of func(collectionRun) float64, digits int, unit string) string {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = of(r)
	}
	return spreadOf(xs, digits, unit)
}

// spreadOf formats the median of xs, with digits after the point, and
// their range: "1.20 s (1.10–1.40)".
func spreadOf(xs []float64, digits int, unit string) string {
	m := strconv.FormatFloat(median(xs), 'f', digits, 64) + " " + unit
	if len(xs) < 2 {
		return m
	}
	return m + " (" + strconv.FormatFloat(slices.Min(xs), 'f', digits, 64) + "–" + strconv.FormatFloat(slices.Max(xs), 'f', digits, 64) + ")"
}
