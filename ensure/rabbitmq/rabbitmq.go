package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/flamingock/flamingock-go/ensure"
)

// Exchange is an exchange as a change declares it; the fields are the
// arguments of exchange.declare.
type Exchange struct {
	Name string
	// Kind is the exchange type: "direct", "fanout", "topic", "headers".
	Kind       string
	Durable    bool
	AutoDelete bool
	Internal   bool
	// Args are the optional arguments ("alternate-exchange").
	Args amqp.Table
}

// Queue is a queue as a change declares it; the fields are the arguments
// of queue.declare.
type Queue struct {
	Name       string
	Durable    bool
	AutoDelete bool
	// Exclusive makes the queue belong to the connection the helper is
	// given, and disappear with it.
	Exclusive bool
	// Args are the optional arguments ("x-queue-type", "x-message-ttl",
	// "x-dead-letter-exchange"…).
	Args amqp.Table
}

// Binding routes the messages of Exchange whose routing key matches Key to
// Queue.
type Binding struct {
	Queue    string
	Exchange string
	Key      string
	// Args are the binding's arguments (the headers of a headers
	// exchange, "x-match"); Unbind must be given the same ones.
	Args amqp.Table
}

func (x Exchange) resource() string { return "exchange " + x.Name }
func (q Queue) resource() string    { return "queue " + q.Name }
func (b Binding) resource() string {
	return fmt.Sprintf("binding of queue %s to exchange %s (key %q)", b.Queue, b.Exchange, b.Key)
}

// DeclareExchange makes the exchange x.Name exist with the settings of x.
//
// A passive declare looks first. Absent, the exchange is declared
// (ensure.Created). Present, it is declared again with x's settings, which
// the server accepts only if they are equivalent to the exchange's: then
// nothing changed (ensure.Unchanged); otherwise the server answers 406
// PRECONDITION_FAILED and the result is a *ensure.ConflictError carrying
// its text ("inequivalent arg 'durable' for exchange 'orders' in vhost
// '/': received 'false' but current is 'true'"), the exchange untouched.
func DeclareExchange(ctx context.Context, conn *amqp.Connection, x Exchange) (ensure.Outcome, error) {
	if err := x.check(); err != nil {
		return 0, err
	}
	exists, err := exchangeExists(ctx, conn, x.Name)
	if err != nil {
		return 0, err
	}
	err = onChannel(ctx, conn, x.resource(), "declare", func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(x.Name, x.Kind, x.Durable, x.AutoDelete, x.Internal, false, x.Args)
	})
	if err != nil {
		return 0, conflict(x.resource(), err)
	}
	if !exists {
		return ensure.Created, nil
	}
	return ensure.Unchanged, nil
}

// DeclareQueue makes the queue q.Name exist with the settings of q, as
// DeclareExchange does for an exchange: absent, declared
// (ensure.Created); present and equivalent, ensure.Unchanged; present and
// different, a *ensure.ConflictError with the server's text. RabbitMQ
// compares durable, auto_delete, exclusive and the arguments it knows
// (x-queue-type, x-message-ttl, x-max-length, x-dead-letter-exchange…);
// an argument it does not know is not compared. A queue exclusive to
// another connection cannot be looked at: that is an error (405
// RESOURCE_LOCKED), not a conflict, as it goes with its connection.
func DeclareQueue(ctx context.Context, conn *amqp.Connection, q Queue) (ensure.Outcome, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	exists, err := queueExists(ctx, conn, q.Name)
	if err != nil {
		return 0, err
	}
	if _, err := declareQueue(ctx, conn, q); err != nil {
		return 0, err
	}
	if !exists {
		return ensure.Created, nil
	}
	return ensure.Unchanged, nil
}

// Bind binds b.Queue to b.Exchange with b.Key (ensure.Declared: AMQP
// declares a binding without saying whether it existed, and declaring it
// again changes nothing). A missing queue or exchange is an error naming
// it.
func Bind(ctx context.Context, conn *amqp.Connection, b Binding) (ensure.Outcome, error) {
	if err := b.check(); err != nil {
		return 0, err
	}
	err := onChannel(ctx, conn, b.resource(), "bind", func(ch *amqp.Channel) error {
		return ch.QueueBind(b.Queue, b.Key, b.Exchange, false, b.Args)
	})
	if err != nil {
		return 0, err
	}
	return ensure.Declared, nil
}

// RemoveExchange deletes the exchange x.Name, the undo of DeclareExchange.
// Absent, nothing is done (ensure.Absent). Present, it must still be
// equivalent to x (or the result is a *ensure.ConflictError) and have no
// binding from it: the server refuses to delete an exchange in use
// (if-unused), and so does RemoveExchange, with an error saying so.
// Otherwise it is deleted (ensure.Deleted).
func RemoveExchange(ctx context.Context, conn *amqp.Connection, x Exchange) (ensure.Outcome, error) {
	if err := x.check(); err != nil {
		return 0, err
	}
	exists, err := exchangeExists(ctx, conn, x.Name)
	if err != nil {
		return 0, err
	}
	if !exists {
		return ensure.Absent, nil
	}
	err = onChannel(ctx, conn, x.resource(), "declare", func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(x.Name, x.Kind, x.Durable, x.AutoDelete, x.Internal, false, x.Args)
	})
	if err != nil {
		return 0, conflict(x.resource(), err)
	}
	err = onChannel(ctx, conn, x.resource(), "delete", func(ch *amqp.Channel) error {
		return ch.ExchangeDelete(x.Name, true, false)
	})
	switch code(err) {
	case 0:
		return ensure.Deleted, nil
	case amqp.NotFound:
		return ensure.Absent, nil // deleted by someone else since we looked
	case amqp.PreconditionFailed:
		return 0, fmt.Errorf("%s is in use (queues or exchanges are bound to it): not deleted: %w", x.resource(), serverError(err))
	}
	return 0, err
}

// RemoveQueue deletes the queue q.Name, the undo of DeclareQueue. Absent,
// nothing is done (ensure.Absent). Present, it must still be equivalent
// to q (or the result is a *ensure.ConflictError); holding messages, it is
// not deleted and the result is an error matching ensure.ErrNotEmpty that
// gives the count. It is deleted (ensure.Deleted) only if empty and
// without consumers, which the server checks again as it deletes
// (if-empty, if-unused): a message published since the count is not lost.
func RemoveQueue(ctx context.Context, conn *amqp.Connection, q Queue) (ensure.Outcome, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	exists, err := queueExists(ctx, conn, q.Name)
	if err != nil {
		return 0, err
	}
	if !exists {
		return ensure.Absent, nil
	}
	state, err := declareQueue(ctx, conn, q)
	if err != nil {
		return 0, err
	}
	if state.Messages > 0 {
		return 0, fmt.Errorf("%s holds %d messages: %w", q.resource(), state.Messages, ensure.ErrNotEmpty)
	}
	err = onChannel(ctx, conn, q.resource(), "delete", func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(q.Name, true, true, false)
		return err
	})
	switch {
	case err == nil:
		return ensure.Deleted, nil
	case code(err) == amqp.NotFound:
		return ensure.Absent, nil // deleted by someone else since we looked
	case code(err) == amqp.PreconditionFailed && strings.Contains(reason(err), "not empty"):
		return 0, fmt.Errorf("%s holds messages published since it was found empty: not deleted: %w (%w)", q.resource(), ensure.ErrNotEmpty, serverError(err))
	case code(err) == amqp.PreconditionFailed:
		return 0, fmt.Errorf("%s is in use (it has consumers): not deleted: %w", q.resource(), serverError(err))
	}
	return 0, err
}

// Unbind removes the binding b, the undo of Bind. Its queue or its
// exchange absent, there is nothing to remove (ensure.Absent); otherwise
// the binding is removed (ensure.Declared: the server does not say
// whether it existed).
func Unbind(ctx context.Context, conn *amqp.Connection, b Binding) (ensure.Outcome, error) {
	if err := b.check(); err != nil {
		return 0, err
	}
	exists, err := queueExists(ctx, conn, b.Queue)
	if err != nil {
		return 0, err
	}
	if !exists {
		return ensure.Absent, nil
	}
	exists, err = exchangeExists(ctx, conn, b.Exchange)
	if err != nil {
		return 0, err
	}
	if !exists {
		return ensure.Absent, nil
	}
	err = onChannel(ctx, conn, b.resource(), "unbind", func(ch *amqp.Channel) error {
		return ch.QueueUnbind(b.Queue, b.Key, b.Exchange, b.Args)
	})
	if code(err) == amqp.NotFound {
		return ensure.Absent, nil // queue or exchange deleted since we looked
	}
	if err != nil {
		return 0, err
	}
	return ensure.Declared, nil
}

func (x Exchange) check() error {
	switch {
	case x.Name == "":
		return errors.New("rabbitmq: exchange without a name (the default exchange is the server's)")
	case x.Kind == "":
		return fmt.Errorf("rabbitmq: %s without a kind (direct, fanout, topic, headers)", x.resource())
	}
	return nil
}

func (q Queue) check() error {
	if q.Name == "" {
		return errors.New("rabbitmq: queue without a name (a server-named queue cannot be declared twice)")
	}
	return nil
}

func (b Binding) check() error {
	switch {
	case b.Queue == "":
		return errors.New("rabbitmq: binding without a queue")
	case b.Exchange == "":
		return fmt.Errorf("rabbitmq: binding of queue %s to the default exchange, which binds every queue already", b.Queue)
	}
	return nil
}

// exchangeExists looks with a passive declare.
func exchangeExists(ctx context.Context, conn *amqp.Connection, name string) (bool, error) {
	err := onChannel(ctx, conn, "exchange "+name, "look up", func(ch *amqp.Channel) error {
		// Passive: the kind and flags are not looked at.
		return ch.ExchangeDeclarePassive(name, "", false, false, false, false, nil)
	})
	if code(err) == amqp.NotFound {
		return false, nil
	}
	return err == nil, err
}

// queueExists looks with a passive declare.
func queueExists(ctx context.Context, conn *amqp.Connection, name string) (bool, error) {
	err := onChannel(ctx, conn, "queue "+name, "look up", func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
		return err
	})
	if code(err) == amqp.NotFound {
		return false, nil
	}
	return err == nil, err
}

// declareQueue declares q actively; a 406 is a conflict.
func declareQueue(ctx context.Context, conn *amqp.Connection, q Queue) (amqp.Queue, error) {
	var state amqp.Queue
	err := onChannel(ctx, conn, q.resource(), "declare", func(ch *amqp.Channel) (err error) {
		state, err = ch.QueueDeclare(q.Name, q.Durable, q.AutoDelete, q.Exclusive, false, q.Args)
		return err
	})
	return state, conflict(q.resource(), err)
}

// onChannel runs f on a channel of its own, closed after: an error the
// server answers (404, 406) closes the channel it happens on, so a channel
// serves one operation. ctx is checked before: amqp091-go's calls cannot
// be cancelled once sent.
func onChannel(ctx context.Context, conn *amqp.Connection, res, op string, f func(*amqp.Channel) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", res, op, err)
	}
	if conn == nil {
		return fmt.Errorf("%s: %s: no connection (nil)", res, op)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%s: %s: open a channel: %w", res, op, err)
	}
	err = f(ch)
	// After a server error the channel is closed already and Close says
	// so; that is no news.
	_ = ch.Close()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", res, op, err)
	}
	return nil
}

// conflict turns the server's refusal of a declare into a
// *ConflictError: 406 for other settings, 405 for another exclusive flag
// (the declare follows a passive one that succeeded, so the queue is not
// another connection's).
func conflict(res string, err error) error {
	switch code(err) {
	case amqp.PreconditionFailed, amqp.ResourceLocked:
		text := strings.TrimPrefix(strings.TrimPrefix(reason(err), "PRECONDITION_FAILED - "), "RESOURCE_LOCKED - ")
		return &ensure.ConflictError{Resource: res, Diffs: []string{text}}
	}
	return err
}

// serverError returns the server's answer in err (an *amqp.Error), or err
// if it holds none.
func serverError(err error) error {
	var e *amqp.Error
	if errors.As(err, &e) {
		return e
	}
	return err
}

// code returns the AMQP reply code of err, 0 if it has none.
func code(err error) int {
	var e *amqp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func reason(err error) string {
	var e *amqp.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
