//go:build linux

package startpages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"syscall"
)

// Release drops the mappings of the executable's read-only, private
// mappings (text, read-only data, function tables). It does nothing while
// a debugger is attached: a breakpoint is a write to a private copy of a
// text page, which the drop would discard.
func Release() (Result, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Result{}, fmt.Errorf("release start-up pages: %w", err)
	}
	if pid := statusField(status, "TracerPid:"); pid != "" && pid != "0" {
		return Result{Skipped: "a debugger is attached (TracerPid " + pid + ")"}, nil
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return Result{}, fmt.Errorf("release start-up pages: %w", err)
	}
	ranges, err := ownReadOnly(maps, uint64(reflect.ValueOf(Release).Pointer()))
	if err != nil {
		return Result{}, fmt.Errorf("release start-up pages: %w", err)
	}
	var res Result
	for _, r := range ranges {
		if err := madvise(r, syscall.MADV_DONTNEED); err != nil {
			return res, fmt.Errorf("release start-up pages: madvise %#x-%#x: %w", r.lo, r.hi, err)
		}
		res.Bytes += int64(r.hi - r.lo)
	}
	return res, nil
}

type addrRange struct{ lo, hi uint64 }

// madvise is madvise(2) on a range given by its addresses, which are not
// Go memory (syscall.Madvise takes a slice).
func madvise(r addrRange, advice int) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(r.lo), uintptr(r.hi-r.lo), uintptr(advice)); errno != 0 {
		return errno
	}
	return nil
}

// mapping is one line of /proc/self/maps.
type mapping struct {
	addrRange
	perms string
	dev   string
	inode string
}

// ownReadOnly returns the read-only, private mappings of the file mapped at
// pc: the executable, found by the address of its own code rather than by
// its path, which may hold spaces or have been replaced since start.
func ownReadOnly(maps []byte, pc uint64) ([]addrRange, error) {
	var all []mapping
	var own *mapping
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		m, ok := parseMapping(sc.Bytes())
		if !ok {
			continue
		}
		all = append(all, m)
		if m.lo <= pc && pc < m.hi {
			own = &all[len(all)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if own == nil || own.inode == "0" {
		return nil, fmt.Errorf("no file mapping holds the program's code (%#x)", pc)
	}
	var out []addrRange
	for _, m := range all {
		if m.dev == own.dev && m.inode == own.inode && (m.perms == "r-xp" || m.perms == "r--p") {
			out = append(out, m.addrRange)
		}
	}
	return out, nil
}

// parseMapping reads "lo-hi perms offset dev inode [path]".
func parseMapping(line []byte) (mapping, bool) {
	f := bytes.Fields(line)
	if len(f) < 5 {
		return mapping{}, false
	}
	lo, hi, ok := bytes.Cut(f[0], []byte("-"))
	if !ok {
		return mapping{}, false
	}
	l, err1 := strconv.ParseUint(string(lo), 16, 64)
	h, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || h <= l {
		return mapping{}, false
	}
	return mapping{addrRange: addrRange{l, h}, perms: string(f[1]), dev: string(f[3]), inode: string(f[4])}, true
}

// statusField is the value of a "Name:\tvalue" line of /proc/self/status.
func statusField(status []byte, name string) string {
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte(name)); ok {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}
