package kafkarest

import (
	"strings"
	"testing"
)

// BenchmarkParseAnswer reads Confluent's answer to a request of 1 000
// records, as a large collection's requests get.
func BenchmarkParseAnswer(b *testing.B) {
	const records = 1000
	body := []byte(`{"offsets":[` + strings.Repeat(`{"partition":2,"offset":100,"error_code":null,"error":null},`, records-1) +
		`{"partition":2,"offset":100,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}`)
	bk := New(nil, "", testTopic, records, 1<<20)
	out := newOutcomes(records)
	b.ReportAllocs()
	for b.Loop() {
		bk.parseAnswer(0, body, out)
	}
}
