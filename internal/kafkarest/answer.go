package kafkarest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Per-record error codes of Confluent's proxy that are not simply retried
// (as 50003, the legacy 2 and any unknown code are).
const (
	codeKafkaError     = 50002 // a non-retriable Kafka exception, e.g. the record is too large
	codeLegacyFatal    = 1     // "non-retriable" in its documentation until 2019
	codeRetriable      = 50003 // a retriable Kafka exception, e.g. a topic missing from metadata
	codeAuthentication = 40101
	codeAuthorization  = 40301
)

// codeUnknownTopic is Kafka's UNKNOWN_TOPIC_OR_PARTITION, which Redpanda
// answers for a topic that does not exist.
const codeUnknownTopic = 3

// aclFix is the fix of a record refused by the proxy's own Kafka client.
const aclFix = "the REST Proxy's Kafka credentials or ACLs refused the record: check the proxy's configuration"

// entry is one element of "offsets": the raw values of the keys it reads,
// nil where absent (whether "error" is present tells the two proxies
// apart), each a slice of the answer's body.
type entry struct {
	partition, offset, errorCode, error json.RawMessage
}

// field returns e's raw value of key, and whether e has the key.
func (e *entry) field(key string) (json.RawMessage, bool) {
	var raw json.RawMessage
	switch key {
	case "partition":
		raw = e.partition
	case "offset":
		raw = e.offset
	case "error_code":
		raw = e.errorCode
	case "error":
		raw = e.error
	}
	return raw, raw != nil
}

// parseAnswer sets out to the outcomes of the records of a 2xx answer,
// which were batch[first:]. An answer that cannot be read per record makes
// every record go again (resend).
func (b *Backend) parseAnswer(first int, body []byte, out []usage.Outcome) {
	if err := b.readAnswer(first, body, out); err != nil {
		b.resend(out, fmt.Errorf("%w: %.64q", err, body))
	}
}

// resend makes every record of a 2xx answer that cannot be read per
// record (not JSON, not the proxy's shape, offsets that do not match the
// records, a body too large or cut short) go again, same keys and bytes.
// A possible duplicate rather than a possible loss, because:
//   - a 200 is not delivery here: Confluent's proxy answers each record's
//     failure (50002, 50003, ...) inside a 200, so taking an unread answer
//     for delivery could drop records the proxy refused, unbilled for good;
//   - a duplicate costs consumers of this path nothing: they deduplicate
//     by key already, as a crash can repeat records (REST Proxy v2 has no
//     transactions).
//
// It is reported: the error travels with each Retry outcome, so the
// exporter reports an outage naming it for as long as it lasts.
func (b *Backend) resend(out []usage.Outcome, err error) {
	o := usage.Outcome{Result: usage.Retry,
		Err: fmt.Errorf("%s to topic %s: unreadable answer, sent again: %w", op, b.topic, err)}
	for i := range out {
		out[i] = o
	}
}

// entryBuffers hold the entries of answers, reused from one answer to the
// next.
var entryBuffers = sync.Pool{New: func() any { return new([]entry) }}

func (b *Backend) readAnswer(first int, body []byte, out []usage.Outcome) error {
	buf := entryBuffers.Get().(*[]entry)
	defer entryBuffers.Put(buf)
	*buf = slices.Grow((*buf)[:0], len(out))
	// The entries are slices of an answer whose buffer is reused: cleared,
	// the pool keeps no old answer.
	defer clear((*buf)[:cap(*buf)])
	entries, err := readOffsets(body, *buf)
	if err != nil {
		return err
	}
	if len(entries) == 0 && len(out) > 0 {
		return errors.New(`"offsets" is empty`)
	}
	if perRecord(entries, len(out)) {
		return b.readConfluent(first, entries, out)
	}
	return b.readRedpanda(entries, out)
}

// perRecord reports whether the answer is Confluent's, one entry per
// record in request order, each with an "error". Redpanda's has one entry
// per partition and no "error".
func perRecord(entries []entry, records int) bool {
	if len(entries) != records {
		return false
	}
	for i := range entries {
		if entries[i].error == nil {
			return false
		}
	}
	return true
}

func (b *Backend) readConfluent(first int, entries []entry, out []usage.Outcome) error {
	// One buffer holds the answers of all delivered records.
	answers := make([]byte, 0, len(entries)*(48+len(b.topic)))
	for i := range entries {
		r, err := readRecord(&entries[i])
		if err != nil {
			return fmt.Errorf("record %d: %w", first+i, err)
		}
		if !r.delivered {
			out[i] = b.recordOutcome(first+i, r.code, r.msg)
			continue
		}
		start := len(answers)
		answers = append(answers, `{"topic":`...)
		answers = usage.AppendString(answers, b.topic)
		answers = append(answers, `,"partition":`...)
		answers = strconv.AppendInt(answers, r.partition, 10)
		answers = append(answers, `,"offset":`...)
		answers = strconv.AppendInt(answers, r.offset, 10)
		answers = append(answers, '}')
		out[i] = usage.Outcome{Result: usage.Delivered, Answer: answers[start:len(answers):len(answers)]}
	}
	return nil
}

// recordEntry is what a Confluent entry says of its record.
type recordEntry struct {
	delivered               bool // error_code is null
	code, partition, offset int64
	msg                     string
}

// readRecord reads a Confluent entry: every key present; on success
// error_code and "error" null, partition and offset integers; on failure
// an integer error_code.
func readRecord(e *entry) (recordEntry, error) {
	var r recordEntry
	var err error
	var partitionNull, offsetNull bool
	if r.code, r.delivered, err = nullableInt(e, "error_code"); err != nil {
		return r, err
	}
	if r.msg, err = nullableString(e, "error"); err != nil {
		return r, err
	}
	if r.partition, partitionNull, err = nullableInt(e, "partition"); err != nil {
		return r, err
	}
	if r.offset, offsetNull, err = nullableInt(e, "offset"); err != nil {
		return r, err
	}
	if r.delivered && (partitionNull || offsetNull || r.msg != "") {
		return r, errors.New("no error_code, but no partition and offset, or an error")
	}
	return r, nil
}

// recordOutcome classifies a Confluent per-record error code. Only 50002
// (and the legacy 1) is final; any code not known is retried, never taken
// for success nor dropped.
func (b *Backend) recordOutcome(record int, code int64, msg string) usage.Outcome {
	err := fmt.Errorf("%s to topic %s: record %d: error %d%s", op, b.topic, record, code, detail(msg))
	switch code {
	case codeKafkaError, codeLegacyFatal:
		return usage.Outcome{Result: usage.Rejected, Err: err}
	case codeAuthentication, codeAuthorization:
		err = usage.Misconfigured(err, aclFix)
	case codeRetriable:
		// Confluent waits for a missing topic's metadata, then fails every
		// record with 50003 in a 200 answer: retrying will not create it.
		if strings.Contains(msg, "not present in metadata") {
			err = b.missingTopic(err)
		}
	}
	return usage.Outcome{Result: usage.Retry, Err: err}
}

// readRedpanda reads an answer of one entry per partition. Which record
// went to which partition is not said, so a failed partition fails the
// whole request: it is resent with the same keys, and a consumer dedupes.
func (b *Backend) readRedpanda(entries []entry, out []usage.Outcome) error {
	if len(entries) > len(out) {
		return fmt.Errorf(`%d "offsets" for %d records`, len(entries), len(out))
	}
	var failed *partitionError
	for i := range entries {
		f, err := readPartition(&entries[i])
		if err != nil {
			return err
		}
		// The first failure is reported, unless a later one says the topic
		// is unknown: that one has a fix.
		if f.failed() && (failed == nil || f.code == codeUnknownTopic && failed.code != codeUnknownTopic) {
			failed = &f
		}
	}
	if failed != nil {
		err := fmt.Errorf("%s to topic %s: partition %d: error %d%s (the proxy does not say which records that partition had: all %d are sent again)",
			op, b.topic, failed.partition, failed.code, detail(failed.msg), len(out))
		if failed.code == codeUnknownTopic {
			err = b.missingTopic(err)
		}
		o := usage.Outcome{Result: usage.Retry, Err: err}
		for i := range out {
			out[i] = o
		}
		return nil
	}
	// A partition gives only the base offset of its records.
	answer := append([]byte(`{"topic":`), nil...)
	answer = usage.AppendString(answer, b.topic)
	answer = append(answer, '}')
	for i := range out {
		out[i] = usage.Outcome{Result: usage.Delivered, Answer: answer[:len(answer):len(answer)]}
	}
	return nil
}

// partitionError is what a Redpanda entry says of its partition.
type partitionError struct {
	partition, code int64
	msg             string
}

func (p *partitionError) failed() bool { return p.code != 0 || p.msg != "" }

// readPartition reads a Redpanda entry: an integer partition and offset,
// and an error_code only on failure. Redpanda sends no "error"; one that
// says something is a failure whatever the code.
func readPartition(e *entry) (partitionError, error) {
	var p partitionError
	var err error
	if p.partition, err = requiredInt(e, "partition"); err != nil {
		return p, err
	}
	if _, err = requiredInt(e, "offset"); err != nil {
		return p, fmt.Errorf("partition %d: %w", p.partition, err)
	}
	if e.errorCode != nil {
		if p.code, err = requiredInt(e, "error_code"); err != nil {
			return p, fmt.Errorf("partition %d: %w", p.partition, err)
		}
	}
	if e.error != nil {
		if p.msg, err = nullableString(e, "error"); err != nil {
			return p, fmt.Errorf("partition %d: %w", p.partition, err)
		}
	}
	return p, nil
}

// detail quotes a proxy's error message, if it gave one.
func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + strconv.Quote(msg)
}

func (b *Backend) missingTopic(err error) error {
	return usage.Misconfigured(err, "topic "+b.topic+" does not exist: create it, or set LITEWAVE_KAFKA_TOPIC (KafkaConfig.Topic)")
}

// nullableInt reads e[key], which must be present and null or an integer.
func nullableInt(e *entry, key string) (v int64, null bool, err error) {
	raw, ok := e.field(key)
	if !ok {
		return 0, false, fmt.Errorf("no %q", key)
	}
	if string(raw) == "null" {
		return 0, true, nil
	}
	v, err = integer(raw)
	if err != nil {
		return 0, false, fmt.Errorf("%q: %w", key, err)
	}
	return v, false, nil
}

// requiredInt reads e[key], which must be an integer.
func requiredInt(e *entry, key string) (int64, error) {
	v, null, err := nullableInt(e, key)
	if err == nil && null {
		err = fmt.Errorf("%q is null", key)
	}
	return v, err
}

// nullableString reads e[key], which must be present and null or a
// string.
func nullableString(e *entry, key string) (string, error) {
	raw, ok := e.field(key)
	if !ok {
		return "", fmt.Errorf("no %q", key)
	}
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%q is not a string", key)
	}
	return s, nil
}

// integer reads a JSON number that is a whole int64, written as an
// integer or as a float (50003, 50003.0, 5.0003e4): a fraction, or a value
// out of range, is not a code or an offset.
func integer(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, fmt.Errorf("%.20s is not a number", raw)
	}
	s := string(raw)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%.20s is not a whole int64", raw)
	}
	return int64(f), nil
}
