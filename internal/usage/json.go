package usage

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendRecord appends the JSON value of ev as a Kafka record, the same on
// the REST Proxy and the native path:
//
//	{"meter_id":"…","customer_id":"…","total_usage":N,"tenant_id":"…","device_id":"…","start_time":"…","end_time":"…"}
//
// A record has no headers, so the tenant and device travel in the value;
// the proxy and the broker stamp a record with the time it was produced,
// so the usage window does too (RFC 3339, UTC).
func AppendRecord(dst []byte, ev *Event) []byte {
	var enc RecordEncoder
	return enc.Append(dst, ev)
}

// RecordEncoder appends records as AppendRecord does, keeping the text of
// the window's bounds it formatted last: the events of one collection
// share them, and formatting a time costs more than the rest of a record.
// The zero value is ready; it is not safe for concurrent use.
type RecordEncoder struct {
	start, end timeText
}

// timeText is a time in Unix nanoseconds and its RFC 3339 text.
type timeText struct {
	ns   int64
	n    int // length of text; 0: none formatted yet
	text [len(time.RFC3339Nano)]byte
}

// append appends ns as RFC 3339 text in UTC, formatting it only if it is
// not the time formatted last.
func (t *timeText) append(dst []byte, ns int64) []byte {
	if t.n == 0 || t.ns != ns {
		t.ns = ns
		t.n = len(time.Unix(0, ns).UTC().AppendFormat(t.text[:0], time.RFC3339Nano))
	}
	return append(dst, t.text[:t.n]...)
}

// Append appends the JSON value of ev as a Kafka record (AppendRecord).
func (e *RecordEncoder) Append(dst []byte, ev *Event) []byte {
	dst = append(dst, `{"meter_id":`...)
	dst = AppendString(dst, ev.Key.Meter)
	dst = append(dst, `,"customer_id":`...)
	dst = AppendString(dst, ev.Customer)
	dst = append(dst, `,"total_usage":`...)
	dst = strconv.AppendInt(dst, ev.Units, 10)
	dst = append(dst, `,"tenant_id":`...)
	dst = AppendString(dst, ev.Key.Tenant)
	dst = append(dst, `,"device_id":`...)
	dst = AppendString(dst, ev.Key.Device)
	dst = append(dst, `,"start_time":"`...)
	dst = e.start.append(dst, ev.Start)
	dst = append(dst, `","end_time":"`...)
	dst = e.end.append(dst, ev.End)
	return append(dst, `"}`...)
}

// AppendRecordKey appends ev's record key: its ID as a JSON string. The
// REST Proxy's json format stores a key with its quotes, so the native path
// writes the same bytes and both land a key on the same partition.
func AppendRecordKey(dst []byte, id ID) []byte {
	dst = append(dst, '"')
	dst = id.AppendText(dst)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// plainJSON holds the bytes a JSON string carries as they are: ASCII
// other than control characters, the quote and the backslash. One lookup
// a byte, for the ids, keys and customers that are all plain.
var plainJSON = func() (plain [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()

// AppendString appends s as a JSON string. The encoding is fixed, so the
// same string is always the same bytes: invalid UTF-8 becomes U+FFFD and
// control characters are \u-escaped, as encoding/json does; HTML characters
// are left alone because no body is embedded in HTML.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plainJSON[s[i]] {
			i++
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
