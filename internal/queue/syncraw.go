package queue

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
)

var (
	// holdP: the intake's payload flushes may keep their P (HoldPDuringSyncs).
	holdP atomic.Bool
	// rawBusy: a flush holds its P now; a second one meanwhile (a segment
	// left by the writer while the sync stage flushes) is a blocking call.
	rawBusy atomic.Bool
	// rawFlushes counts the flushes that kept their P, for tests.
	rawFlushes atomic.Int64
)

// HoldPDuringSyncs lets the intake's payload flushes keep their P while the
// disk flushes (see fdatasyncFile). `saas-mcp webhooks` calls it once it
// has raised GOMAXPROCS by one for them; without it every flush is an
// ordinary blocking system call.
func HoldPDuringSyncs() { holdP.Store(true) }

// fdatasyncFile makes f's data durable: the flush every intake batch's
// answer waits for.
//
// Through syscall.Fdatasync, under load, a flush longer than sysmon's tick
// (20 us while it keeps finding work) had its P taken and handed to another
// thread (a futex wake-up), and on return the goroutine found no free P and
// queued for one behind the HTTP handlers, with every answer of its batch
// behind it; sysmon itself then woke every 20 us. On the 2-core bench VM
// that was about a fifth of the receiver's CPU per delivery in context
// switches (perf: the kernel's finish_task_switch, sysmon's nanosleep). As
// a raw system call the flush keeps its P, and the P that `saas-mcp
// webhooks` adds keeps the cores busy meanwhile: alternating runs took 14
// to 32% more deliveries a second at c=16 and c=64, alone and with the
// in-process worker, at about 10% less CPU per delivery. (An io_uring
// fdatasync awaited through the netpoller, which blocks no thread at all,
// gave 1 to 8%.)
//
// What it costs, knowingly: a garbage collection's stop-the-world waits
// for a flush under way, so every goroutine of the process, not only the
// batch's, may pause for up to one flush (0.1 to 0.5 ms on this disk; a
// review measured 50 ms for a 256 MB flush); on a disk that hangs, the
// whole process hangs at its next collection, where the blocking call hung
// the intake alone (which is all the receiver does: every answer waits for
// a flush). So only one flush at a time keeps its P, and none while fewer
// than 3 Ps run (GOMAXPROCS lowered since), leaving at least two.
func fdatasyncFile(f *os.File) error {
	if !holdP.Load() || runtime.GOMAXPROCS(0) < 3 || !rawBusy.CompareAndSwap(false, true) {
		return syscall.Fdatasync(int(f.Fd()))
	}
	defer rawBusy.Store(false)
	rawFlushes.Add(1)
	return rawFdatasync(f.Fd())
}

// rawFdatasync is fdatasync(2) as a raw system call, its error as
// syscall.Fdatasync returns it.
func rawFdatasync(fd uintptr) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
	switch errno {
	case 0:
		return nil
	case syscall.EINTR:
		// A signal cut it short: on a file system whose flush a signal can
		// interrupt, sysmon's preemption signal (every 10 ms to a goroutine
		// that keeps its P) would cut every retry of a slow flush short.
		// The blocking call gets no such signal.
		return syscall.Fdatasync(int(fd))
	default:
		return errno
	}
}
