package faultproxy

import "io"

// MySQL commands whose payload, after the command byte, is SQL text.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
)

// maxPayload is the payload of a packet continued by the next one.
const maxPayload = 1<<24 - 1

// mysql reads the MySQL client protocol from c: packets of a 3-byte
// length, a sequence number and a payload. A command starts an exchange at
// sequence number 0 and its first byte says which: COM_QUERY (with
// go-sql-driver/mysql's interpolateParams, the arguments are in its text)
// and COM_STMT_PREPARE carry a statement, which is the flight rules match.
// The handshake (sequence numbers from 1), the rest of a long packet and
// every other command are forwarded without matching.
func mysql(c io.Reader) protocol {
	continued := false // the previous packet was full: this one continues it
	return func() ([]byte, *Flight, error) {
		var header [4]byte
		if _, err := io.ReadFull(c, header[:]); err != nil {
			return nil, nil, err
		}
		size := int(header[0]) | int(header[1])<<8 | int(header[2])<<16
		packet := make([]byte, 4+size)
		copy(packet, header[:])
		if _, err := io.ReadFull(c, packet[4:]); err != nil {
			return nil, nil, err
		}
		command := header[3] == 0 && !continued && size > 0
		continued = size == maxPayload
		if command && (packet[4] == comQuery || packet[4] == comStmtPrepare) {
			return packet, &Flight{Raw: packet, SQL: []string{string(packet[5:])}}, nil
		}
		return packet, nil, nil
	}
}
