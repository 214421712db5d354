package config

import (
	"fmt"
	"io"
	"reflect"
	"slices"
)

// Usage writes one line per variable of spec (a pointer to a struct with
// envconfig tags): its name, its desc tag and its default.
//
// It replaces envconfig.Usagef on purpose: that one runs text/template,
// whose dynamic method lookup makes the Go linker keep every exported
// method of every type in the binary. Without it the binary is about half
// the size and each process maps several MiB less of it (`make bench`, peak
// RSS).
func Usage(w io.Writer, spec any) error { return UsageOf(w, spec) }

// UsageOf is Usage for the variables named in only (every one when only is
// empty): a command that reads part of a shared spec lists that part.
func UsageOf(w io.Writer, spec any, only ...string) error {
	t := reflect.TypeOf(spec)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("usage: %T is not a struct", spec)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" || key == "-" || !f.IsExported() || len(only) > 0 && !slices.Contains(only, key) {
			continue
		}
		line := fmt.Sprintf("  %-22s %s", key, f.Tag.Get("desc"))
		if d := f.Tag.Get("default"); d != "" {
			line += " (default " + d + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
