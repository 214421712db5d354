package slack

import (
	"encoding/json"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
)

// TestMetadataMatchesOnlyItsOwnKeyAndClaim: the event_payload names the key
// and the claim; a message matches the life of the key that sent it, and a
// message sent before claims were recorded (no claim field) matches on the
// key alone, so a call in doubt across the upgrade is still found.
func TestMetadataMatchesOnlyItsOwnKeyAndClaim(t *testing.T) {
	t.Parallel()
	claim := time.Unix(1796443949, 250_000_000)
	l := life{key: "k", claimed: claim}
	msg := func(eventType string, payload map[string]any) slackapi.Message {
		var m slackapi.Message
		m.Metadata = slackapi.SlackMetadata{EventType: eventType, EventPayload: payload}
		return m
	}
	tests := []struct {
		name string
		m    slackapi.Message
		want bool
	}{
		{"the same key and claim", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: "1796443949"}), true},
		{"the same claim as a number", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: float64(1796443949)}), true},
		{"the same claim as a json.Number", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: json.Number("1796443949")}), true},
		{"another claim: an earlier life of the key", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: "1796443948"}), false},
		{"another claim: a later life", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: "1796443950"}), false},
		{"another claim as a number", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: float64(1796443948)}), false},
		{"a legacy message, without a claim", msg(MetadataEventType, map[string]any{MetadataKeyField: "k"}), true},
		{"a claim that is not a whole number", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: 1796443949.5}), false},
		{"a claim that is not digits", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: "+1796443949"}), false},
		{"a claim of another type", msg(MetadataEventType, map[string]any{MetadataKeyField: "k", MetadataClaimField: true}), false},
		{"the key is a prefix of the message's", msg(MetadataEventType, map[string]any{MetadataKeyField: "k2", MetadataClaimField: "1796443949"}), false},
		{"a legacy message whose key is longer", msg(MetadataEventType, map[string]any{MetadataKeyField: "k2"}), false},
		{"another event type", msg("other_app", map[string]any{MetadataKeyField: "k", MetadataClaimField: "1796443949"}), false},
		{"no metadata", slackapi.Message{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, hasKey(tt.m, l))
		})
	}
}

// TestThePayloadNamesTheClaimOnlyWhenKnown: the claim goes beside the key in
// whole Unix seconds, floored (SQLite's nanoseconds and PostgreSQL's
// microseconds give the same second); a message without one sends the key
// alone, as before.
func TestThePayloadNamesTheClaimOnlyWhenKnown(t *testing.T) {
	t.Parallel()
	assert.Equal(t, map[string]any{MetadataKeyField: "k", MetadataClaimField: "1796443949"},
		payload(Message{Key: "k", Claimed: time.Unix(1796443949, 999_999_999)}))
	assert.Equal(t, map[string]any{MetadataKeyField: "k"}, payload(Message{Key: "k"}))
}
