package kafkarest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The answer is walked in place rather than decoded into a map per entry:
// it must read every answer as encoding/json's maps did, keys matched
// exactly, escapes and white space included.
func TestOffsetsReadAsMapsWould(t *testing.T) {
	bodies := []string{
		confluentMixed, confluentNoTopic, redpandaOK, redpandaFailed, redpandaNoTopic,
		` { "offsets" : [ { "partition" : 2 , "offset" : 100 , "error_code" : null , "error" : null } ] } `,
		"{\"offsets\":[{\"partition\":2,\t\"offset\":-1e3,\r\n\"error_code\":50003,\"error\":\"a \\\"quoted\\\" } ] , message\"}]}",
		`{"offsets":[{"p\u0061rtition":1,"offset":1,"error_code":null,"error":null}]}`,
		`{"offsets":[{"partition":1,"partition":2,"offset":[1,{"a":"]}"}],"error":{"x":[]},"Error_Code":7}]}`,
		`{"value_schema_id":{"offsets":"no"},"offsets":[{},null,{"error":"x"}],"key_schema_id":null}`,
		`{"offsets":[{"partition":0,"offset":1}],"offsets":[{"partition":5,"offset":6}]}`,
		`{"offsets":[]}`, `{"offsets":null}`, `{"Offsets":[]}`, `{}`,
	}
	for _, body := range bodies {
		got, err := readOffsets([]byte(body), nil)
		want, found := offsetsAsMaps(t, body)
		if !found {
			require.Error(t, err, body)
			continue
		}
		require.NoError(t, err, body)
		require.Len(t, got, len(want), body)
		for i, m := range want {
			for _, key := range []string{"partition", "offset", "error_code", "error"} {
				raw, ok := got[i].field(key)
				wantRaw, wantOK := m[key]
				assert.Equal(t, wantOK, ok, "%s: entry %d, %s", body, i, key)
				assert.Equal(t, string(wantRaw), string(raw), "%s: entry %d, %s", body, i, key)
			}
		}
	}
}

// offsetsAsMaps decodes the offsets of body as the reader once did, and
// whether it found them.
func offsetsAsMaps(t *testing.T, body string) ([]map[string]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &top), body)
	raw, ok := top["offsets"]
	if !ok {
		return nil, false
	}
	var entries []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &entries), body)
	return entries, true
}
