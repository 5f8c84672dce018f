package litewaveexporter

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The library's settings table names, for each setting, the key this
// component reads; the README's configuration table is generated from it.
// Every key named there must exist in Config, so that a setting added to
// the library cannot be forgotten here.
func TestEveryLibrarySettingHasItsYAMLKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	table := string(readme)
	begin, end := strings.Index(table, "<!-- settings:begin -->"), strings.Index(table, "<!-- settings:end -->")
	require.True(t, begin >= 0 && end > begin, "the README's settings table")
	header := -1
	keys := 0
	for _, line := range strings.Split(table[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if header < 0 {
			header = indexOf(cells, "Collector key")
			require.GreaterOrEqual(t, header, 0, "the table has a Collector key column")
			continue
		}
		key := cells[header]
		if key == "" || strings.HasPrefix(key, "---") {
			continue
		}
		keys++
		assert.True(t, hasKey(reflect.TypeOf(Config{}), strings.Split(key, ".")), "Config has no key %q", key)
	}
	assert.Greater(t, keys, 20, "keys read from the table")
}

func indexOf(cells []string, s string) int {
	for i, c := range cells {
		if c == s {
			return i
		}
	}
	return -1
}

// hasKey follows path through mapstructure tags.
func hasKey(typ reflect.Type, path []string) bool {
	if len(path) == 0 {
		return true
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return false
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if strings.Split(f.Tag.Get("mapstructure"), ",")[0] == path[0] {
			return hasKey(f.Type, path[1:])
		}
	}
	return false
}
