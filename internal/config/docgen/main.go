// Command docgen writes the settings table into doc.go and README.md, in
// the current directory (the module's root, where go generate runs it).
package main

import (
	"fmt"
	"os"

	"github.com/aiorch/litewavemetric/internal/config"
)

func main() {
	for file, update := range map[string]func(string) (string, error){
		"doc.go":    config.UpdateDoc,
		"README.md": config.UpdateReadme,
	} {
		if err := rewrite(file, update); err != nil {
			fmt.Fprintln(os.Stderr, "docgen:", err)
			os.Exit(1)
		}
	}
}

func rewrite(file string, update func(string) (string, error)) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := update(string(src))
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(out), 0o644)
}
