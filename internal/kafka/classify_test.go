package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// lastErr wraps err the way franz-go reports a record that timed out
// while it kept retrying (producer.go waitUnknownTopic).
func lastErr(err error) error { return fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, err) }

// Each error franz-go can hand a promise gets the outcome the exporter
// acts on: Retry (config or not) or Rejected; none is lost as Delivered.
func TestClassifyTable(t *testing.T) {
	const (
		retry    = "retry"
		config   = "config"
		rejected = "rejected"
	)
	for want, errs := range map[string][]error{
		config: {
			kerr.UnknownTopicOrPartition,
			lastErr(kerr.UnknownTopicOrPartition),
			kerr.SaslAuthenticationFailed,
			lastErr(fmt.Errorf("%w: Authentication failed", kerr.SaslAuthenticationFailed)),
			kerr.IllegalSaslState,
			kerr.UnsupportedSaslMechanism,
			&saslError{errors.New("server signature mismatch")},
		},
		rejected: {
			fmt.Errorf("%w (uncompressed_bytes=2000000)", kerr.MessageTooLarge),
			kerr.InvalidRecord,
			kerr.TopicAuthorizationFailed,
			kerr.ClusterAuthorizationFailed,
			kerr.InvalidTimestamp,
			kerr.PolicyViolation,
			kerr.InvalidRequiredAcks,
			kerr.CorruptMessage, // retriable for kerr, failed at once by franz-go
		},
		retry: {
			kerr.NotLeaderForPartition,
			kerr.RequestTimedOut,
			kerr.NotEnoughReplicas,
			kgo.ErrRecordTimeout,
			lastErr(io.EOF),
			lastErr(kerr.TopicAuthorizationFailed), // a timeout, whatever came before it
			kgo.ErrRecordRetries,
			kgo.ErrClientClosed,
			kgo.ErrMaxBuffered,
			kgo.ErrAborting,
			context.Canceled,
			context.DeadlineExceeded,
			kerr.OutOfOrderSequenceNumber, // producer state, not the record
			kerr.UnknownProducerID,
			kerr.UnknownServerError, // the broker failed, not the record
			&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
			io.ErrUnexpectedEOF,
		},
	} {
		for _, err := range errs {
			b := &Backend{topic: topic}
			ev := events(1, 1)[0]
			o := b.failure(&ev, err)
			assert.ErrorIs(t, o.Err, err)
			assert.Contains(t, o.Err.Error(), "kafka produce to topic "+topic+" (event "+ev.ID.String()+"): ")
			switch want {
			case config:
				assert.Equal(t, usage.Retry, o.Result, "%v", err)
				assert.True(t, usage.IsConfig(o.Err), "%v", err)
			case rejected:
				assert.Equal(t, usage.Rejected, o.Result, "%v", err)
				assert.False(t, usage.IsConfig(o.Err), "%v", err)
			case retry:
				assert.Equal(t, usage.Retry, o.Result, "%v", err)
				assert.False(t, usage.IsConfig(o.Err), "%v", err)
			}
		}
	}
}

// A delivered record answers where it landed, as JSON.
func TestDeliveredAnswersTopicPartitionOffset(t *testing.T) {
	b := &Backend{topic: topic}
	ev := events(1, 1)[0]
	o, _ := b.classify(&ev, &kgo.Record{Topic: topic, Partition: 4, Offset: 1234}, nil, nil)
	assert.Equal(t, usage.Delivered, o.Result)
	assert.NoError(t, o.Err)
	assert.JSONEq(t, `{"topic":"usage-events","partition":4,"offset":1234}`, string(o.Answer))
}

// Once the broker closed a connection on our credentials, a record that
// timed out is blamed on them, until a request after authentication
// succeeds; before that it is an outage.
func TestClosedOnCredentialsBlamesThemForTimeouts(t *testing.T) {
	b := &Backend{topic: topic}
	ev := events(1, 1)[0]
	timeout := lastErr(io.EOF)
	assert.False(t, usage.IsConfig(b.failure(&ev, timeout).Err))

	b.auth.OnBrokerRead(kgo.BrokerMetadata{}, 36, 0, 0, 0, io.EOF)
	o := b.failure(&ev, timeout)
	assert.Equal(t, usage.Retry, o.Result)
	assert.True(t, usage.IsConfig(o.Err))
	assert.Contains(t, o.Err.Error(), "closed the connection when sent the SASL credentials")
	assert.False(t, usage.IsConfig(b.failure(&ev, context.Canceled).Err), "shutting down is not the credentials' fault")

	b.auth.OnBrokerRead(kgo.BrokerMetadata{}, 36, 40, 0, 0, nil) // SCRAM's first round trip
	assert.True(t, usage.IsConfig(b.failure(&ev, timeout).Err))
	b.auth.OnBrokerRead(kgo.BrokerMetadata{}, 3, 400, 0, 0, nil) // a metadata answer: authenticated
	assert.False(t, usage.IsConfig(b.failure(&ev, timeout).Err))
}
