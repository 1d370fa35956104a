package main

import (
	"fmt"
	"io"
)

// printAbuse writes the abuse phase's report for a person.
func printAbuse(w io.Writer, r abuseReport) {
	c := r.Config
	fmt.Fprintf(w, "abuse phase against `mcp-sync serve --http` (child process %d)", r.ServerPID)
	if len(c.ServerArgs) > 0 {
		fmt.Fprintf(w, " with %v", c.ServerArgs)
	}
	fmt.Fprintf(w, "; AI stream delay %s\n\n", c.AIDelay)
	for _, p := range r.Probes {
		verdict := "met"
		if !p.Met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(w, "%s: %d sent in %.1f s (server RSS then %.1f MB)\n", p.Name, p.Sent, p.Seconds, p.ServerRSSMB)
		fmt.Fprintf(w, "  expected: %s: %s\n", p.Expected, verdict)
		fmt.Fprintf(w, "  seen:     %s\n", p.Seen)
		for _, o := range p.Outcomes {
			fmt.Fprintf(w, "  %7d  %s", o.Count, o.Kind)
			if o.Sample != "" {
				fmt.Fprintf(w, "  (%s)", o.Sample)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nnormal client (%s, setTodo on its own keys throughout): %d calls, %d ok (p50 %.1f ms, p99 %.1f ms, max %.1f ms), %d failed\n",
		r.Normal.Era, r.Normal.Calls, r.Normal.OK, r.Normal.P50Ms, r.Normal.P99Ms, r.Normal.MaxMs, r.Normal.Failed)
	for _, f := range r.Normal.Failures {
		fmt.Fprintf(w, "  %s\n", f)
	}
	for _, v := range r.Verify {
		fmt.Fprintf(w, "acknowledged writes %s: %d of %d present", v.When, v.Present, v.Acked)
		if v.Error != "" {
			fmt.Fprintf(w, "; the check failed: %s", v.Error)
		}
		fmt.Fprintln(w)
		for _, s := range v.Samples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintf(w, "server RSS: %.1f MB at the start, max %.1f MB (VmHWM; limit %.0f), %.1f MB at the end\n",
		r.StartRSSMB, r.MaxRSSMB, c.MaxRSSMB, r.EndRSSMB)
	fmt.Fprintf(w, "server open files: %d at the start, %d at the peak, %d at the end (after %s; slack %d)\n",
		r.FDsStart, r.FDsPeak, r.FDsEnd, r.SettleWait, abuseFDSlack)
	if len(r.Unmet) > 0 {
		note := "reported, not failed: --abuse-strict fails on them"
		if c.Strict {
			note = "failing the run: --abuse-strict"
		}
		fmt.Fprintf(w, "probe expectations not met (%s):\n", note)
		for _, u := range r.Unmet {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS")
		return
	}
	fmt.Fprintln(w, "FAIL:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}
