// Package dirs creates directories durably. A file's fsync makes its bytes
// durable but not its name: after a power cut, a directory entry created
// since the directory holding it was last synced may be gone, and with it
// the file, however often the file itself was synced. So every directory
// saas-mcp creates, and every file it creates for durable state, has its
// parent directory synced.
package dirs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// syncDir fsyncs a directory; tests record the calls.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Sync makes the entries created in dir so far durable.
func Sync(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll is os.MkdirAll that also syncs the parent of each directory it
// creates, so that a power cut after it returns does not lose them.
// Directories that exist already are left as they are.
func MkdirAll(path string, perm os.FileMode) error {
	path = filepath.Clean(path)
	if fi, err := os.Stat(path); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: path, Err: errors.New("not a directory")}
		}
		return nil
	}
	// The missing components, deepest first.
	var missing []string
	for p := path; ; {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		err := os.Mkdir(p, perm)
		if errors.Is(err, fs.ErrExist) {
			// Made by someone else meanwhile (another process starting on
			// the same DATA_DIR): theirs to sync, but syncing again is
			// cheap and leaves no gap.
			if fi, serr := os.Stat(p); serr != nil || !fi.IsDir() {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := Sync(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// CreatedIn syncs dir when created says a file was just created in it: for
// a caller that opened with O_CREATE and knows whether the file existed.
func CreatedIn(dir string, created bool) error {
	if !created {
		return nil
	}
	return Sync(dir)
}
