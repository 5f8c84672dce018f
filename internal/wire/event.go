// Package wire encodes usage events and decodes the backend's answers.
package wire

import (
	"strconv"
	"unicode/utf8"
)

// AppendEvent appends the JSON body of one usage event to dst:
//
//	{"meter_id":"…","total_usage":N,"customer_id":"…"}
//
// The encoding is deterministic (fixed field order, fixed escaping), so a
// retried event is byte-for-byte the event first sent. It does not use
// reflection because it runs once per delivered event.
func AppendEvent(dst []byte, meterID string, totalUsage int64, customerID string) []byte {
	dst = append(dst, `{"meter_id":`...)
	dst = AppendString(dst, meterID)
	dst = append(dst, `,"total_usage":`...)
	dst = strconv.AppendInt(dst, totalUsage, 10)
	dst = append(dst, `,"customer_id":`...)
	dst = AppendString(dst, customerID)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD and
// control characters are \u-escaped, as encoding/json does; HTML characters
// are left alone because the body is never embedded in HTML.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
