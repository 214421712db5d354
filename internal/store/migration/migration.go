// Package migration reads a store's embedded schema changes and applies the
// missing ones. What a migration is, how the files are named and ordered,
// and the order of applying them are the same for every store (sqlite,
// postgres); each store brings its transaction and dialect (Steps).
package migration

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change, from a file named NNNN_what.sql. Released
// files are never edited: a change is a new file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load lists the migrations in dir of fsys in version order. A file with a
// bad name, or two files with one version, is an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].Name, out[i].Name)
		}
	}
	return out, nil
}

// Steps are what differs between stores when applying migrations: each runs
// them inside its own transaction, with its own SQL dialect.
type Steps struct {
	// Newest returns the highest version recorded so far, 0 for none.
	Newest func(ctx context.Context) (int, error)
	// Exec runs one migration file.
	Exec func(ctx context.Context, sql string) error
	// Record notes that m is applied.
	Record func(ctx context.Context, m Migration) error
}

// Apply runs, in order, the migrations of all (as Load returns them) newer
// than the newest recorded, recording each. A schema migrated by a newer
// binary is refused rather than used with a schema this one does not know.
func Apply(ctx context.Context, all []Migration, s Steps) error {
	newest, err := s.Newest(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	known := 0
	if len(all) > 0 {
		known = all[len(all)-1].Version
	}
	if newest > known {
		return fmt.Errorf("migrate: database is at schema version %d, newer than this binary knows (%d)", newest, known)
	}
	for _, m := range all {
		if m.Version <= newest {
			continue
		}
		if err := s.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.Name, err)
		}
		if err := s.Record(ctx, m); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.Name, err)
		}
	}
	return nil
}
