package litewavemetric_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's Go snippets compile as written: each is, byte for byte, a
// program under examples/, which go vet and go build compile.
func TestReadmeGoSnippetsAreCompiledPrograms(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks, "the README shows its five lines")
	programs := map[string]string{}
	files, err := filepath.Glob("examples/*/main.go")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		programs[string(b)] = f
	}
	for _, b := range blocks {
		snippet := b[1]
		_, ok := programs[snippet]
		assert.True(t, ok, "README snippet is not one of examples/*/main.go:\n%s", firstLines(snippet, 5))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
