package mcpserver

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// FuzzHoldEOFPassesEveryByteThrough: the hold sits between the client and
// mcp-go on stdin; whatever arrives, in whatever chunks, it hands every byte
// on unchanged and in order (plus a newline after an unterminated last
// line), never panics, and counts exactly the complete lines mcp-go
// answers with their id (answeredWithID), however Reads cut them.
func FuzzHoldEOFPassesEveryByteThrough(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`+"\n"), uint8(1))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\r\n"+`{"jsonrpc":"2.0","id":"a","method":"ping"}`), uint8(3))
	f.Add([]byte("\n\n\xff{\"id\":null,\"method\":\"x\"}\n[{\"id\":1,\"method\":\"x\"}]\n{\"id\":2,\"result\":{}}"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		var fl InFlight
		fl.giveUp = 1 // a request never answered must not hold the fuzzer
		r := fl.HoldEOF(context.Background(), &chunked{b: in, n: int(chunk%16) + 1})
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := in
		if len(in) > 0 && in[len(in)-1] != '\n' {
			want = append(append([]byte(nil), in...), '\n')
		}
		if !bytes.Equal(want, out) {
			t.Fatalf("input changed on its way through:\n in %q\nout %q", in, out)
		}
		var n int64
		for _, line := range bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n")) {
			if len(want) > 0 && answeredWithID(line) {
				n++
			}
		}
		if got := fl.requests.Load(); got != n {
			t.Fatalf("%d requests counted, %d in the input %q", got, n, in)
		}
	})
}
