package redact

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A secret prints as a placeholder however it is printed, alone or inside
// a struct, and is still there for the one header that carries it.
func TestSecretNeverPrints(t *testing.T) {
	s := New("sk-live-123")
	holder := struct {
		Key   Secret
		inner Secret
	}{s, s}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "key", s)
	js, _ := json.Marshal(holder)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", holder, holder, &holder), logs.String(), string(js)} {
		assert.NotContains(t, out, "sk-live-123")
	}
	assert.Equal(t, "sk-live-123", s.Value())
	assert.True(t, s.Set())
	assert.False(t, New("").Set())
}
