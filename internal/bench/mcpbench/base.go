package main

import (
	"fmt"
	"time"
)

// baseLatency compares two builds of saas-mcp in one run: createTicket
// through bin and through base (-base, a binary built from another
// commit), alternating rounds of n sequential calls, with the default
// settings and with STORE_SYNC=NORMAL AUDIT_SYNC=never (no fsync on the
// path, so what is left is the code's own time). A change's gain or cost is
// the ratio of the medians, not a figure from another run on a noisy
// machine.
func baseLatency(bin, base string, env []string, n, rounds int) error {
	fast := fastEnv(env)
	type series struct{ p50, ping []time.Duration }
	var got [2][2]series // [build][settings]
	builds := []string{bin, base}
	for r := 0; r < rounds; r++ {
		for i := range builds {
			// Each build goes first in every other round, so that neither
			// always runs on the machine the other has just warmed.
			b := (i + r) % 2
			path := builds[b]
			for s, e := range [][]string{env, fast} {
				p50, ping, err := sequential(path, e, nil, n, createTicketParams)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				got[b][s].p50 = append(got[b][s].p50, p50)
				got[b][s].ping = append(got[b][s].ping, ping)
			}
		}
	}
	fmt.Printf("createTicket, this build against -base (%d alternating rounds of %d sequential calls, raw JSON-RPC client):\n", rounds, n)
	for s, label := range []string{"defaults", "STORE_SYNC=NORMAL AUDIT_SYNC=never"} {
		o, t := median(got[0][s].p50), median(got[1][s].p50)
		fmt.Printf("  %-34s this p50 %.3f ms (ping %.3f; rounds %s), base p50 %.3f ms (ping %.3f; rounds %s): %.2fx\n", label,
			ms(o), ms(median(got[0][s].ping)), list(got[0][s].p50), ms(t), ms(median(got[1][s].ping)), list(got[1][s].p50), float64(o)/float64(t))
	}
	return nil
}
