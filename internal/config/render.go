package config

import (
	"errors"
	"fmt"
	"strings"
)

// The package documentation and the README list the settings as the
// table says; go generate writes them (docgen) and a test fails when they
// drift.

// The README's markers around its configuration table.
const (
	readmeBegin = "<!-- settings:begin -->"
	readmeEnd   = "<!-- settings:end -->"
)

// DocList is the list of variables in doc.go: a preformatted block, the
// variable, its option and default on one line, what it sets below.
func DocList() string {
	var b strings.Builder
	for _, s := range Table {
		if s.Env == "" {
			continue
		}
		fmt.Fprintf(&b, "//\t%-35s %s; default %s\n", s.Env, s.Source(), s.DefaultText())
		for _, line := range wrap(s.Doc, 72) {
			fmt.Fprintf(&b, "//\t    %s\n", line)
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most width bytes, between words.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// ReadmeTable is the README's configuration table, every setting with its
// option, variable, default and Collector key.
func ReadmeTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Option | Default | Collector key | Meaning |\n|---|---|---|---|---|\n")
	for _, s := range Table {
		option := "`" + s.Option + "`"
		if s.Field != "" {
			option += " (`" + s.Field + "`)"
		}
		def := s.DefaultText()
		if s.Shown == "" && s.Default != "" {
			def = code(def)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(s.Env), option, def, code(s.YAML), s.Doc)
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// UpdateDoc replaces the list of variables in doc.go's source: the run of
// preformatted comment lines that names LITEWAVE_BACKEND.
func UpdateDoc(src string) (string, error) {
	lines := strings.SplitAfter(src, "\n")
	first := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSuffix(l, "\n")+" ", "//\t"+Backend.Env+" ") {
			first = i
			break
		}
	}
	if first < 0 {
		return "", fmt.Errorf("doc.go has no line beginning with //\\t%s", Backend.Env)
	}
	last := first
	for last < len(lines) && strings.HasPrefix(lines[last], "//\t") {
		last++
	}
	return strings.Join(lines[:first], "") + DocList() + strings.Join(lines[last:], ""), nil
}

// UpdateReadme replaces what stands between the README's markers.
func UpdateReadme(src string) (string, error) {
	begin, end := strings.Index(src, readmeBegin), strings.Index(src, readmeEnd)
	if begin < 0 || end < begin {
		return "", errors.New("README.md has no " + readmeBegin + " ... " + readmeEnd)
	}
	return src[:begin+len(readmeBegin)] + "\n" + ReadmeTable() + src[end:], nil
}
