package main

import (
	"fmt"
	"io"
	"strings"
)

// printAbuse writes the abuse phase's report for a person.
func printAbuse(w io.Writer, r abuseReport) {
	c := r.Config
	fmt.Fprintf(w, "abuse phase against `serve --http` (child process %d)", r.ServerPID)
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
	fmt.Fprintf(w, "this process (the probes): max RSS %.1f MB\n", r.ClientMaxRSSMB)
	fmt.Fprintf(w, "server open files: %d at the start, %d at the peak, %d at the end (after %s; slack %d)\n",
		r.FDsStart, r.FDsPeak, r.FDsEnd, r.SettleWait, abuseFDSlack)
	fmt.Fprintf(w, "server log: %d warnings, %d errors\n", r.ServerLog.Warnings, r.ServerLog.Errors)
	for _, l := range r.ServerLog.Samples {
		fmt.Fprintf(w, "  %s\n", l)
	}
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

// judgeAbuse fills the report's problems, unmet expectations and verdict.
func judgeAbuse(rep *abuseReport, interrupted bool) {
	cfg := rep.Config
	if interrupted {
		rep.Problems = append(rep.Problems, "interrupted")
	}
	if rep.MaxRSSMB > cfg.MaxRSSMB {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the server's max RSS was %.1f MB, over --max-rss-mb %.0f", rep.MaxRSSMB, cfg.MaxRSSMB))
	}
	if rep.FDsEnd > rep.FDsStart+abuseFDSlack {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the server holds %d open files %s after the probes, %d at the start (slack %d)",
			rep.FDsEnd, rep.SettleWait, rep.FDsStart, abuseFDSlack))
	}
	if rep.ServerLog.Panicked {
		rep.Problems = append(rep.Problems, "the server panicked: "+strings.Join(rep.ServerLog.Samples, "; "))
	}
	if rep.Normal.Failed > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d of the normal client's %d calls failed", rep.Normal.Failed, rep.Normal.Calls))
	}
	if rep.Normal.OK == 0 {
		rep.Problems = append(rep.Problems, "the normal client made no acknowledged write")
	}
	for _, v := range rep.Verify {
		switch {
		case v.Error != "":
			rep.Problems = append(rep.Problems, fmt.Sprintf("reading the acknowledged writes back (%s): %s", v.When, v.Error))
		case v.Missing > 0:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%d of %d acknowledged writes missing or changed (%s)", v.Missing, v.Acked, v.When))
		}
	}
	if len(rep.Verify) < 2 && len(rep.Problems) == 0 {
		rep.Problems = append(rep.Problems, "the writes were not read back after a restart")
	}
	for _, p := range rep.Probes {
		if !p.Met {
			rep.Unmet = append(rep.Unmet, fmt.Sprintf("%s: expected %s; seen %s", p.Name, p.Expected, p.Seen))
		}
	}
	if cfg.Strict && len(rep.Unmet) > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d probe expectations not met (--abuse-strict)", len(rep.Unmet)))
	}
	rep.Pass = len(rep.Problems) == 0
}

// abuseLog is what the server logged at WARN and above during the phase.
type abuseLog struct {
	Warnings int      `json:"warnings"`
	Errors   int      `json:"errors"`
	Panicked bool     `json:"panicked"`
	Samples  []string `json:"samples,omitempty"` // the first of each level
}

func scanServerLog(logs string) abuseLog {
	var l abuseLog
	for _, line := range strings.Split(logs, "\n") {
		switch {
		case strings.Contains(line, "level=ERROR"):
			if l.Errors == 0 {
				l.Samples = append(l.Samples, abuseShort(line, 300))
			}
			l.Errors++
		case strings.Contains(line, "level=WARN"):
			if l.Warnings == 0 {
				l.Samples = append(l.Samples, abuseShort(line, 300))
			}
			l.Warnings++
		case strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:"):
			l.Panicked = true
			l.Samples = append(l.Samples, abuseShort(line, 300))
		}
	}
	return l
}
