package main

import (
	"fmt"
	"io"
)

// kafkaRates are the Kafka rows' rates, one per round each.
type kafkaRates struct {
	flush, bare       []float64 // idempotent: a provider's ForceFlush, a bare ProduceSync
	txnFlush, bareTxn []float64 // transactional: the same, with a spool; a bare producer committing as many per transaction
	exportOnly        []float64 // the exporter's Export called directly, idempotent
	events            []float64 // the events API, the same collection
}

// measureKafka runs the Kafka rows for rounds rounds, each on a cluster of
// its own, the compared sides side by side, in alternating order so that
// neither always runs on a warmer machine.
func measureKafka(b *backend, n, tenants, concurrency, rounds int) (kafkaRates, error) {
	var kr kafkaRates
	for round := range rounds {
		if err := kafkaRound(&kr, b, n, tenants, concurrency, round%2 == 1); err != nil {
			return kr, err
		}
	}
	return kr, nil
}

// step is one measurement of a round, appended to into.
type step struct {
	name string
	run  func() (float64, error)
	into *[]float64
}

func kafkaRound(kr *kafkaRates, b *backend, n, tenants, concurrency int, bareFirst bool) error {
	c, err := kafkaCluster()
	if err != nil {
		return fmt.Errorf("kafka cluster: %w", err)
	}
	defer c.Close()
	commits := endTxns(c)
	var committed int64
	flush := func() (float64, error) { return kafkaFlush(b, c, n, tenants, concurrency, false, nil, "") }
	bare := func() (float64, error) { return bareKafka(c, n, tenants, nil) }
	txnFlush := func() (float64, error) {
		return kafkaFlush(b, c, n, tenants, concurrency, true, func() { committed = commits.Load() }, "")
	}
	// The bare transactional producer commits as many records per
	// transaction as the exporter just did.
	bareTxn := func() (float64, error) {
		perTxn := float64(n) / float64(max(1, commits.Load()-committed))
		return bareKafkaTxn(c, n, tenants, int(perTxn+0.5), nil)
	}
	steps := []step{
		{"kafka backend, ForceFlush", flush, &kr.flush},
		{"bare franz-go", bare, &kr.bare},
		{"kafka backend with transactions, ForceFlush", txnFlush, &kr.txnFlush},
		{"bare transactional franz-go", bareTxn, &kr.bareTxn},
	}
	if bareFirst {
		// Only the idempotent pair: the bare transactions' size comes
		// from the exporter's run before them.
		steps[0], steps[1] = steps[1], steps[0]
	}
	steps = append(steps,
		step{"kafka backend, Export only", func() (float64, error) { return kafkaDelivery(b, c, n, tenants, concurrency, nil) }, &kr.exportOnly},
		step{fmt.Sprintf("events API at %d series", n), func() (float64, error) {
			return steadyDelivery(b, n, tenants, concurrency, deliveredEvents, nil)
		}, &kr.events})
	for _, s := range steps {
		r, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		*s.into = append(*s.into, r)
	}
	return nil
}

// printKafka prints the Kafka rows of kr and sh into the bench's table.
func printKafka(w io.Writer, n int, kr kafkaRates, sh kafkaShape) {
	kb, tb := pairedRatio(kr.flush, kr.bare), pairedRatio(kr.txnFlush, kr.bareTxn)
	fmt.Fprintf(w, "kafka backend, ForceFlush of %s series (kfake, 3 brokers, storing)\t%s events/s\t\t\t\n", count(float64(n)), count(median(kr.flush)))
	fmt.Fprintf(w, "  records per produce request\t%.0f\t%d partitions, 3 brokers\t\t\n", sh.flush, kafkaPartitions)
	fmt.Fprintf(w, "  bare franz-go producer, same records, ProduceSync\t%s events/s\t%.2f kafka/bare\t>= 0.70 %s\t\n", count(median(kr.bare)), kb, verdict(kb >= 0.70))
	fmt.Fprintf(w, "    its records per produce request\t%.0f\t\t\t\n", sh.bare)
	fmt.Fprintf(w, "kafka backend with a spool (transactions), ForceFlush\t%s events/s\t%.2f txn/idempotent\t\t\n", count(median(kr.txnFlush)), pairedRatio(kr.txnFlush, kr.flush))
	fmt.Fprintf(w, "  records per produce request, per transaction\t%.0f, %.0f\t\t\t\n", sh.txnFlush, sh.perTxn)
	fmt.Fprintf(w, "  bare transactional franz-go producer, same transactions\t%s events/s\t%.2f kafka-txn/bare-txn\t>= 0.70 %s\t\n", count(median(kr.bareTxn)), tb, verdict(tb >= 0.70))
	fmt.Fprintf(w, "    its records per produce request\t%.0f\t\t\t\n", sh.bareTxn)
	ke := pairedRatio(kr.exportOnly, kr.events)
	fmt.Fprintf(w, "kafka backend, Export only (no SDK, no reader)\t%s events/s\t%.2f export-only/ForceFlush\t\t\n", count(median(kr.exportOnly)), pairedRatio(kr.exportOnly, kr.flush))
	fmt.Fprintf(w, "  events API, same collection, Export only\t%s events/s\t%.1fx kafka/events\t>= 10x %s\t\n", count(median(kr.events)), ke, verdict(ke >= 10))
}

// kafkaOnly measures the Kafka side -only names once, on a cluster of its
// own: the round-th time. A ForceFlush's CPU profile (-cpuprofile) is of
// the measured flush alone, one file per round, so that the first
// collection and the cluster's setup stay out of it.
func kafkaOnly(b *backend, round int) (float64, error) {
	c, err := kafkaCluster()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	switch *only {
	case "kafka", "kafka-txn":
		profile := ""
		if *cpuprofile != "" {
			profile = fmt.Sprintf("%s.%d", *cpuprofile, round)
		}
		return kafkaFlush(b, c, *kafkaN, *tenants, *concurrency, *only == "kafka-txn", nil, profile)
	case "kafka-export":
		return kafkaDelivery(b, c, *kafkaN, *tenants, *concurrency, nil)
	case "bare-kafka":
		return bareKafka(c, *kafkaN, *tenants, nil)
	default:
		return bareKafkaTxn(c, *kafkaN, *tenants, *kafkaTxnSize, nil)
	}
}
