// Package crashproof proves the guarantee of DESIGN §1 on systems that are
// not databases, counted on the servers themselves: NATS JetStream,
// RabbitMQ, Redis and an HTTP API. It holds tests only (issue 17, item 3),
// in the examples/platform module, which has the clients the core module
// keeps out.
//
// # The crash matrix
//
// TestCrashMatrix runs, for every target × change kind × direction ×
// crash point a change without a transaction meets in that direction, a
// child process (the test binary itself) that dies by SIGKILL at that
// point of the second of three changes, as internal/crashmatrix does for
// databases. Each change is declared with pipeline.NewChange on
// pipeline.NonTransactional(handle), the handle being the real client
// (jetstream.JetStream, *amqp.Connection, *redis.Client, *http.Client), and
// does two steps with crash.Hit(ctx, crash.InApply) between them; its undo
// takes the second step back, hits crash.InRollback, then takes back the
// first. The kinds:
//
//   - ensure, recovery=retry, built on the ensure helpers: a stream, then a
//     durable consumer on it (ensure/natsjs); a fanout exchange, then a
//     queue bound to it (ensure/rabbitmq); two flags set from absent
//     (ensure/redisflag); two JSON documents put from absent
//     (ensure/httpjson). The undo removes them with the same helpers.
//   - append, recovery=manual, an effect a retry would repeat: a message
//     published to a stream (JetStream acknowledges it), a message
//     published to a queue with publisher confirms, INCRBY 1, a POST that
//     creates a resource with an id the server assigns. The undo appends
//     the inverse (a message on an undo subject or queue, INCRBY -1, a POST
//     of delta -1), so that a change's count on the server is the
//     difference.
//
// The points: applying, before-started, after-started, in-apply,
// after-apply, after-applied; undoing (the child applies all three, rolls
// back to the first, and dies in the undo of the second, the third undone
// already), before-started, after-started, in-rollback, after-rollback,
// after-rolled-back. Each case checks first that the point left what its
// name promises (the second change's latest state and how many of its
// steps hold on the server). The audit store is a SQLite file per case;
// the children's lease is two seconds, so that the restart soon takes over.
//
// The restart, in the parent, runs the pipeline and must do what DESIGN §6
// says. Under recovery manual an uncertain change (STARTED, FAILED,
// ROLLBACK_FAILED) is an issue that runs nothing; the operator counts the
// change on the server, finishes by hand one left half-way (the missing
// second step of an apply, or the remaining first step of an undo), and
// runs the command the issue prints through the real CLI code
// (internal/cli.Do): --resolution applied when both steps hold, rolled-back
// when none does. The next run then completes. Every change must then hold
// on the server exactly as the trail says: both steps of each, counted by
// StreamInfo (the stream's settings and consumer; the log stream's messages
// per subject), passive declares (the exchange and the queue exist; the
// log queues' message counts), GET of the flags and the counter, and the
// HTTP server's own state. Then, in every case, a rollback to the first
// change must take each later one back exactly once (in an undo case, it
// finishes what the child began). The test prints
//
//	crash matrix (beyond databases): 80 cases (40 of them undo) on nats, rabbitmq, redis, http: 0 lost, 0 doubled, 0 silent
//
// and fails on any nonzero count:
//
//   - lost: a change that does not hold wholly at the end (an effect
//     missing for a change the trail says applied, or an apply that never
//     happened and was not reported), or a rollback that did not take;
//   - doubled: for an append change, a count beyond its two steps at the
//     end, or an undo taken more than once; for an ensure change, a retry
//     that wrote again what held: the HTTP server counts every request by
//     method and path and each write that changed nothing (a PUT of the
//     document already there, a DELETE of one absent), which must be none;
//     the NATS stream and consumer of the second change that existed before
//     the restart must keep their creation time (not removed and created
//     again). RabbitMQ declares and Redis's compare-and-set write nothing
//     the server could count beyond the state, which is checked;
//   - silent: an uncertain state under recovery manual that a run went past
//     without an issue (the restart, and every transition of the trails).
//
// # Fault cuts
//
// TestFaultCuts runs the RabbitMQ changes of both kinds through
// faultproxy.NewAMQP (internal/faultproxy). It first records the AMQP
// method frames the second change sends, applying and undoing
// (channel.open, exchange.declare passive and active, queue.declare,
// queue.bind, queue.unbind, queue.delete, exchange.delete, confirm.select,
// basic.publish, channel.close…), then, for each of them and each
// occurrence, cuts the connection before the server sees the frame and
// after it did, before its answer reaches the client. The run with the
// cut must never leave the trail saying APPLIED (or ROLLED_BACK) unless
// the server holds that state; a run that returns no error must leave no
// uncertain state. Then the pipeline settles on a new connection, the
// proxy forwarding again, exactly as after a crash above: under retry the
// next run completes; under manual it is an issue, resolved with the CLI
// after counting; counts exact. It prints
//
//	fault proxy (rabbitmq): 116 cuts at 11 methods (108 failed the run; the others at channel.close, after the change's work was acknowledged): 0 false APPLIED, 0 lost, 0 doubled, 0 silent
//
// and fails on any nonzero count, or a fault that never fired. The cuts
// that do not fail the run are at the last channel.close of the change,
// after the server acknowledged its work: the helpers do not wait on it,
// and the trail rightly says APPLIED (or ROLLED_BACK).
//
// TestProxyCutsAQueueDeclare is the proxy's own test on the real server:
// queue.declare cut before forwarding leaves no queue; after forwarding,
// the queue exists while the client got an error.
//
// The servers come from FLAMINGOCK_TEST_NATS, FLAMINGOCK_TEST_AMQP and
// FLAMINGOCK_TEST_REDIS (internal/testenv); the HTTP API is an httptest
// server in the parent test process, which the children reach by its URL.
// Every case has resource names of its own, removed at its end. Cases run
// eight at a time unless -parallel says otherwise.
package crashproof
