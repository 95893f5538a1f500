// Package ensure holds what the helpers of its subpackages share: the
// outcome of making a system hold a state, and the errors that say why it
// could not.
//
// A change to a system without transactions (a message broker, a cache, an
// HTTP API) runs between a STARTED and an APPLIED entry; a crash between
// the two leaves the audit trail unable to say whether the change took
// effect. recovery=retry tells the runner to run such a change again, which
// is safe only for a change that gives the same result however many times,
// and however far, it has run before. The subpackages make that the easy
// way to write one: each helper brings the system to a declared state,
// looking first and writing only what differs, and refuses a state it was
// not told to expect instead of overwriting it.
//
//	natsjs    NATS JetStream streams and consumers
//	rabbitmq  RabbitMQ exchanges, queues and bindings
//	redisflag flags (string keys) in Redis, set by compare-and-set
//	httpjson  a JSON document held at an HTTP URL (a gateway's route, an
//	          API's configuration)
//
// The helpers come in three shapes: create-or-verify (Stream,
// DeclareQueue, Ensure…: absent is created, present must match), transition
// (UpdateStream, Set, Put: from one declared state to another; a retry that
// finds the state it leads to does nothing, one that finds neither state
// stops with a *ConflictError), and remove (the undo of a create: absent is
// done, present must still match, and a resource that holds data is not
// removed). RabbitMQ has no transition: the server cannot change a queue's
// or an exchange's settings in place.
package ensure
