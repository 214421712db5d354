// Package worker runs the jobs of stored webhook deliveries: it hands each
// delivery to its provider's handler, records the outcome in the delivery
// row and the audit log, retries failures with backoff, dead-letters a
// delivery after WEBHOOK_MAX_ATTEMPTS and replays dead letters on request.
//
// # Handlers
//
//   - Stripe checkout.session.completed and payment_intent.succeeded: parsed by
//     internal/provider/stripe.ParseEvent and recorded with the same
//     payments.Ledger.Record as the recordPaymentEvent tool, so a webhook and a
//     tool call for one event record it once. Ordering is the ledger's: an
//     event older than the last one applied to its object comes back Stale
//     and is audited with status "stale". The sandbox/live rule applies as in
//     the tool.
//   - GitHub issues, issue_comment, push and release, and Slack event_callback:
//     an audit record naming the repository or channel.
//   - Any other event: audited as "recorded" and acknowledged; a Stripe
//     event whose livemode contradicts the environment is "rejected", as a
//     handled one is.
//
// # Exactly once, and what is only at least once
//
// A delivery is marked processed in the same transaction that completes its
// River job, and only if it was not processed before, so its row moves to
// processed once. Handlers may run again after a crash between their effect
// and that commit: the ledger is idempotent by event id, and the audit log
// may then show a second "processed" record with the same idempotencyKey.
package worker
