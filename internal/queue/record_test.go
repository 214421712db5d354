package queue

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

func TestRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    NewDelivery
	}{
		{"a GitHub push with every field", NewDelivery{Provider: "github", Key: "github:7:abc", EventType: "push",
			Target: "acme/app", ContentType: "application/json", Payload: []byte(`{"ref":"main"}`)}},
		{"an empty payload and empty strings", NewDelivery{Key: "k"}},
		{"a long key and a payload with the magic inside", NewDelivery{Provider: "stripe", Key: strings.Repeat("é", 300),
			Payload: append([]byte("xx"), recordMagic[:]...)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.d.ReceivedAt = time.UnixMilli(1_700_000_000_123)
			buf, hdr, crc := appendRecord([]byte("prefix"), &tt.d, 4096)
			rec := buf[len("prefix"):]
			require.Len(t, rec, recordSize(&tt.d))
			got, n, err := decodeRecord(rec)
			require.NoError(t, err)
			assert.Equal(t, len(rec), n)
			assert.Equal(t, hdr, got.hdrLen)
			assert.Equal(t, crc, got.payloadCRC)
			assert.Equal(t, int64(4096), got.durable)
			assert.Equal(t, string(tt.d.Payload), string(rec[hdr:]), "the row's offset points at the payload")
			if len(tt.d.Payload) == 0 {
				got.d.Payload = nil
			}
			assert.Equal(t, tt.d, got.d)
			for cut := 0; cut < len(rec); cut++ {
				_, _, err := decodeRecord(rec[:cut])
				require.ErrorIs(t, err, errBadRecord, "a record cut at %d is torn", cut)
			}
			for i := range rec {
				bad := bytes.Clone(rec)
				bad[i] ^= 0x40
				_, _, err := decodeRecord(bad)
				require.ErrorIs(t, err, errBadRecord, "a flipped bit at %d is caught", i)
			}
		})
	}
}

// FuzzDecodeRecord: decodeRecord parses bytes from disk. It must never
// panic, and whatever it accepts must be exactly what appendRecord writes
// for the delivery it returns.
func FuzzDecodeRecord(f *testing.F) {
	d := NewDelivery{Provider: "github", Key: "github:7:abc", EventType: "push", Target: "acme/app",
		ContentType: "application/json", Payload: []byte(`{"ref":"main"}`), ReceivedAt: time.UnixMilli(42)}
	rec, _, _ := appendRecord(nil, &d, 0)
	f.Add(rec)
	f.Add(rec[:20])
	f.Add(append(bytes.Clone(rec), rec...))
	f.Add([]byte("SMW\x01"))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) || n < recordFixed {
			t.Fatalf("decoded %d bytes of %d", n, len(b))
		}
		again, _, _ := appendRecord(nil, &r.d, r.durable)
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:n])
		}
	})
}

// The receiver's largest body limit fits in a record the decoder accepts.
func TestTheLargestWebhookBodyFitsInARecord(t *testing.T) {
	t.Parallel()
	assert.GreaterOrEqual(t, int64(maxRecordPayload), int64(config.MaxWebhookBody))
}
