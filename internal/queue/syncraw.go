package queue

import (
	"os"
	"runtime"
	"syscall"
)

// fdatasyncFile makes f's data durable: the sync every intake batch's
// answer waits for.
//
// With more than one P it is issued as a raw system call, which keeps this
// goroutine's P while the disk flushes instead of handing it off. Through
// syscall.Fdatasync, a sync longer than sysmon's 20 us tick under load had
// its P taken and handed to another thread (a futex wake-up), and on return
// the goroutine found no free P and queued for one behind the HTTP
// handlers, with every answer of its batch behind it; sysmon itself then
// woke every 20 us. On the 2-core bench VM that was a fifth of the
// receiver's CPU per delivery in context switches (perf: the kernel's
// finish_task_switch, sysmon's nanosleep). Raw, with the one P more that
// `saas-mcp webhooks` asks for (extraProcs), the receiver took 10 to 30%
// more deliveries a second at c=16, with and without its worker, at 10% less
// CPU per delivery (an io_uring fdatasync awaited through the netpoller,
// which blocks no thread at all, gave 1 to 8%).
//
// What it costs: the P is held for one flush, and a garbage collection's
// stop-the-world waits for a flush under way, which every answer of the
// batch waits for anyway. With a single P (GOMAXPROCS=1 set by hand) the
// whole process would stop for each flush, so the ordinary call is used.
func fdatasyncFile(f *os.File) error {
	if runtime.GOMAXPROCS(0) < 2 {
		return syscall.Fdatasync(int(f.Fd()))
	}
	return rawFdatasync(f.Fd())
}

func rawFdatasync(fd uintptr) error {
	for {
		_, _, errno := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue // as os.File.Sync does
		default:
			return errno // as syscall.Fdatasync returns it
		}
	}
}
