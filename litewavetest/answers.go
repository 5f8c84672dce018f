package litewavetest

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
)

// answer builds the produce answer in the server's form.
func (s *Server) answer(recs []recordIn) reply {
	if s.redpanda {
		return redpandaAnswer(recs)
	}
	return confluentAnswer(recs)
}

// confluentOffset is a PartitionOffset; Jackson writes its nulls.
type confluentOffset struct {
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
	ErrorCode *int    `json:"error_code"`
	Error     *string `json:"error"`
}

// confluentAnswer is the REST Proxy's ProduceResponse: one entry per record,
// in request order.
func confluentAnswer(recs []recordIn) reply {
	var ans struct {
		Offsets       []confluentOffset `json:"offsets"`
		KeySchemaID   *int              `json:"key_schema_id"`
		ValueSchemaID *int              `json:"value_schema_id"`
	}
	ans.Offsets = make([]confluentOffset, len(recs))
	status := http.StatusOK
	for i := range recs {
		rec, o := &recs[i], &ans.Offsets[i]
		if rec.fail.code == 0 {
			o.Partition, o.Offset = &rec.partition, &rec.offset
			continue
		}
		o.ErrorCode, o.Error = &rec.fail.code, &rec.fail.msg
		// ProduceResponse.getRequestStatus: the first entry with an
		// authentication or authorization code sets the HTTP status.
		if status == http.StatusOK {
			switch rec.fail.code {
			case 40101:
				status = http.StatusUnauthorized
			case 40301:
				status = http.StatusForbidden
			}
		}
	}
	b, _ := json.Marshal(ans)
	return reply{status: status, body: b, contentType: kafkaAnswerType}
}

// redpandaOffset is pandaproxy's entry: error_code only on failure.
type redpandaOffset struct {
	Partition int32 `json:"partition"`
	ErrorCode int   `json:"error_code,omitempty"`
	Offset    int64 `json:"offset"`
}

// redpandaAnswer is pandaproxy's answer: one entry per partition batch with
// its base offset, or -1 and the code of its first failed record.
func redpandaAnswer(recs []recordIn) reply {
	var offsets []redpandaOffset
	at := make(map[int32]int) // partition -> index in offsets
	for i := range recs {
		rec := &recs[i]
		j, ok := at[rec.partition]
		if !ok {
			// Offsets are assigned in request order, so a batch's first
			// record holds its base offset (-1 for a failed batch).
			j = len(offsets)
			at[rec.partition] = j
			offsets = append(offsets, redpandaOffset{Partition: rec.partition, Offset: rec.offset})
		}
		if o := &offsets[j]; o.ErrorCode == 0 && rec.fail.code != 0 {
			o.ErrorCode = rec.fail.code
		}
	}
	shuffle(offsets)
	b, _ := json.Marshal(struct {
		Offsets []redpandaOffset `json:"offsets"`
	}{offsets})
	return reply{status: http.StatusOK, body: b, contentType: kafkaAnswerType}
}

// shuffle puts entries in random order, as Redpanda's hash map does, and
// never leaves two or more in request order: a client that matches entries
// to records by position then fails every time, not one time in six.
func shuffle(o []redpandaOffset) {
	if len(o) < 2 {
		return
	}
	inOrder := slices.Clone(o)
	rand.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	if slices.Equal(o, inOrder) {
		o[0], o[1] = o[1], o[0]
	}
}
