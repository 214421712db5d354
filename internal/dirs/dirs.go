// Package dirs creates directories durably. A file's fsync makes its bytes
// durable but not its name: after a power cut, a directory entry created
// since the directory holding it was last synced may be gone, and with it
// the file, however often the file itself was synced. So every directory
// saas-mcp keeps durable state in, and every file it creates for such state,
// has its parent directory synced.
package dirs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openDir opens a directory to sync it; tests make it fail as an
// unreadable directory does, which as root (CI) no real directory does.
var openDir = os.Open

// fsyncDir fsyncs an open directory; tests make it fail as a file system
// that does not sync directories does.
var fsyncDir = (*os.File).Sync

// syncDir fsyncs a directory; tests record the calls.
var syncDir = func(dir string) error {
	d, err := openDir(dir)
	if errors.Is(err, fs.ErrPermission) {
		// A directory this user may write but not read (mode -wx) cannot
		// be opened to be synced. Refusing to start there would break
		// what worked before syncing; its entries are as durable as the
		// file system makes them on its own.
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := fsyncDir(d); err != nil && !unsyncable(err) {
		return err
	}
	return nil
}

// unsyncable is the error of a file system that does not sync directories
// at all (some FUSE and network mounts answer EINVAL or ENOTSUP): as for
// an unreadable directory, its entries are as durable as it makes them,
// and refusing to start there would break what worked before. (PostgreSQL
// ignores the same errors for directories.)
func unsyncable(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}

// Sync makes the entries created in dir so far durable.
func Sync(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll is os.MkdirAll that also makes path's entry durable: it syncs
// the parent of each directory it creates and, when path was there already,
// path's parent once more. That costs one fsync per start, and covers a
// directory made by another process that did not live to sync it, or by an
// earlier start whose sync failed.
func MkdirAll(path string, perm os.FileMode) error {
	path = filepath.Clean(path)
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
		if err := os.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Made here or, meanwhile, by another process: synced either way.
		if err := Sync(filepath.Dir(p)); err != nil {
			return err
		}
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		// A symbolic link to a directory that is not there (a volume not
		// mounted): say so rather than fail later on a file inside it.
		return &fs.PathError{Op: "mkdir", Path: path, Err: errors.New("a symbolic link to a directory that does not exist")}
	case err != nil:
		return err
	case !fi.IsDir():
		return &fs.PathError{Op: "mkdir", Path: path, Err: errors.New("not a directory")}
	}
	if len(missing) == 0 {
		return Sync(filepath.Dir(path))
	}
	return nil
}

// FileIn syncs the directory holding the file at path (after following a
// symbolic link, to where the file really is), so that its entry is
// durable: for a file that may have just been created with O_CREATE,
// whoever created it.
func FileIn(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return Sync(filepath.Dir(real))
}
