// Package remote runs a search's trials on other hosts through NATS
// JetStream: one coordinator (the process that owns the search's store)
// hands out tasks, any number of workers evaluate them and send their
// results back. The server is either embedded in the coordinator
// (StartServer: one host, tests) or an existing NATS deployment (Connect).
//
// # Pieces
//
//   - Coordinator hands out tasks: Submit a Task (Resubmit one an earlier
//     coordinator submitted), receive each Result from Results, Ack it
//     once recorded, Close.
//   - Executor is search.Run's executor on top of a Coordinator (a
//     search.Durable): it names the search on the server after its record
//     (SearchID: name and creation time), sends every task with the
//     search's evaluator settings and turns results into the search's.
//   - Work is a worker's loop: it takes one task at a time, calls an
//     EvalFunc, and sends the result back. SearchEval is the EvalFunc of
//     nas worker: it builds the search's evaluator from the task's
//     settings (search.EvaluatorSpec), with the datasets of the worker's
//     machine, and refuses tasks of a search that times on another kind
//     of host (ErrNotForThisWorker: the worker hands the task back and
//     stops).
//   - StartServer runs the embedded server; Connect dials any server,
//     with the credentials and TLS settings a network that is not trusted
//     calls for. OpenQueue does either for nas search --queue.
//
// # Streams, subjects and consumers
//
// NewCoordinator creates them, or updates them to its settings, at every
// start:
//
//	TRIALS            trials.<search>    work queue, file, 1h duplicate window
//	  workers         durable pull consumer of every worker: explicit ack,
//	                  AckWait (lease, 60s), MaxDeliver (3), up to 4096 out
//	RESULTS           results.<search>.<trial>.<attempt>
//	                                     file, kept 7 days, 1h duplicate window
//	  results-<search> durable pull consumer of that search's coordinator,
//	                  starting at its creation, ack wait 5s; removed
//	                  when the search is over (Coordinator.Remove)
//	TRIAL_ADVISORIES  the server's MAX_DELIVERIES and MSG_TERMINATED
//	                  advisories about TRIALS/workers, kept 7 days
//	  advisories-<search> durable consumer of that search's coordinator
//
// RESULTS keeps acknowledged results rather than deleting them (a work
// queue): a queue that empties at every result replaces its block file each
// time, a synced file creation and deletion per trial that the coordinator
// pays in its busiest moment (measured with strace on the simulated
// search: 5.2 to 4.2 fsyncs, 2.4 to 1.3 file creations per trial). Kept
// results also show what workers sent.
//
// <search> is the search name when it is a plain token ([A-Za-z0-9_-],
// up to 64 characters), otherwise "~" and a hash of it. Each coordinator on
// a server needs a search name of its own: two coordinators with one name
// would take each other's results.
//
// # Messages
//
// A task is a Task as JSON (wire version, search, trial, attempt, seed, the
// architecture document, the evaluator's settings) with headers Nas-Search,
// Nas-Trial and Nas-Attempt and the message id <search>/<trial>/<attempt>.
// A result is a Result as JSON (measurement, error text, worker name, host
// fingerprint, times) with the message id <search>/<trial>/<attempt>/result.
// Both ids make publishing idempotent: the server stores a message once per
// id within its duplicate window, even after the first copy was consumed.
// A retried attempt needs, and gets, a new attempt number; the result id
// carries the attempt so that a retry's result is not taken for a copy of
// the failed attempt's. A coordinator that restarts submits again what its
// store has in flight, with the same attempt numbers (Resubmit). A server
// that restarted, though, rebuilds its ids from the messages it still
// holds and forgets the tasks workers already took: Resubmit therefore
// first looks for the attempt's result on its own subject, and queues the
// task only when there is none, so that a trial that ended while the
// coordinator was down does not run again.
//
// # A trial's life
//
//  1. Submit queues the task; a goroutine publishes it until the server
//     acknowledges it, and remembers its stream sequence. Tasks queued
//     together are published without waiting for one another's
//     acknowledgement (a wave of trials reaches its workers in about one
//     round trip).
//  2. A worker pulls one message at a time (Messages with
//     PullMaxMessages(1)). The default pull keeps up to 500 messages in the
//     client: a buffered trial's lease would run out while another trained,
//     so it would run twice and other workers would sit idle.
//  3. While the trial runs, and until its ack is confirmed, the worker
//     sends InProgress every AckWait/4: each renews the lease in full, so a
//     trial may train for hours while a dead worker is noticed within one
//     lease.
//  4. The worker publishes the result, retrying under the same id until
//     the server confirms it (the server may be restarting), then acks the
//     trial (DoubleAck: confirmed by the server; it completes in the
//     background while the worker already waits for its next trial). The
//     result is stored before the worker takes another trial, so that a
//     worker killed by its next trial does not lose this one's result.
//     Failures the worker sees (evaluator error or panic, an architecture
//     that does not decode) are results with an error, acked like any.
//  5. The coordinator pulls results in bursts (the trials of a wave end
//     together; the search records a burst in one commit) and delivers
//     them; the caller records each and then calls Ack. A crash between the two delivers the result again, so the
//     caller must ignore a result for a trial it already recorded: its
//     store, not the server, is the final dedupe. (The duplicate window
//     ends, and a late ack from a slow first worker is accepted, so an ack
//     does not prove that a trial ran only once.)
//
// # Failures
//
//   - A worker dies or hangs: its lease runs out and the trial goes to
//     another worker, AckWait after its last heartbeat.
//   - A trial kills every worker it reaches: after MaxDeliver deliveries the
//     server gives it up and sends a MAX_DELIVERIES advisory. The server
//     sends advisories only to whoever listens at that moment, so the
//     advisories stream keeps them for a coordinator that is down. The
//     coordinator maps the advisory's stream sequence to the trial (its own
//     record of what it published, else the message's headers), delivers a
//     failed Result wrapping ErrMaxDeliveries, and on Ack deletes the
//     message: a work queue keeps a message that reached MaxDeliver
//     forever.
//   - A worker cannot read a task: it terminates the message with the
//     reason; the MSG_TERMINATED advisory becomes a failed Result wrapping
//     ErrRejected. A task of another wire version is handed back instead
//     and the worker stops with an error: an out-of-date worker must not
//     fail every trial it meets.
//   - A worker is stopped (its context cancelled, Ctrl-C): see
//     WorkerOptions.Grace. By default it hands its trial back at once (Nak)
//     for another worker; a hand-back counts as a delivery.
//   - The coordinator dies or restarts: trials, results and the consumers'
//     positions stay on the server (with the embedded server: in its
//     directory, every write synced before it is acknowledged). Workers
//     keep training and reconnect by themselves; results wait in RESULTS
//     past the consumer's acknowledged position, and those the dead
//     coordinator had pulled but not recorded come again after the results'
//     ack wait (5s).
//     AckWait must stay far above a restart plus reconnection (60s against
//     seconds), or trials running through the restart are run again. The
//     server writes a consumer's position at most ten times a second, so
//     a trial handed to a worker within 0.1s before an embedded server is
//     killed is handed out again after the restart and may run twice; its
//     second result is dropped.
//   - The server is unreachable: the coordinator keeps retrying its
//     publishes; workers keep their trial and retry sending its result. A
//     connection closed for good (credentials refused) ends Work with an
//     error and closes the coordinator's Done channel.
//
// The embedded server listens on a fixed address: workers reconnect to the
// address they know, and a port chosen afresh at each start would strand
// them.
package remote
