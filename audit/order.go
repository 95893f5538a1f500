package audit

import (
	"bytes"
	"cmp"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Order is a change's position in its stage: a non-negative integer of any
// number of digits, compared as a number. Versions such as the 20-digit
// 20150101000001000000 of a timestamped migrations directory are orders like
// 1, 2 and 3.
//
// The zero value is order 0. Orders are comparable with == (they are kept
// without leading zeros, so 010 and 10 are one order) and usable as map keys;
// Compare sorts them.
type Order struct {
	digits string // decimal, no leading zero; "" is 0
}

// ErrInvalidOrder is matched by the errors of ParseOrder and of decoding an
// Order.
var ErrInvalidOrder = errors.New("invalid order")

// OrderOf returns the order n.
func OrderOf(n uint64) Order {
	if n == 0 {
		return Order{}
	}
	return Order{digits: strconv.FormatUint(n, 10)}
}

// ParseOrder parses a non-negative decimal integer of any length. Leading
// zeros are allowed and dropped (0007 is 7); a sign, a space, an underscore
// or an empty string is an error matching ErrInvalidOrder.
func ParseOrder(s string) (Order, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return Order{}, fmt.Errorf("%w %q: want a non-negative integer", ErrInvalidOrder, s)
	}
	return Order{digits: strings.TrimLeft(s, "0")}, nil
}

// MustParseOrder is ParseOrder for constants, such as the orders
// flamingock-gen writes; it panics on an invalid order.
func MustParseOrder(s string) Order {
	o, err := ParseOrder(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String returns the order in decimal, without leading zeros.
func (o Order) String() string {
	if o.digits == "" {
		return "0"
	}
	return o.digits
}

// Compare returns -1, 0 or +1 as o is less than, equal to or greater than p.
func (o Order) Compare(p Order) int {
	if c := cmp.Compare(len(o.digits), len(p.digits)); c != 0 {
		return c
	}
	return strings.Compare(o.digits, p.digits)
}

// Equal reports whether o and p are one order, as o == p does; go-cmp
// and similar libraries use it.
func (o Order) Equal(p Order) bool { return o == p }

// Int64 returns the order as an int64, and false when it is beyond
// math.MaxInt64 (the order is then only in String).
func (o Order) Int64() (int64, bool) {
	if o.digits == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(o.digits, 10, 64)
	return n, err == nil
}

// MarshalText encodes the order in decimal.
func (o Order) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText decodes what ParseOrder accepts.
func (o *Order) UnmarshalText(text []byte) error {
	p, err := ParseOrder(string(text))
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// MarshalJSON encodes the order as a JSON number of all its digits. JSON
// numbers have no size limit; a reader that needs all the digits of an
// order beyond 2^53 decodes it as a string of digits (json.Number in Go).
func (o Order) MarshalJSON() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalJSON decodes a JSON number without fraction or exponent, or a
// JSON string of what ParseOrder accepts.
func (o *Order) UnmarshalJSON(data []byte) error {
	if s, ok := bytes.CutPrefix(data, []byte(`"`)); ok {
		if s, ok = bytes.CutSuffix(s, []byte(`"`)); !ok {
			return fmt.Errorf("%w: unterminated JSON string %s", ErrInvalidOrder, data)
		}
		data = s
	}
	return o.UnmarshalText(data)
}

// Value stores the order as its decimal text, which a column of any
// integer type of enough digits (PostgreSQL numeric) or of text takes.
func (o Order) Value() (driver.Value, error) { return o.String(), nil }

// Scan reads an order from a column of an integer type or of its decimal
// text.
func (o *Order) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("%w %d: negative", ErrInvalidOrder, v)
		}
		*o = OrderOf(uint64(v))
		return nil
	case string:
		return o.UnmarshalText([]byte(v))
	case []byte:
		return o.UnmarshalText(v)
	}
	return fmt.Errorf("%w: cannot read an order from %T", ErrInvalidOrder, src)
}
