package payments

import (
	"sort"
	"strconv"
	"strings"
)

// stages lists, for each kind of object whose events the worker hands to the
// ledger, its event types in the order Stripe's documented lifecycle sends
// them. Types in one stage exclude each other (a session expires or
// completes, never both) or have no fixed order between them. Stripe stamps
// events with whole seconds and draws their ids at random, so two events of
// one object in the same second need this order: without it, the money of
// a delayed payment (async_payment_succeeded) could sort before its session's
// unpaid completion and be kept stale.
var stages = [][][]string{
	{ // checkout.session (cs_...): it ends, then a delayed payment settles.
		{"checkout.session.completed", "checkout.session.expired"},
		{"checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed"},
	},
	{ // payment_intent (pi_...): attempts, failed or pending, come before its end.
		{"payment_intent.created"},
		{"payment_intent.requires_action", "payment_intent.processing", "payment_intent.amount_capturable_updated",
			"payment_intent.partially_funded", "payment_intent.payment_failed"},
		{"payment_intent.succeeded", "payment_intent.canceled"},
	},
}

// ranks maps each event type of stages to its stage, counted from 1.
var ranks = func() map[string]int {
	m := map[string]int{}
	for _, object := range stages {
		for i, stage := range object {
			for _, typ := range stage {
				m[typ] = i + 1
			}
		}
	}
	return m
}()

// Rank is the place of an event type in its object's life: of two events of
// one object created in the same second, the one of higher rank happened
// later. A type with no known place ranks 0, before the known ones; events
// of equal rank are ordered by event id, a tie-break, not time order.
func Rank(eventType string) int {
	return ranks[eventType]
}

// RankSQL is Rank as an SQL expression over the event type in column, for a
// store that orders events inside the one statement that moves an object
// forward, so that no concurrent Record comes between the comparison and the
// move. It is standard SQL, read alike by SQLite and PostgreSQL, and built
// from the same stages as Rank, so the two cannot disagree.
func RankSQL(column string) string {
	types := make([]string, 0, len(ranks))
	for typ := range ranks {
		types = append(types, typ)
	}
	sort.Strings(types) // the same text every time, whatever the map order
	var b strings.Builder
	b.WriteString("CASE " + column)
	for _, typ := range types {
		b.WriteString(" WHEN '" + strings.ReplaceAll(typ, "'", "''") + "' THEN " + strconv.Itoa(ranks[typ]))
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}
