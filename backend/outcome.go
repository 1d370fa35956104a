package backend

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// recordOutcome records a finished attempt, retrying with backoff while
// storage fails, so that a run does not stay "running" until the next Open.
// It reports false when the engine closed first (the next Open runs the run
// again).
func (e *Engine) recordOutcome(run *Run) bool {
	for n := 0; ; n++ {
		var failed *failedRun
		_, err := e.update(withRunCause(context.Background(), run.ID, run.Action), func(tx *storage.WriteTx) error {
			failed = nil
			if e.shared {
				if err := e.checkHeld(tx, run); err != nil {
					return err
				}
			}
			if err := keepRecorded(tx, run); err != nil {
				return err
			}
			if run.Status == RunFailed {
				var err error
				failed, err = e.recordFailed(tx, run)
				return err
			}
			return putRunEntry(tx, run, queueEntry{Owner: e.self})
		})
		if err == nil {
			e.committed(failed)
			return true
		}
		if errors.Is(err, storage.ErrClosed) {
			return false
		}
		if errors.Is(err, errTaken) {
			e.log.Warn("an action run was taken over by another instance while this one ran it (its lease lapsed); the other's attempt counts", "run", run.ID)
			return false
		}
		wait := min(e.opts.RetryBackoff<<min(n, 16), time.Minute)
		e.log.Error("recording an action run's outcome failed; retrying", "run", run.ID, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// keepRecorded carries into an attempt's outcome what was recorded in the
// run while the attempt ran: run holds the record as the attempt read it at
// its start. A cancel (CancelRun commits before it cancels the attempt's
// context, and another replica's reaches the owner only through the change
// feed) turns a retry into a cancelled end; answers from tasks/update
// (AnswerRun) are kept for the next attempt to find.
func keepRecorded(tx *storage.WriteTx, run *Run) error {
	data, ok, err := tx.Get(RunsTable, run.ID)
	if err != nil {
		return err
	}
	var cur Run
	if !ok || json.Unmarshal(data, &cur) != nil {
		return nil // nothing readable to keep: the outcome stands alone
	}
	if len(cur.InputResponses) > 0 {
		run.InputResponses = cur.InputResponses
	}
	if !cur.CancelRequested {
		return nil
	}
	run.CancelRequested = true
	if run.Status == RunQueued {
		now := time.Now().UTC()
		run.Status, run.FinishedAt, run.NextAttemptAt = RunFailed, &now, nil
		run.Cancelled, run.Error, run.ErrorKind = true, cancelledError, ""
	}
	return nil
}
