// Package httpx is the transport under every provider SDK client (slack-go,
// go-github, stripe-go): an http.RoundTripper that paces requests, retries
// the ones that are safe to retry, and tells the caller whether a failed
// request may have reached the provider.
//
// # Wiring
//
//	t := httpx.New(httpx.Options{
//		Provider: "github",
//		Limits:   httpx.GitHubLimits(cfg.GitHubWriteInterval),
//		Redactor: red,
//	})
//	client := github.NewClient(&http.Client{Transport: t})
//
// Zero values in Options take the defaults documented on each field, which
// match the environment defaults (HTTP_MAX_ATTEMPTS=5, HTTP_MAX_WAIT=30s,
// HTTP_MAX_CALL_WAIT=60s, HTTP_TIMEOUT=30s).
//
// Turn the SDK's own retries off (stripe-go: MaxNetworkRetries 0) so that
// one layer owns the retry budget, and prefer context deadlines over
// http.Client.Timeout: the client flattens a timed-out error to text, which
// loses the *Error that says whether the request was sent.
//
// # Deadlines
//
// Each attempt has its own deadline, AttemptTimeout, from the moment it is
// handed to Base until its response body is closed: connecting, sending,
// waiting for the headers and reading the body all count, so a server that
// sends headers and then stalls cannot hold a call. The deadline is a
// context derived from the request's, so the caller's cancellation still
// ends the attempt at once. An attempt that outlives it fails with
// ErrAttemptTimeout, and a body read it cuts short returns an *Error, since
// the response already proves the provider had the request. The timeout of
// an attempt is not a wait and does not count toward MaxCallWait.
//
// # Pacing
//
// Each request takes a limit key from its context (WithLimitKey), or the
// transport's Provider name when it has none. A Limit applies to the
// requests whose key starts with its KeyPrefix and whose method is in its
// Methods; it keeps one token bucket per key (PerKey) or one for all of
// them. The wait for a token counts toward the caps below.
//
// # Retries
//
// GET, HEAD, OPTIONS and TRACE are retried on 429, 5xx, network errors
// and attempt timeouts. Any other method is retried only when re-sending
// cannot double an effect: the request carries an Idempotency-Key header,
// or the provider rejected it unprocessed (429, or a GitHub rate-limit 403:
// one with Retry-After, or with x-ratelimit-remaining 0 and a body that
// says "rate limit" or is empty, since the request that spends the last
// unit reports 0 whatever its outcome, a permission error included), or it
// provably never left this process (a dial error, or no connection was
// obtained). A 5xx, a timeout or a connection closed after the request was
// written is ambiguous: the response or error goes back to the caller,
// which must treat the effect as in doubt. A request net/http's Transport
// refused before asking for a connection (a URL without a scheme or host,
// an invalid header) never left either, but is not sent again: it would
// fail the same way.
//
// A wait named by the server (Retry-After as seconds or HTTP-date, or
// GitHub's x-ratelimit-reset when x-ratelimit-remaining is 0) is honoured
// exactly; otherwise the wait is exponential backoff with full jitter. A
// wait longer than MaxWait, or one that would take the call past
// MaxCallWait or its context deadline, is not taken: the last response (or
// error) is returned at once.
//
// # What the caller learns
//
// A failed call returns *Error, which says how many attempts were made and
// whether any of them may have reached the provider; NotSent and Sent read
// it through the *url.Error the SDKs wrap it in. An observer installed with
// WithObserver sees every attempt and every wait as it happens, for audit
// records and progress notifications.
package httpx
