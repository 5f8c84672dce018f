package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/redact"
	"github.com/aiorch/litewavemetric/internal/spool"
)

// Usage states as inspect prints them.
const (
	stateOwed     = "owed"     // owed: a frozen event and open usage, sent when an exporter runs
	stateRejected = "rejected" // the backend refused it; kept until sent again
)

// holding is a series' usage in one state.
type holding struct {
	key    outbox.Key
	units  int64
	state  string
	reason string // why it was rejected
}

// holdings is what a spool holds, as an operator reads it.
type holdings struct {
	rows                       []holding
	owedUnits, rejectedUnits   int64
	owedSeries, rejectedSeries int
	fractionSeries             int     // series carrying less than one unit
	fractionUnits              float64 // not billed until it adds up to a unit
	streams                    int     // cumulative streams' state: not usage
	unreadable                 int
}

func summarize(in spool.Inspection) holdings {
	owed := map[outbox.Key]int64{}
	for _, e := range in.Events {
		owed[e.Key] += e.Units
	}
	h := holdings{streams: len(in.Streams), unreadable: in.Unreadable}
	for _, o := range in.Opens {
		if o.Units > 0 {
			owed[o.Key] += o.Units
		}
		if !o.Rem.IsZero() {
			h.fractionSeries++
			h.fractionUnits += o.Rem.Value()
		}
	}
	for k, units := range owed {
		h.rows = append(h.rows, holding{key: k, units: units, state: stateOwed})
		h.owedUnits += units
	}
	h.owedSeries = len(owed)
	// Reasons a 0.1 exporter stored were never scrubbed.
	scrub := redact.NewScrubber(env(config.APIKey.Env), env(config.KafkaSASLPassword.Env))
	for _, p := range in.Rejected {
		h.rows = append(h.rows, holding{key: p.Key, units: p.Units, state: stateRejected, reason: scrub.String(p.Reason)})
		h.rejectedUnits += p.Units
		h.rejectedSeries++
	}
	slices.SortFunc(h.rows, func(a, b holding) int {
		return cmp.Or(cmp.Compare(a.key.Tenant, b.key.Tenant), cmp.Compare(a.key.Device, b.key.Device),
			cmp.Compare(a.key.Meter, b.key.Meter), cmp.Compare(a.state, b.state))
	})
	return h
}

// empty reports whether no usage is left to bill. A fraction below one
// unit does not count: it is never billed on its own.
func (h holdings) empty() bool { return len(h.rows) == 0 }

// series counts the series with usage, owed or rejected or both.
func (h holdings) series() int {
	keys := map[outbox.Key]bool{}
	for _, r := range h.rows {
		keys[r.key] = true
	}
	return len(keys)
}

func (h holdings) print(w io.Writer, dir string) {
	if h.empty() {
		fmt.Fprintf(w, "spool %s holds no usage: nothing owed, nothing rejected\n", dir)
	} else {
		fmt.Fprintf(w, "spool %s holds usage of %d series:\n", dir, h.series())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tDEVICE\tMETER\tUNITS\tSTATE")
		for _, r := range h.rows {
			state := r.state
			if r.reason != "" {
				state += ": " + r.reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.key.Tenant, r.key.Device, r.key.Meter, r.units, state)
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "total: %d units owed in %d series; %d units rejected in %d series\n",
			h.owedUnits, h.owedSeries, h.rejectedUnits, h.rejectedSeries)
	}
	if h.fractionSeries > 0 {
		fmt.Fprintf(w, "carried: fractions below one unit in %d series (%.4g units in all), billed once a series' fraction adds up to a unit\n",
			h.fractionSeries, h.fractionUnits)
	}
	if h.streams > 0 {
		fmt.Fprintf(w, "kept: the last values of %d cumulative streams, so that the next exporter bills only their growth\n", h.streams)
	}
	if h.unreadable > 0 {
		fmt.Fprintf(w, "unreadable: %d records fail their checksum and are not shown; the next exporter on this spool drops them and keeps the damaged file beside it\n",
			h.unreadable)
	}
}
