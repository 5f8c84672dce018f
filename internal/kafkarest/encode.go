package kafkarest

import (
	"slices"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// The framing of a produce body and of each record in it.
const (
	bodyOpen    = `{"records":[`
	bodyClose   = `]}`
	recordOpen  = `{"key":`
	recordValue = `,"value":`
	recordClose = `}`
)

// recordGuess is about what one record takes, to size a body's buffer.
const recordGuess = 320

// appendBody appends to dst the next request of evs, in a fixed form, so
// that a resent record is byte for byte the record first sent:
//
//	{"records":[{"key":"<id>","value":{…}},…]}
//
// It takes as many records as fit in maxRecords and maxBytes, and always
// at least one, and returns dst with the body and how many it took. The
// key is the quoted id, the bytes the native path writes too.
func appendBody(dst []byte, evs []usage.Event, maxRecords, maxBytes int) ([]byte, int) {
	b := slices.Grow(dst, min(maxBytes, min(len(evs), maxRecords)*recordGuess+len(bodyOpen)+len(bodyClose)))
	b = append(b, bodyOpen...)
	var enc usage.RecordEncoder // a body's events share their windows' bounds
	n := 0
	for n < len(evs) && n < maxRecords {
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, &enc, &evs[n])
		if n > 0 && len(b)-len(dst)+len(bodyClose) > maxBytes {
			b = b[:mark] // this record goes in the next request
			break
		}
		n++
	}
	return append(b, bodyClose...), n
}

func appendRecord(b []byte, enc *usage.RecordEncoder, ev *usage.Event) []byte {
	b = append(b, recordOpen...)
	b = usage.AppendRecordKey(b, ev.ID)
	b = append(b, recordValue...)
	b = enc.Append(b, ev)
	return append(b, recordClose...)
}
