package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

const saslFix = "check LITEWAVE_KAFKA_SASL_MECHANISM, LITEWAVE_KAFKA_SASL_USERNAME and LITEWAVE_KAFKA_SASL_PASSWORD"

// rejectedErrs are the broker's answers that condemn the record itself:
// franz-go does not retry them and sending the same bytes again cannot
// help. CORRUPT_MESSAGE is among them although kerr calls it retriable,
// because franz-go's sink fails it at once.
var rejectedErrs = []error{
	kerr.MessageTooLarge,
	kerr.InvalidRecord,
	kerr.TopicAuthorizationFailed,
	kerr.ClusterAuthorizationFailed,
	kerr.InvalidTimestamp,
	kerr.PolicyViolation,
	kerr.InvalidRequiredAcks,
	kerr.CorruptMessage,
}

// transientErrs end a record's attempt without saying anything about the
// record: franz-go gave up for now (timeout, retry limit, closing, a full
// buffer) and the same bytes may well go through later. They come before
// the kerr checks because franz-go wraps the last broker error in them.
var transientErrs = []error{
	kgo.ErrRecordTimeout,
	kgo.ErrRecordRetries,
	kgo.ErrClientClosed,
	kgo.ErrMaxBuffered,
	kgo.ErrAborting,
	context.Canceled,
	context.DeadlineExceeded,
	// The broker failed, not the record: kerr calls it not retriable, but
	// the same bytes may well go through once the broker recovers.
	kerr.UnknownServerError,
}

// gaveUpErrs are franz-go giving up on a record it kept retrying.
var gaveUpErrs = []error{kgo.ErrRecordTimeout, kgo.ErrRecordRetries}

// producerStateErrs are about the client's producer id and sequence
// numbers, not about the record: franz-go resets its producer id, and
// only fails records with them when asked to stop on data loss.
var producerStateErrs = []error{
	kerr.OutOfOrderSequenceNumber,
	kerr.UnknownProducerID,
	kerr.InvalidProducerEpoch,
	kerr.InvalidProducerIDMapping,
}

// classify turns what franz-go reported for ev's record into an outcome.
// A delivered record's answer is appended to answers, which it returns.
func (b *Backend) classify(ev *usage.Event, rec *kgo.Record, err error, answers []byte) (usage.Outcome, []byte) {
	if err == nil {
		start := len(answers)
		answers = appendAnswer(answers, rec)
		return usage.Outcome{Result: usage.Delivered, Answer: answers[start:len(answers):len(answers)]}, answers
	}
	return b.failure(ev, err), answers
}

// failure classifies an error franz-go reported for ev's record.
func (b *Backend) failure(ev *usage.Event, err error) usage.Outcome {
	err = b.named(ev, err)
	switch {
	case isSASL(err):
		return usage.Outcome{Result: usage.Retry, Err: usage.Misconfigured(err, saslFix)}
	case b.auth.closed.Load() && isAny(err, gaveUpErrs):
		err = fmt.Errorf("%w (the broker closed the connection when sent the SASL credentials)", err)
		return usage.Outcome{Result: usage.Retry, Err: usage.Misconfigured(err, saslFix)}
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		// franz-go only reports it after UnknownTopicRetries metadata
		// answers without the topic, so the topic is missing, not moving.
		return usage.Outcome{Result: usage.Retry, Err: usage.Misconfigured(err,
			"topic "+b.topic+" does not exist: create it, or set LITEWAVE_KAFKA_TOPIC (KafkaConfig.Topic)")}
	case isAny(err, transientErrs), isAny(err, producerStateErrs):
		return usage.Outcome{Result: usage.Retry, Err: err}
	case isAny(err, rejectedErrs), !kerr.IsRetriable(err) && isKerr(err):
		return usage.Outcome{Result: usage.Rejected, Err: err}
	default: // retriable kerr errors, broker and network errors
		return usage.Outcome{Result: usage.Retry, Err: err}
	}
}

// unfinished is the outcome of a record whose promise had not fired when
// ctx ended: it may yet be delivered, so it is Retry whatever cause says.
func (b *Backend) unfinished(ev *usage.Event, cause error) usage.Outcome {
	return usage.Outcome{Result: usage.Retry, Err: b.named(ev, cause)}
}

// named makes err name the topic and the record, as reports need.
func (b *Backend) named(ev *usage.Event, err error) error {
	return fmt.Errorf("kafka produce to topic %s (event %s): %w", b.topic, ev.ID, err)
}

func isSASL(err error) bool {
	var se *saslError
	return errors.As(err, &se) ||
		errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism)
}

func isKerr(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// appendAnswer appends the broker's answer for a delivered record:
// {"topic":"…","partition":P,"offset":O}.
func appendAnswer(dst []byte, rec *kgo.Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = usage.AppendString(dst, rec.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(rec.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, rec.Offset, 10)
	return append(dst, '}')
}
