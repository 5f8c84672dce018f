package litewavemetric_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/config"
)

// The README's Go snippets compile as written: each is, byte for byte, a
// program under examples/, which go vet and go build compile, or a whole
// Example function, which go test compiles and runs against its Output.
func TestReadmeGoSnippetsAreCompiledPrograms(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks, "the README shows its five lines")
	programs := map[string]bool{}
	files, err := filepath.Glob("examples/*/main.go")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		programs[string(b)] = true
	}
	var exampleFuncs []string
	tests, err := filepath.Glob("*example_test.go")
	require.NoError(t, err)
	inPackages, err := filepath.Glob("*/*example_test.go")
	require.NoError(t, err)
	tests = append(tests, inPackages...)
	for _, f := range tests {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		exampleFuncs = append(exampleFuncs, string(b))
	}
	for _, b := range blocks {
		snippet := b[1]
		ok := programs[snippet]
		// An Example is run only when it has an Output comment.
		if strings.HasPrefix(snippet, "func Example") && strings.HasSuffix(snippet, "\n}\n") && strings.Contains(snippet, "\t// Output:") {
			for _, f := range exampleFuncs {
				ok = ok || strings.Contains(f, "\n"+snippet)
			}
		}
		assert.True(t, ok, "README snippet is neither one of examples/*/main.go nor a whole Example function:\n%s", firstLines(snippet, 5))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// doc.go's list of variables and the README's configuration table are
// what go generate writes from the settings table: they cannot drift.
func TestSettingsDocumentationIsGenerated(t *testing.T) {
	t.Parallel()
	for file, update := range map[string]func(string) (string, error){
		"doc.go":    config.UpdateDoc,
		"README.md": config.UpdateReadme,
	} {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		want, err := update(string(src))
		require.NoError(t, err)
		if want != string(src) {
			t.Errorf("%s drifted from internal/config's table at %q: run go generate", file, firstDifferentLine(string(src), want))
		}
	}
}

// firstDifferentLine is got's first line that want does not have there.
func firstDifferentLine(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range g {
		if i >= len(w) || g[i] != w[i] {
			return g[i]
		}
	}
	return ""
}

// Every variable the code names is a row of the settings table, so that
// doc.go lists it.
func TestEveryVariableIsInTheTable(t *testing.T) {
	t.Parallel()
	quoted := regexp.MustCompile(`"((?:LITEWAVE|OTEL_GO_X)_[A-Z_]+)"`)
	named := 0
	require.NoError(t, filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range quoted.FindAllStringSubmatch(string(src), -1) {
			named++
			assert.NotNil(t, config.Lookup(m[1]), "%s names %s, which the settings table does not hold", path, m[1])
		}
		return err
	}))
	assert.Greater(t, named, len(config.Table)/2, "the table itself names the variables")
}

// Every test the README and docs/ cite as proof of a promise exists.
func TestReadmeCitesOnlyTestsThatExist(t *testing.T) {
	t.Parallel()
	pages, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	var readme []byte
	for _, page := range append(pages, "README.md") {
		text, err := os.ReadFile(page)
		require.NoError(t, err)
		readme = append(readme, text...)
	}
	var sources strings.Builder
	require.NoError(t, filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			sources.Write(b)
			return err
		}
		return err
	}))
	cited := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, cited)
	for _, c := range cited {
		assert.Contains(t, sources.String(), "func "+c[1]+"(", "the README or docs/ cite %s", c[1])
	}
}

// The user's guide, everything before the README's links under "## More",
// stays short enough for a newcomer to read in ten minutes: what does not
// fit belongs in docs/.
func TestReadmeUsersGuideIsShort(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	guide, _, found := strings.Cut(string(readme), "\n## More\n")
	require.True(t, found, "the README ends with its links under a \"## More\" heading")
	lines := strings.Count(guide, "\n") + 1
	assert.LessOrEqual(t, lines, 320, "the README's user's guide has %d lines; move details to docs/", lines)
}
