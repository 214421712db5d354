package github

import (
	"strings"
	"testing"
	"time"
)

// FuzzHasMarker reads issue bodies as GitHub returns them (anyone with
// access can write them) against keys as agents send them. Whatever the
// body: no panic; this call's own marker written at the end is always
// found; a body that names no saas-mcp marker never matches; a body that
// ends with another key's marker never matches, whatever it quotes.
func FuzzHasMarker(f *testing.F) {
	claim := time.Unix(1_700_000_000, 0)
	f.Add("Steps to reproduce", "deploy-42", int64(0))
	f.Add("see <!-- saas-mcp:claim=1700000000 --><!-- saas-mcp:key=k -->", "k", int64(5))
	f.Add("text\r\n\r\n<!-- saas-mcp:key=k -->\n", "k", int64(-3))
	f.Add("<!-- saas-mcp:key=a b -->", "a b", int64(1))
	f.Fuzz(func(t *testing.T, body, key string, shift int64) {
		if key == "" || len(key) > 255 {
			return
		}
		claimed := claim.Add(time.Duration(shift%1000) * time.Second)
		_ = hasMarker(body, key, claimed) // no panic on any body

		if !hasMarker(body+"\n\n"+Marker(key, claimed), key, claimed) {
			t.Fatalf("own marker at the end not found: body %q key %q", body, key)
		}
		if !strings.Contains(body, "saas-mcp:") && hasMarker(body, key, claimed) {
			t.Fatalf("a body naming no marker matched: %q", body)
		}
		other := key + "-other"
		quoting := body + "\n\n" + Marker(key, claimed) + "\n\nsame here\n\n" + Marker(other, claimed)
		if hasMarker(quoting, key, claimed) {
			t.Fatalf("a body ending with another key's marker matched: %q", quoting)
		}
	})
}
