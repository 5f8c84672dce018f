package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deliveryTimeout bounds how long franz-go keeps a record it cannot
// deliver. franz-go's default is forever, which would hide an outage from
// the exporter; past this the record fails with kgo.ErrRecordTimeout, and
// only where failing it is safe for the idempotent sequence.
const deliveryTimeout = 30 * time.Second

// clientOpts maps cfg to franz-go options. Acks=all and idempotent writes
// are franz-go's defaults and stay so; batching and linger are left to it.
func clientOpts(cfg *Config, auth *authWatch, conns *connWatch) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("litewavemetric"), // names the exporter in broker logs and quotas
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.WithHooks(conns),
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	m, err := cfg.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		conns.auth = auth
		opts = append(opts, kgo.SASL(m), kgo.WithHooks(auth))
	}
	return append(opts, cfg.Extra...), nil
}

// probeExtra refuses franz-go options that would undo transactions, and
// returns the partitioner they set, or franz-go's default.
func probeExtra(extra []kgo.Opt) (kgo.Partitioner, error) {
	probe, err := kgo.NewClient(extra...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	defer probe.Close()
	var refused []string
	if v := probe.OptValues(kgo.TransactionalID); len(v) == 2 && v[1] == true {
		refused = append(refused, "TransactionalID")
	}
	if probe.OptValue(kgo.DisableIdempotentWrite) == true {
		refused = append(refused, "DisableIdempotentWrite")
	}
	if d, ok := probe.OptValue(kgo.TransactionTimeout).(time.Duration); ok && d != defaultKgoTxnTimeout {
		refused = append(refused, "TransactionTimeout")
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("kafka: KafkaConfig.Options carries %s, which transactions set themselves: "+
			"use LITEWAVE_KAFKA_TRANSACTION_TIMEOUT (KafkaTransactions.Timeout), or set LITEWAVE_KAFKA_TRANSACTIONS=false",
			strings.Join(refused, ", "))
	}
	p, ok := probe.OptValue(kgo.RecordPartitioner).(kgo.Partitioner)
	if !ok {
		return nil, errors.New("kafka: no record partitioner")
	}
	return p, nil
}

// defaultKgoTxnTimeout is franz-go's default transaction timeout: a probe
// client showing another one was given TransactionTimeout.
const defaultKgoTxnTimeout = 40 * time.Second

// checkpointPartitioner sends checkpoints to their fixed partition, so that
// partitions added to the checkpoint topic never move them, and partitions
// every other record as inner does.
type checkpointPartitioner struct {
	inner kgo.Partitioner
	topic string
}

func (p checkpointPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.topic {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.inner.ForTopic(topic)
}
