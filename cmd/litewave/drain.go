package main

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/aiorch/litewavemetric"
)

func spoolDrain(ctx context.Context, out *output, args []string) error {
	f := newFlags("spool drain", "litewave spool drain DIR [--timeout 2m]", `
Delivers what the spool in DIR holds as the exporter that wrote it would
have, with the same idempotency keys and bytes, through the backend the
LITEWAVE_* variables configure. Run it, from any machine, on the
LITEWAVE_SPOOL_DIR of a replica that is gone (never while an exporter
holds it). It exits 0 only when the spool is left empty; otherwise it
prints what stays in the spool, for another drain or the next exporter.

Usage the backend rejected is sent again, as a restarted exporter sends
it (none of it was recorded); usage rejected again stays in the spool,
rejected, and the drain exits 1.`)
	timeout := f.duration("timeout", 2*time.Minute, "how long to keep delivering, a `duration`; what is not delivered by then stays in the spool")
	pos, err := f.parse(args, "DIR")
	if err != nil {
		return err
	}
	dir := pos[0]
	before, err := inspect(dir)
	if err != nil {
		return err
	}
	if before.empty() {
		before.print(out.stdout, dir)
		return nil
	}

	// Outages and rejections are reported through otel.Handle as they
	// happen; they belong on stderr, as the drain's own diagnostics.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { fmt.Fprintf(out.stderr, "litewave: %v\n", err) }))
	exp, err := litewavemetric.New(ctx, litewavemetric.WithSpoolDir(dir))
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stdout, "draining %d units owed and %d rejected from %s through %s, for up to %v\n",
		before.owedUnits, before.rejectedUnits, dir, backendName(), *timeout)
	deliver, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	flushErr := exp.ForceFlush(deliver)
	// Within the same deadline: once it has passed, Shutdown only writes
	// what is left to the spool. Its error is the last word on what is
	// left; the flush's says the same, unless Shutdown found nothing.
	why := exp.Shutdown(deliver)
	if why == nil {
		why = flushErr
	}
	st := exp.Stats()

	after, err := inspect(dir)
	if err != nil {
		return fmt.Errorf("after the drain: %w", err)
	}
	fmt.Fprintf(out.stdout, "delivered %d units in %d events\n", st.DeliveredUnits, st.DeliveredEvents)
	after.print(out.stdout, dir)
	if after.empty() {
		return nil
	}
	err = fmt.Errorf("spool drain %s: %d units owed and %d rejected stay in the spool; drain again once the backend takes them",
		dir, after.owedUnits, after.rejectedUnits)
	if why != nil {
		err = fmt.Errorf("%w: %w", err, why)
	}
	return err
}
