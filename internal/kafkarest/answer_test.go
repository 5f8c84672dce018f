package kafkarest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Answers as the two proxies give them.
const (
	// confluentMixed answers 12 records with every kind of code; see
	// TestConfluentPerRecordCodes.
	confluentMixed = `{"offsets":[
		{"partition":2,"offset":100,"error_code":null,"error":null},
		{"partition":null,"offset":null,"error_code":50003,"error":"Broker: Not enough in-sync replicas"},
		{"partition":null,"offset":null,"error_code":2,"error":null},
		{"partition":null,"offset":null,"error_code":50002,"error":"Record too large"},
		{"partition":null,"offset":null,"error_code":1,"error":null},
		{"partition":null,"offset":null,"error_code":40101,"error":"Authentication failed"},
		{"partition":null,"offset":null,"error_code":40301,"error":"Not authorized to access topics: [usage-events]"},
		{"partition":null,"offset":null,"error_code":42901,"error":null},
		{"partition":null,"offset":null,"error_code":0,"error":null},
		{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-events not present in metadata after 60000 ms."},
		{"partition":null,"offset":null,"error_code":5.0002e4,"error":"Record too large"},
		{"partition":1,"offset":7,"error_code":null,"error":null}
	],"key_schema_id":null,"value_schema_id":null}`
	confluentMixedRecords = 12

	// confluentNoTopic answers 3 records to a topic that does not exist.
	confluentNoTopic = `{"offsets":[` +
		`{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-events not present in metadata after 60000 ms."},` +
		`{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-events not present in metadata after 60000 ms."},` +
		`{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-events not present in metadata after 60000 ms."}` +
		`],"key_schema_id":null,"value_schema_id":null}`

	// Redpanda answers per partition, in no particular order, with
	// error_code only on failure.
	redpandaOK      = `{"offsets":[{"partition":2,"offset":40},{"partition":0,"offset":17}]}`
	redpandaFailed  = `{"offsets":[{"partition":1,"offset":40},{"partition":0,"error_code":6,"offset":-1}]}`
	redpandaNoTopic = `{"offsets":[{"partition":0,"error_code":3,"offset":-1}]}`
)

// unreadable lists answers to 3 records that cannot be read, with why.
var unreadable = map[string]string{
	``:                  "not a JSON object",
	`<html>oops</html>`: "not a JSON object",
	`null`:              "not a JSON object",
	`[]`:                "not a JSON object",
	`{"offsets":[{}]`:   "not a JSON object",
	`{}`:                `no "offsets"`,
	`{"Offsets":[{"partition":0,"offset":1}]}`:   `no "offsets"`,
	`{"offsets":null}`:                           `"offsets" is empty`,
	`{"offsets":[]}`:                             `"offsets" is empty`,
	`{"offsets":{}}`:                             "not an array of objects",
	`{"offsets":[1,2,3]}`:                        "not an array of objects",
	`{"offsets":"x"}`:                            "not an array of objects",
	`{"offsets":[{}]}`:                           `no "partition"`,
	`{"offsets":[null]}`:                         `no "partition"`,
	`{"offsets":[{"partition":"0","offset":1}]}`: `"partition": "0" is not a number`,
	`{"offsets":[{"partition":0}]}`:              `partition 0: no "offset"`,
	`{"offsets":[{"partition":0,"offset":1.5}]}`: `"offset": 1.5 is not a whole int64`,
	`{"offsets":[{"partition":0,"offset":1,"error_code":null}]}`:                                                                `"error_code" is null`,
	`{"offsets":[{"partition":0,"offset":1,"error_code":"3"}]}`:                                                                 `"error_code": "3" is not a number`,
	`{"offsets":[{"partition":0,"offset":1,"error":7}]}`:                                                                        `"error" is not a string`,
	`{"offsets":[{"partition":0,"offset":1},{"partition":1,"offset":1},{"partition":2,"offset":1},{"partition":3,"offset":1}]}`: `4 "offsets" for 3 records`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":"50002","error":null}`):                                            `record 2: "error_code": "50002" is not a number`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":true,"error":null}`):                                               `"error_code": true is not a number`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":50002.5,"error":null}`):                                            `50002.5 is not a whole int64`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":1e400,"error":null}`):                                              `1e400 is not a whole int64`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":9.3e18,"error":null}`):                                             `9.3e18 is not a whole int64`,
	confluentEntries(`{"partition":null,"offset":1,"error_code":null,"error":null}`):                                            "no error_code, but no partition and offset",
	confluentEntries(`{"partition":0,"offset":1,"error_code":null,"error":"boom"}`):                                             "no error_code, but no partition and offset, or an error",
	confluentEntries(`{"partition":0,"offset":1,"error":null}`):                                                                 `no "error_code"`,
	confluentEntries(`{"offset":1,"error_code":null,"error":null}`):                                                             `no "partition"`,
	confluentEntries(`{"partition":0,"offset":1,"error_code":null,"error":{}}`):                                                 `"error" is not a string`,
	confluentEntries(`{"partition":0,"offset":[1],"error_code":null,"error":null}`):                                             `"offset": [1] is not a number`,
	confluentEntries(`{"partition":0,"offset":1,"Error_Code":null,"error":null}`):                                               `no "error_code"`,
}

// confluentEntries is a Confluent answer to 3 records whose last entry is
// last, after two good ones.
func confluentEntries(last string) string {
	ok := `{"partition":0,"offset":1,"error_code":null,"error":null},`
	return `{"offsets":[` + ok + ok + last + `]}`
}

func TestUnreadableAnswers(t *testing.T) {
	b := New(nil, "", testTopic, 100, 1<<20)
	for body, why := range unreadable {
		out := newOutcomes(3)
		b.parseAnswer(0, []byte(body), out)
		for i, o := range out {
			assert.Equal(t, usage.Retry, o.Result, "%s: record %d", body, i)
			require.Error(t, o.Err, body)
			assert.Contains(t, o.Err.Error(), "kafka-rest produce to topic usage-events: unreadable answer, sent again: ", body)
			assert.Contains(t, o.Err.Error(), why, body)
			assert.False(t, usage.IsConfig(o.Err))
		}
	}
}

// Codes may come as integers or floats; offsets are numbered from the
// batch, not the request.
func TestParseAnswerNumbers(t *testing.T) {
	b := New(nil, "", testTopic, 100, 1<<20)
	out := newOutcomes(3)
	b.parseAnswer(40, []byte(`{"offsets":[`+
		`{"partition":0,"offset":-0,"error_code":null,"error":null},`+
		`{"partition":0,"offset":null,"error_code":50003.0,"error":null},`+
		`{"partition":3.0,"offset":9.007199254740992e15,"error_code":null,"error":null}]}`), out)
	assert.Equal(t, usage.Delivered, out[0].Result)
	assert.Equal(t, `{"topic":"usage-events","partition":0,"offset":0}`, string(out[0].Answer))
	assert.Equal(t, usage.Retry, out[1].Result)
	assert.EqualError(t, out[1].Err, "kafka-rest produce to topic usage-events: record 41: error 50003")
	assert.Equal(t, `{"topic":"usage-events","partition":3,"offset":9007199254740992}`, string(out[2].Answer))
}

// Any failed partition fails the request; an unknown topic among them
// names the fix.
func TestRedpandaFailures(t *testing.T) {
	b := New(nil, "", testTopic, 100, 1<<20)
	for body, want := range map[string]string{
		`{"offsets":[{"partition":0,"offset":1},{"partition":1,"error_code":-1,"offset":-1}]}`:                "partition 1: error -1 (",
		`{"offsets":[{"partition":0,"offset":1,"error":"boom"}]}`:                                             `partition 0: error 0: "boom" (`,
		`{"offsets":[{"partition":1,"error_code":6,"offset":-1},{"partition":0,"error_code":3,"offset":-1}]}`: "partition 0: error 3 (",
	} {
		out := newOutcomes(4)
		b.parseAnswer(0, []byte(body), out)
		for i, o := range out {
			assert.Equal(t, usage.Retry, o.Result, "%s: record %d", body, i)
			require.Error(t, o.Err, body)
			assert.Contains(t, o.Err.Error(), "all 4 are sent again", body)
			assert.Contains(t, o.Err.Error(), want, body)
			assert.Equal(t, strings.Contains(want, "error 3"), usage.IsConfig(o.Err), body)
		}
	}
}

// answerSeeds are the answers of the tests above, with their record counts.
func answerSeeds() map[string]int {
	seeds := map[string]int{
		confluentMixed:   confluentMixedRecords,
		confluentNoTopic: 3,
		redpandaOK:       3,
		redpandaFailed:   5,
		redpandaNoTopic:  3,
	}
	for body := range unreadable {
		seeds[body] = 3
	}
	return seeds
}

// FuzzParseAnswer: any answer gives every record an outcome, never a
// panic, and success only where the proxy said so: a Confluent entry with
// a null error_code, or a Redpanda answer with no failed partition.
func FuzzParseAnswer(f *testing.F) {
	for body, records := range answerSeeds() {
		f.Add([]byte(body), uint8(records))
	}
	b := New(nil, "", testTopic, 100, 1<<20)
	f.Fuzz(func(t *testing.T, body []byte, records uint8) {
		n := int(records % 32)
		out := newOutcomes(n)
		b.parseAnswer(0, body, out)
		said := whatProxySaid(body, n)
		for i, o := range out {
			switch o.Result {
			case usage.Delivered:
				if !said[i].delivered {
					t.Fatalf("record %d of %d delivered, but the answer did not say so: %s", i, n, body)
				}
				if o.Err != nil || !json.Valid(o.Answer) {
					t.Fatalf("record %d delivered with error %v, answer %q", i, o.Err, o.Answer)
				}
			case usage.Rejected:
				if !said[i].rejected {
					t.Fatalf("record %d of %d rejected, but the answer did not say so: %s", i, n, body)
				}
				fallthrough
			case usage.Retry:
				if o.Err == nil {
					t.Fatalf("record %d: result %d without an error", i, o.Result)
				}
			default:
				t.Fatalf("record %d: no outcome (result %d) for %s", i, o.Result, body)
			}
		}
	})
}

type said struct{ delivered, rejected bool }

// whatProxySaid reads body independently of the parser: per record,
// whether the proxy said it was delivered or rejected.
func whatProxySaid(body []byte, n int) []said {
	s := make([]said, n)
	var top map[string]json.RawMessage
	var entries []map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["offsets"], &entries) != nil || len(entries) == 0 {
		return s
	}
	confluent := len(entries) == n
	for _, e := range entries {
		if _, ok := e["error"]; !ok {
			confluent = false
		}
	}
	if confluent {
		for i, e := range entries {
			var code *float64
			if json.Unmarshal(e["error_code"], &code) == nil {
				s[i].delivered = code == nil
				s[i].rejected = code != nil && (*code == 50002 || *code == 1)
			}
		}
		return s
	}
	for _, e := range entries {
		var code float64
		if raw, ok := e["error_code"]; ok && (json.Unmarshal(raw, &code) != nil || code != 0) {
			return s
		}
	}
	for i := range s {
		s[i].delivered = true
	}
	return s
}
