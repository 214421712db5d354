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

// Release drops the pages of the executable's read-only, private mappings
// (text, read-only data, function tables) that hold nothing of the
// process's own. A mapping's permissions do not say that it was never
// written: in a PIE or an externally linked binary the dynamic loader
// writes relocations into the RELRO segment and then makes it read-only,
// and a debugger's breakpoint or a uprobe is a private copy of a text page.
// Those pages are the process's own copies (smaps counts them as
// Anonymous), which the drop would replace with the file's bytes, so a
// mapping holding any is kept. Release does nothing while a debugger is
// attached.
func Release() (Result, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Result{}, fmt.Errorf("release start-up pages: %w", err)
	}
	if pid := statusField(status, "TracerPid:"); pid != "" && pid != "0" {
		return Result{Skipped: "a debugger is attached (TracerPid " + pid + ")"}, nil
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return Result{}, fmt.Errorf("release start-up pages: %w", err)
	}
	ranges, err := ownReadOnly(smaps, uint64(reflect.ValueOf(Release).Pointer()))
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

// mapping is one mapping of /proc/self/smaps.
type mapping struct {
	addrRange
	perms string
	dev   string
	inode string
	// ownPages: the mapping holds pages the process made its own copies
	// of (a non-zero "Anonymous:" or "Swap:" line).
	ownPages bool
}

// ownReadOnly returns the read-only, private mappings of the file mapped at
// pc (the executable, found by the address of its own code rather than by
// its path, which may hold spaces or have been replaced since start) that
// hold no page of the process's own. smaps is /proc/self/smaps.
func ownReadOnly(smaps []byte, pc uint64) ([]addrRange, error) {
	var all []mapping
	own := -1
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Bytes()
		if m, ok := parseMapping(line); ok {
			all = append(all, m)
			if m.lo <= pc && pc < m.hi {
				own = len(all) - 1
			}
			continue
		}
		// Own copies are counted as Anonymous while in memory and as Swap
		// once swapped out (found in review: a swapped-out relocated page
		// was dropped with its swap entry).
		for _, key := range [][]byte{[]byte("Anonymous:"), []byte("Swap:")} {
			if v, ok := bytes.CutPrefix(line, key); ok && len(all) > 0 {
				kb := bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))
				if string(kb) != "0" {
					all[len(all)-1].ownPages = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if own < 0 || all[own].inode == "0" {
		return nil, fmt.Errorf("no file mapping holds the program's code (%#x)", pc)
	}
	var out []addrRange
	for _, m := range all {
		if m.dev == all[own].dev && m.inode == all[own].inode && (m.perms == "r-xp" || m.perms == "r--p") && !m.ownPages {
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
