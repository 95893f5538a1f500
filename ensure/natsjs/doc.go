// Package natsjs brings NATS JetStream streams and durable consumers to a
// declared configuration, so that a change creating or updating them can be
// run again safely.
//
// Each helper reads first and writes only what differs:
//
//	Stream          absent: created; present: must match
//	UpdateStream    at to: nothing; at from: updated; neither: conflict
//	RemoveStream    absent: nothing; matching and empty: deleted
//	Consumer        absent: created; present: must match
//	RemoveConsumer  absent: nothing; matching: deleted
//
// A state the helper was not told to expect is a *ensure.ConflictError
// listing each differing field by its JSON name, as NATS prints it
// ("max_age: have 1h0m0s, want 24h0m0s"); nothing is written then.
//
// # What is compared
//
// For a stream: name, description, subjects (as a set: order and
// repetitions ignored), retention, max_consumers, max_msgs, max_bytes,
// discard, max_age, max_msgs_per_subject, max_msg_size, storage,
// num_replicas, duplicate_window, no_ack, allow_direct, deny_delete,
// deny_purge, allow_rollup_hdrs. For a consumer: name, durable_name,
// description, deliver_policy, opt_start_seq, opt_start_time, ack_policy,
// ack_wait, max_deliver, backoff, filter_subject, filter_subjects,
// replay_policy, rate_limit_bps, sample_freq, max_waiting, max_ack_pending,
// headers_only, max_batch, max_expires, max_bytes, inactive_threshold,
// num_replicas, mem_storage. Other settings are neither compared nor, by
// UpdateStream, changed.
//
// A field left zero in the configuration a helper is given stands for "the
// server's default" and is not compared: the server fills such fields in
// (max_msgs -1, duplicate_window 2m…), so a zero cannot be told from a
// default in what it returns, and cannot assert a value either (a want of
// max_msgs 0 accepts a stream of any max_msgs). Set the fields that matter.
// The policies are the exception (retention, discard, storage,
// deliver_policy, ack_policy, replay_policy): their zero is itself the
// server's default choice (limits, old, file, all, explicit, instant), so
// they are always compared, and a want that leaves storage unset finds a
// stream kept in memory.
// UpdateStream compares, in addition, every field that differs between its
// from and to, so that a rollback to a default is seen.
//
// After creating or updating, a helper checks that the server kept every
// compared field: a server older than a setting (filter_subjects needs NATS
// 2.10) ignores it rather than refusing, and that is reported as an error.
//
// # Retry safety
//
// A change may declare recovery=retry only if running it again after it ran
// partly or fully gives the same end state and no extra effect. A change
// made of these helpers does: a retry finds the stream or consumer as the
// first run left it and writes nothing, and one that finds a state nobody
// declared stops with a conflict instead of overwriting it. Publishing
// messages is not retry-safe (a retry publishes them again, and after a
// crash only a person can say whether they were): such a change stays
// recovery=manual.
//
// A change and its rollback:
//
//	var ordersStream = jetstream.StreamConfig{
//		Name:     "ORDERS",
//		Subjects: []string{"orders.>"},
//		MaxAge:   24 * time.Hour,
//	}
//
//	//flamingock:change id=orders-stream order=2 target=events recovery=retry rollback=DropOrdersStream
//	func OrdersStream(ctx context.Context, js jetstream.JetStream) error {
//		_, err := natsjs.Stream(ctx, js, ordersStream)
//		return err
//	}
//
//	func DropOrdersStream(ctx context.Context, js jetstream.JetStream) error {
//		_, err := natsjs.RemoveStream(ctx, js, ordersStream)
//		return err
//	}
package natsjs
