package kafkarest

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errNotArray is the error of "offsets" that are not an array of objects.
var errNotArray = errors.New(`"offsets" is not an array of objects`)

// readOffsets appends to entries the "offsets" of an answer. The
// answer is checked to be valid JSON, then walked in place, each value a
// slice of body: decoding a map per entry (encoding/json cannot match keys
// exactly otherwise, and its Decoder allocates an error for every number
// it reads) cost a third of a large collection's CPU on this path. Key
// names match exactly, as a map's would: the proxies' keys are lower case,
// and another case is another key. Where a key repeats, the last one
// counts, as in a map.
func readOffsets(body []byte, entries []entry) ([]entry, error) {
	if !json.Valid(body) {
		return nil, errors.New("not a JSON object")
	}
	top := value(body, skipSpace(body, 0))
	if top[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var offsets []byte
	eachField(top, func(key, v []byte) {
		if string(key) == "offsets" {
			offsets = v
		}
	})
	switch {
	case offsets == nil:
		return nil, errors.New(`no "offsets"`)
	case string(offsets) == "null":
		return nil, nil
	case offsets[0] != '[':
		return nil, errNotArray
	}
	ok := true
	eachElement(offsets, func(v []byte) {
		var e entry
		switch {
		case string(v) == "null":
		case v[0] == '{':
			eachField(v, e.set)
		default:
			ok = false
		}
		entries = append(entries, e)
	})
	if !ok {
		return nil, errNotArray
	}
	return entries, nil
}

// set sets the value of key, if e reads it.
func (e *entry) set(key, v []byte) {
	switch string(key) {
	case "partition":
		e.partition = v
	case "offset":
		e.offset = v
	case "error_code":
		e.errorCode = v
	case "error":
		e.error = v
	}
}

// The walkers below read JSON that json.Valid accepted, so they need not
// check it again.

// eachField calls fn with each key of the object obj and its value.
func eachField(obj []byte, fn func(key, v []byte)) {
	i := skipSpace(obj, 1)
	for obj[i] != '}' {
		k := value(obj, i)
		i = skipSpace(obj, i+len(k))
		i = skipSpace(obj, i+1) // :
		v := value(obj, i)
		fn(keyText(k), v)
		i = skipSpace(obj, i+len(v))
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// eachElement calls fn with each element of the array arr.
func eachElement(arr []byte, fn func(v []byte)) {
	i := skipSpace(arr, 1)
	for arr[i] != ']' {
		v := value(arr, i)
		fn(v)
		i = skipSpace(arr, i+len(v))
		if arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// keyText is the text of a quoted key; one with escapes is unquoted as
// encoding/json would.
func keyText(quoted []byte) []byte {
	if bytes.IndexByte(quoted, '\\') >= 0 {
		var s string
		_ = json.Unmarshal(quoted, &s)
		return []byte(s)
	}
	return quoted[1 : len(quoted)-1]
}

// value returns the value that starts at b[i].
func value(b []byte, i int) []byte {
	start := i
	switch b[i] {
	case '"':
		i = stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			if depth == 0 {
				i++
				break
			}
		}
	default: // a number, true, false or null
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
	}
	return b[start:i]
}

// stringEnd returns the index after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
