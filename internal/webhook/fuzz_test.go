package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseStripeSignature: any header parses or is refused with one of our
// errors, never panics, and what parses holds a timestamp and 1..8 v1
// signatures of 32 bytes.
func FuzzParseStripeSignature(f *testing.F) {
	for _, seed := range []string{
		"t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
		"t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
		"t=1,v1=00,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
		"", "t=", "v1=", "t=1,t=2,v1=aa", "t=-1,v1=aa", ",,,", "t=1492774577,v1=ZZ", "t=99999999999999999999,v1=aa",
		" t=1 , v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd ",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		s, err := ParseStripeSignature(h)
		if err != nil {
			if !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrMalformedSignature) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(s.V1) == 0 || len(s.V1) > maxStripeSignatures {
			t.Fatalf("parsed %d v1 signatures from %q", len(s.V1), h)
		}
		for _, v := range s.V1 {
			if len(v) != 32 {
				t.Fatalf("a v1 signature of %d bytes from %q", len(v), h)
			}
		}
		if s.Timestamp < 0 {
			t.Fatalf("negative timestamp from %q", h)
		}
		// Verifying what parsed must not panic either.
		_ = VerifyStripe([]byte("{}"), h, secrets("whsec_x"), time.Unix(s.Timestamp, 0), StripeTolerance)
	})
}

// FuzzSlackHeaders: the timestamp and signature parsers refuse or accept
// cleanly; an accepted timestamp is exactly the digits it came from, since
// the digits are hashed verbatim.
func FuzzSlackHeaders(f *testing.F) {
	for _, seed := range []struct{ ts, sig string }{
		{"1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
		{"", ""}, {"+1531420618", "v0="}, {"-1", "v1=00"}, {"1e9", "v0=zz"}, {"0001", "V0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
		{"9999999999999", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b50"},
	} {
		f.Add(seed.ts, seed.sig)
	}
	f.Fuzz(func(t *testing.T, ts, sig string) {
		n, err := ParseSlackTimestamp(ts)
		if err == nil {
			if strconv.FormatInt(n, 10) != trimZeros(ts) {
				t.Fatalf("timestamp %q parsed as %d", ts, n)
			}
		} else if !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrMalformedSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		b, err := ParseSlackSignature(sig)
		if err == nil && len(b) != 32 {
			t.Fatalf("signature of %d bytes from %q", len(b), sig)
		}
		h := http.Header{}
		h.Set(SlackTimestampHeader, ts)
		h.Set(SlackSignatureHeader, sig)
		_ = VerifySlack([]byte("body"), h, secrets("sig"), time.Unix(n, 0), SlackTolerance)
	})
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// FuzzIdentify feeds any body and delivery header to each provider's
// identify step (it runs after verification, on outside input all the same):
// it never panics, and what it accepts has a key and an event type.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"o/r"}}`), "issues", "guid-1")
	f.Add([]byte(`{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1"}}}`), "", "")
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","channel":"C1"}}`), "", "")
	f.Add([]byte(`{"type":"url_verification","challenge":"abc"}`), "", "")
	f.Add([]byte(`[]`), "x y", "")
	f.Add([]byte(`{"id":null,"type":7}`), "push", "\x00")
	f.Fuzz(func(t *testing.T, body []byte, event, delivery string) {
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", delivery)
		h.Set("X-GitHub-Hook-ID", "1")
		for name, identify := range map[string]func([]byte, http.Header) (identity, error){
			"github": identifyGitHub, "stripe": identifyStripe, "slack": identifySlack,
		} {
			id, err := identify(body, h)
			if err != nil || id.reply != nil {
				continue
			}
			if id.d.Key == "" || id.d.EventType == "" {
				t.Fatalf("%s accepted %q with key %q and event type %q", name, body, id.d.Key, id.d.EventType)
			}
		}
	})
}
