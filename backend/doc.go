// Package backend runs what a schema declares: it executes mutators in
// storage transactions, calls actions, runs enqueued actions durably after
// their mutator commits, and offers client-facing reads that never show
// server-only tables.
//
// An app registers typed implementations in a [Config]:
//
//	cfg := backend.Config{
//		Schema: app.Schema,
//		Mutators: []backend.MutatorImpl{
//			backend.Mutator(app.SetTodo, func(ctx *backend.MutatorCtx, in app.Todo) error {
//				return backend.TableOf(ctx, app.Todos).Set(in.ID, in)
//			}),
//		},
//		Actions: []backend.ActionImpl{
//			backend.Action(app.Generate, generate),
//		},
//	}
//	eng, err := backend.Open(cfg, backend.Options{Path: "todo.db"})
//
// The engine is the only door to the data. Every write from outside a
// mutator goes through [Engine.Mutate] (a client's push with the [Once]
// option, so a retry applies once); reads ([Engine.Get], [Engine.Scan],
// [Engine.Run], [Engine.ChangesSince], [Engine.ClientState]) take the
// caller's context; changes are watched through a [Feed] from
// [Engine.Subscribe] or [Engine.WatchRun]. A replica engine
// (Options.Replica) rebases its local copy with [Engine.Rebase]. None of
// these shows a server-only table.
//
// Mutators run in exactly one transaction each: everything they write, and
// every action they enqueue, commits together or not at all; a mutator
// running another ([Mutate] with a *MutatorCtx) runs it as a step of that
// transaction. Actions are not transactional: they write only through
// mutators ([Mutate] with an *ActionCtx), each call its own committed
// transaction that subscribers see at once. [Mutate], [Enqueue] and [Act]
// take the schema's declarations, so the compiler checks the input type.
//
// Mutators and actions declared with schema.Internal are server code's: the
// calls above and [Engine.Mutate] / [Engine.Act] reach them, while a
// client's push ([Once]) and the MCP tools ([Engine.ClientMutators],
// [Engine.ClientActions], [Engine.Run], [Mutation.ClientRuns]) see no such
// name, and a replica engine runs an internal mutator only as a step of
// another.
//
// Enqueued actions (the transactional outbox) are recorded as [Run]s in the
// same transaction as the mutator and run by a pool of workers after the
// commit; a run that was queued or running when the process stopped runs
// again on the next Open. See [Options] for the retry policy. A run whose
// start cannot be recorded (a storage error) is retried in the same process;
// a run that ends failed runs its action's [OnFailure] handler, in the
// transaction that records the failure.
//
// Every call meets the engine's limits before any handler runs: the size of
// an input (Options.MaxInputBytes) and of a row (Options.MaxRowBytes, or
// schema.MaxRowBytes per table), keys of at most [MaxKeyBytes] of valid
// UTF-8, and JSON text that decodes without silent replacement
// ([CheckJSONText]). Failures that are not the caller's or the handler's
// own (panics, storage failures) come back as [ErrInternal] with a reference
// id; the detail goes to the log.
package backend
