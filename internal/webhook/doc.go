// Package webhook receives GitHub, Stripe and Slack webhooks: it verifies the
// raw body against the provider's signature, stores the delivery durably and
// answers.
//
// # Verification
//
// Each provider has a pure function, VerifyGitHub, VerifyStripe and
// VerifySlack, over the raw body, the request headers, the configured secrets
// (several, so a secret can be rotated) and the current time. Nothing of the
// body is parsed before it is verified.
//
//   - GitHub: X-Hub-Signature-256 is required. go-github's ValidateSignature
//     would also accept the SHA-1 X-Hub-Signature; we never pass it one.
//   - Stripe: Stripe-Signature "t=...,v1=...,v1=..." with a 300 s tolerance
//     both ways; the HMAC check is stripe-go's webhook package.
//   - Slack: X-Slack-Signature v0 over "v0:timestamp:body" with
//     X-Slack-Request-Timestamp within five minutes, compared in constant time
//     (the algorithm of slack-go's SecretsVerifier, with an injected clock).
//
// # Answers
//
// 202 once the delivery row and its job are committed; 2xx for a duplicate,
// with nothing new enqueued; 401 for a missing, wrong or stale signature; 413
// for a body over the limit; 404 for an unknown path; 503 when the store or
// the audit log cannot be written (the provider retries). Request bodies are
// never logged: Slack sends tokens in them.
package webhook
