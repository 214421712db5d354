// Package startpages gives back the pages of the program's own code and
// read-only data that only its start-up used.
//
// The kernel maps a binary's pages into a process as they are first read,
// and maps the 64 KiB around each one with it ("fault-around"), so by the
// time a Go program has run every package's init, most of its text,
// read-only data and function tables count in its resident set, though a
// long-running server then runs a small part of them. Release drops those
// mappings (madvise MADV_DONTNEED on the executable's read-only, private
// mappings); the pages stay in the page cache and the ones the program runs
// again come back on their next use, as minor faults. Nothing the program
// wrote is touched: its writable mappings (data, heap, stacks) are left
// alone, and so is any read-only mapping holding pages the process made its
// own copies of (a PIE's relocated RELRO segment, a debugger's breakpoint).
//
// saas-mcp serve calls it once, when the client has finished the MCP
// handshake: in make bench, serve's peak resident set fell from about 21 to
// 19 MiB (see the README's performance section).
package startpages

// Result says what Release did.
type Result struct {
	// Bytes is the size of the mappings released (their resident part is
	// what the resident set lost).
	Bytes int64
	// Skipped, when not empty, says why nothing was released.
	Skipped string
}
