// Package schemas holds the JSON Schema (2020-12) of every tool's input and
// output. These files are the only source of tool schemas: tools/list serves
// them as they are, and the validate middleware checks arguments against them.
package schemas

import (
	"embed"
	"fmt"
)

//go:embed *.json
var files embed.FS

// Input returns the input schema of a tool.
func Input(tool string) ([]byte, error) { return read(tool + ".input.json") }

// Output returns the output schema of a tool.
func Output(tool string) ([]byte, error) { return read(tool + ".output.json") }

func read(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return b, nil
}
