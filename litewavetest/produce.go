package litewavetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"
)

const (
	kafkaJSONType   = "application/vnd.kafka.json.v2+json" // the json embedded format
	kafkaAnswerType = "application/vnd.kafka.v2+json"
	maxProduceBody  = 4 << 20
	maxRecordValue  = 64 << 10
)

// Per-record error codes. The REST Proxy's come from rest-utils'
// KafkaExceptionMapper; the Kafka protocol's are what Redpanda forwards.
const (
	restKafkaError               = 50002 // a non-retriable KafkaException
	restRetriableError           = 50003 // a RetriableException
	kafkaUnknownTopicOrPartition = 3
	kafkaMessageTooLarge         = 10
	kafkaInvalidRecord           = 87
)

// topicLog is what the server keeps of one topic.
type topicLog struct {
	name string
	next [partitions]int64 // next offset per partition
	keys map[string][]byte // record key -> value of its first accepted record
}

// wireRecord is one record of a produce body.
type wireRecord struct {
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition *int32          `json:"partition"`
}

// recordIn is one record of a produce request on its way through the checks.
type recordIn struct {
	key, value []byte // compacted JSON; key is nil for a keyless record
	partition  int32
	series     Series
	customer   string
	usage      int64
	fail       failure // zero while the record passes
	conflict   bool
	dup        bool
	offset     int64
}

// failure is a per-record error in the server's answer form: a REST Proxy
// code, or a Kafka protocol code with WithRedpandaAnswers.
type failure struct {
	code int
	msg  string
}

func (s *Server) failure(restCode, kafkaCode int, msg string) failure {
	if s.redpanda {
		return failure{kafkaCode, msg}
	}
	return failure{restCode, msg}
}

func (s *Server) produce(topic string, w http.ResponseWriter, r *http.Request, now time.Time, pre *bodyResult) reply {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != kafkaJSONType {
		return s.rejectProduce(http.StatusUnsupportedMediaType, "HTTP 415 Unsupported Media Type")
	}
	body, err := pre.body(w, r, maxProduceBody)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return s.rejectProduce(http.StatusRequestEntityTooLarge, "request body larger than 4 MiB")
		}
		return s.rejectProduce(http.StatusBadRequest, "reading body: "+err.Error())
	}
	wire, status, msg := parseProduce(body)
	if msg != "" {
		return s.rejectProduce(status, msg)
	}
	if s.topicSet != nil && !s.topicSet[topic] {
		return s.answer(s.missingTopic(topic, wire))
	}
	recs := s.prepare(wire)
	s.applyRecordFaults(topic, recs)
	s.mu.Lock()
	s.commitLocked(topic, recs, now)
	s.mu.Unlock()
	return s.answer(recs)
}

func (s *Server) rejectProduce(status int, msg string) reply {
	s.mu.Lock()
	s.stats.Rejected++
	s.mu.Unlock()
	return kafkaErrReply(status, msg)
}

// kafkaErrReply is rest-utils' ErrorMessage, which Redpanda mimics:
// {"error_code":<HTTP status>,"message":"…"}.
func kafkaErrReply(status int, msg string) reply {
	b, _ := json.Marshal(struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{status, msg})
	return reply{status: status, body: b, contentType: kafkaAnswerType}
}

// parseProduce decodes a produce body. A syntax error is a 400; an empty
// body (which JAX-RS reads as null), a body of the wrong shape or without
// records is a 422, as rest-utils maps Jackson's parse and mapping errors
// and bean validation.
func parseProduce(body []byte) ([]wireRecord, int, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, http.StatusUnprocessableEntity, "request body is empty"
	}
	var req struct {
		Records []wireRecord `json:"records"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return nil, http.StatusBadRequest, "invalid JSON body: " + err.Error()
		}
		return nil, http.StatusUnprocessableEntity, err.Error()
	}
	if len(req.Records) == 0 {
		return nil, http.StatusUnprocessableEntity, "records may not be empty"
	}
	return req.Records, 0, ""
}

// missingTopic fails every record as a proxy does for a topic that does not
// exist: the Java producer times out waiting for metadata (retriable), and
// Redpanda puts records without a partition on partition 0.
func (s *Server) missingTopic(topic string, wire []wireRecord) []recordIn {
	f := s.failure(restRetriableError, kafkaUnknownTopicOrPartition,
		"Topic "+topic+" not present in metadata after 60000 ms.")
	recs := make([]recordIn, len(wire))
	for i, wr := range wire {
		recs[i] = recordIn{fail: f, offset: -1}
		if wr.Partition != nil {
			recs[i].partition = *wr.Partition
		}
	}
	s.mu.Lock()
	s.stats.RecordErrors += int64(len(recs))
	s.mu.Unlock()
	return recs
}

// prepare makes the stored form of each record (compacted JSON, as the
// proxy re-serializes it) and runs the checks that need no server state.
func (s *Server) prepare(wire []wireRecord) []recordIn {
	recs := make([]recordIn, len(wire))
	for i, wr := range wire {
		rec := &recs[i]
		rec.key, rec.value = compactJSON(wr.Key), compactJSON(wr.Value)
		rec.partition = partitionOf(rec.key)
		if wr.Partition != nil {
			rec.partition = *wr.Partition
		}
		switch {
		case rec.partition < 0 || rec.partition >= partitions:
			rec.fail = s.failure(restKafkaError, kafkaUnknownTopicOrPartition,
				"Invalid partition given with record: "+strconv.Itoa(int(rec.partition))+
					" is not in the range [0..."+strconv.Itoa(partitions)+").")
		case len(rec.value) > maxRecordValue:
			rec.fail = s.failure(restKafkaError, kafkaMessageTooLarge, "record value larger than 64 KiB")
		default:
			if msg := rec.parseValue(); msg != "" {
				rec.fail = s.failure(restKafkaError, kafkaInvalidRecord, "invalid usage record: "+msg)
			}
		}
	}
	return recs
}

// compactJSON returns raw without insignificant white space, nil for an
// absent or null field.
func compactJSON(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	_ = json.Compact(&b, raw) // cannot fail: Unmarshal validated the body
	return b.Bytes()
}

// usageValue is the value of a usage record; total_usage is raw for the
// reason given at payload.
type usageValue struct {
	TenantID   *string         `json:"tenant_id"`
	DeviceID   *string         `json:"device_id"`
	MeterID    *string         `json:"meter_id"`
	CustomerID *string         `json:"customer_id"`
	TotalUsage json.RawMessage `json:"total_usage"`
}

// parseValue checks rec's value holds the usage fields and keeps them.
func (rec *recordIn) parseValue() string {
	if rec.value == nil {
		return "value is required"
	}
	var v usageValue
	if err := json.Unmarshal(rec.value, &v); err != nil {
		return err.Error()
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"tenant_id", v.TenantID}, {"device_id", v.DeviceID}, {"meter_id", v.MeterID}} {
		if f.v == nil || *f.v == "" {
			return f.name + " must be a non-empty string"
		}
	}
	if v.CustomerID == nil {
		return "customer_id must be a string"
	}
	usage, msg := parseUsage(v.TotalUsage)
	if msg != "" {
		return msg
	}
	rec.series = Series{Tenant: *v.TenantID, Device: *v.DeviceID, Meter: *v.MeterID}
	rec.customer, rec.usage = *v.CustomerID, usage
	return ""
}

// commitLocked runs the checks that need server state and keeps what
// passes. With WithRedpandaAnswers the records of one partition form one
// batch, and a record that fails fails its whole batch.
func (s *Server) commitLocked(topic string, recs []recordIn, now time.Time) {
	log := s.topics[topic]
	if log == nil {
		log = &topicLog{name: topic, keys: make(map[string][]byte)}
		s.topics[topic] = log
	}
	dead := make(map[int32]bool) // partitions whose Redpanda batch fails
	for i := range recs {
		rec := &recs[i]
		if rec.fail.code == 0 {
			if msg := s.customerMismatchLocked(rec.series.Tenant, rec.customer); msg != "" {
				rec.fail = s.failure(restKafkaError, kafkaInvalidRecord, msg)
			}
		}
		if rec.fail.code != 0 && s.redpanda {
			dead[rec.partition] = true
		}
	}
	for s.checkKeys(log, recs, dead) {
	}
	for i := range recs {
		rec := &recs[i]
		if rec.fail.code != 0 || dead[rec.partition] {
			rec.offset = -1
			s.stats.RecordErrors++
			if rec.conflict {
				s.stats.RecordConflicts++
				s.recordConflicts = append(s.recordConflicts, rec.stored(log.name, now))
			}
			continue
		}
		rec.offset = log.next[rec.partition]
		log.next[rec.partition]++
		s.records = append(s.records, rec.stored(log.name, now))
		if rec.dup {
			s.stats.RecordDuplicates++
			continue
		}
		if rec.key != nil {
			log.keys[string(rec.key)] = rec.value
		}
		s.stats.RecordsAccepted++
		s.totals[rec.series] += rec.usage
	}
}

// checkKeys marks each keyed record a duplicate or a conflict, against the
// keys kept before and the earlier records of the request that will be
// kept. It reports whether a conflict failed a Redpanda batch: that
// withdraws records later ones were checked against, so the check must run
// again (at most once per partition).
func (s *Server) checkKeys(log *topicLog, recs []recordIn, dead map[int32]bool) bool {
	seen := make(map[string][]byte)
	for i := range recs {
		rec := &recs[i]
		if rec.key == nil || rec.fail.code != 0 || dead[rec.partition] {
			continue
		}
		first, ok := log.keys[string(rec.key)]
		if !ok {
			first, ok = seen[string(rec.key)]
		}
		switch {
		case !ok:
			rec.dup = false // a rerun may find first what was a duplicate
			seen[string(rec.key)] = rec.value
		case bytes.Equal(first, rec.value):
			rec.dup = true
		default:
			rec.fail = s.failure(restKafkaError, kafkaInvalidRecord, "key reused with a different value")
			rec.conflict = true
			if s.redpanda {
				dead[rec.partition] = true
				return true
			}
		}
	}
	return false
}

func (rec *recordIn) stored(topic string, now time.Time) recordRec {
	return recordRec{
		topic:     topic,
		key:       rec.key,
		value:     rec.value,
		partition: rec.partition,
		offset:    rec.offset,
		dup:       rec.dup,
		received:  now,
	}
}
