package faultproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// AMQP 0-9-1 framing (spec §2.3.5 and §4.2.3).
const (
	amqpHeaderLen  = 8    // "AMQP" 0 0 9 1
	amqpFrameLen   = 7    // type(1) channel(2) size(4)
	amqpFrameEnd   = 0xCE // the octet after every frame's payload
	amqpMethod     = 1    // the frame type of a method frame
	amqpMaxPayload = 1 << 27
)

var errAMQPFrame = errors.New("faultproxy: malformed AMQP frame")

// amqpMethods names the methods of AMQP 0-9-1 by class and method id, as
// the specification spells them.
var amqpMethods = map[[2]uint16]string{
	{10, 10}: "connection.start", {10, 11}: "connection.start-ok",
	{10, 20}: "connection.secure", {10, 21}: "connection.secure-ok",
	{10, 30}: "connection.tune", {10, 31}: "connection.tune-ok",
	{10, 40}: "connection.open", {10, 41}: "connection.open-ok",
	{10, 50}: "connection.close", {10, 51}: "connection.close-ok",
	{10, 60}: "connection.blocked", {10, 61}: "connection.unblocked",
	{10, 70}: "connection.update-secret", {10, 71}: "connection.update-secret-ok",

	{20, 10}: "channel.open", {20, 11}: "channel.open-ok",
	{20, 20}: "channel.flow", {20, 21}: "channel.flow-ok",
	{20, 40}: "channel.close", {20, 41}: "channel.close-ok",

	{40, 10}: "exchange.declare", {40, 11}: "exchange.declare-ok",
	{40, 20}: "exchange.delete", {40, 21}: "exchange.delete-ok",
	{40, 30}: "exchange.bind", {40, 31}: "exchange.bind-ok",
	{40, 40}: "exchange.unbind", {40, 51}: "exchange.unbind-ok",

	{50, 10}: "queue.declare", {50, 11}: "queue.declare-ok",
	{50, 20}: "queue.bind", {50, 21}: "queue.bind-ok",
	{50, 30}: "queue.purge", {50, 31}: "queue.purge-ok",
	{50, 40}: "queue.delete", {50, 41}: "queue.delete-ok",
	{50, 50}: "queue.unbind", {50, 51}: "queue.unbind-ok",

	{60, 10}: "basic.qos", {60, 11}: "basic.qos-ok",
	{60, 20}: "basic.consume", {60, 21}: "basic.consume-ok",
	{60, 30}: "basic.cancel", {60, 31}: "basic.cancel-ok",
	{60, 40}: "basic.publish", {60, 50}: "basic.return", {60, 60}: "basic.deliver",
	{60, 70}: "basic.get", {60, 71}: "basic.get-ok", {60, 72}: "basic.get-empty",
	{60, 80}: "basic.ack", {60, 90}: "basic.reject",
	{60, 100}: "basic.recover-async", {60, 110}: "basic.recover", {60, 111}: "basic.recover-ok",
	{60, 120}: "basic.nack",

	{85, 10}: "confirm.select", {85, 11}: "confirm.select-ok",

	{90, 10}: "tx.select", {90, 11}: "tx.select-ok",
	{90, 20}: "tx.commit", {90, 21}: "tx.commit-ok",
	{90, 30}: "tx.rollback", {90, 31}: "tx.rollback-ok",
}

// amqpMethodName returns the name of method id of class id, or
// "class-method" in numbers for one the specification does not name.
func amqpMethodName(class, method uint16) string {
	if name, ok := amqpMethods[[2]uint16{class, method}]; ok {
		return name
	}
	return fmt.Sprintf("%d-%d", class, method)
}

// amqp reads the AMQP 0-9-1 client stream from c: the protocol header,
// forwarded as it is, then frames. A method frame is a flight, its Method
// the method's name; content headers, bodies and heartbeats are forwarded
// without matching, so a cut at basic.publish before forwarding keeps the
// whole message from the server, and one after forwarding lets its header
// and body through (the server answers a publish only under publisher
// confirms, with basic.ack, where the cut then comes).
func amqp(c io.Reader) protocol {
	started := false
	return func() ([]byte, *Flight, error) {
		if !started {
			header := make([]byte, amqpHeaderLen)
			if _, err := io.ReadFull(c, header); err != nil {
				return nil, nil, err
			}
			started = true
			return header, nil, nil
		}
		var head [amqpFrameLen]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return nil, nil, err
		}
		size := binary.BigEndian.Uint32(head[3:])
		if size > amqpMaxPayload {
			return nil, nil, errAMQPFrame
		}
		frame := make([]byte, amqpFrameLen+int(size)+1)
		copy(frame, head[:])
		if _, err := io.ReadFull(c, frame[amqpFrameLen:]); err != nil {
			return nil, nil, err
		}
		if frame[len(frame)-1] != amqpFrameEnd {
			return nil, nil, errAMQPFrame
		}
		if head[0] != amqpMethod {
			return frame, nil, nil
		}
		if size < 4 {
			return nil, nil, errAMQPFrame
		}
		payload := frame[amqpFrameLen:]
		name := amqpMethodName(binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]))
		return frame, &Flight{Raw: frame, Method: name}, nil
	}
}
