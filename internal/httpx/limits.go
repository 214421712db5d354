package httpx

import (
	"net/http"
	"strings"
	"time"
)

// Limit is one client-side rate limit: a token bucket refilled one token
// per Every, holding at most Burst tokens.
type Limit struct {
	// KeyPrefix selects requests whose limit key starts with it; "" selects
	// every request.
	KeyPrefix string
	// Methods selects by HTTP method; empty selects every method.
	Methods []string
	// Every is the spacing between requests once the burst is spent; a
	// Limit with Every <= 0 is ignored, so a zero interval from the
	// environment turns pacing off.
	Every time.Duration
	// Burst is how many requests may go back to back; 1 when < 1.
	Burst int
	// PerKey gives each distinct limit key its own bucket (per-channel
	// pacing); otherwise all selected requests share one.
	PerKey bool
}

func (l Limit) matches(method, key string) bool {
	if !strings.HasPrefix(key, l.KeyPrefix) {
		return false
	}
	if len(l.Methods) == 0 {
		return true
	}
	for _, m := range l.Methods {
		if m == method {
			return true
		}
	}
	return false
}

func (l Limit) burst() int {
	return max(l.Burst, 1)
}

// slackPostMessagePrefix is the key prefix SlackLimits paces per channel.
const slackPostMessagePrefix = "slack:chat.postMessage:"

// SlackPostMessageKey is the limit key of a chat.postMessage to channel, for
// WithLimitKey; SlackLimits paces each such key on its own.
func SlackPostMessageKey(channel string) string {
	return slackPostMessagePrefix + channel
}

// SlackLimits paces chat.postMessage to one message per postInterval per
// channel, Slack's documented limit (short bursts are tolerated by Slack;
// raise Burst on the returned Limit to use them). Requests must carry
// SlackPostMessageKey in their context to be paced. postInterval <= 0
// returns no limits.
func SlackLimits(postInterval time.Duration) []Limit {
	if postInterval <= 0 {
		return nil
	}
	return []Limit{{KeyPrefix: slackPostMessagePrefix, Every: postInterval, Burst: 1, PerKey: true}}
}

// GitHubLimits spaces every content-changing request (POST, PATCH, PUT,
// DELETE) at least writeInterval apart across the whole transport, as
// GitHub asks, to stay clear of its secondary rate limits. writeInterval <=
// 0 returns no limits.
func GitHubLimits(writeInterval time.Duration) []Limit {
	if writeInterval <= 0 {
		return nil
	}
	return []Limit{{
		Methods: []string{http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
		Every:   writeInterval,
		Burst:   1,
	}}
}

// StripeLimits keeps all requests at 20 per second with a burst of 5, so no
// one-second window exceeds 25: Stripe's sandbox limit, and a quarter of its
// live limit of 100, which leaves room for other processes on the account.
func StripeLimits() []Limit {
	return []Limit{{Every: time.Second / 20, Burst: 5}}
}
