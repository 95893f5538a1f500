package audit_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/flamingock/flamingock-go/audit"
)

func TestOrderCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"10", "9", 1}, {"010", "10", 0}, {"0", "000", 0},
		{"20150101000001000000", "9223372036854775807", 1},
		{"20150101000001000000", "20150101000001000001", -1},
		{"99999999999999999999999", "100000000000000000000000", -1},
	}
	for _, c := range cases {
		a, b := audit.MustParseOrder(c.a), audit.MustParseOrder(c.b)
		if got := a.Compare(b); got != c.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if (a == b) != (c.want == 0) {
			t.Errorf("%s == %s is %v, want %v", c.a, c.b, a == b, c.want == 0)
		}
	}
	if (audit.Order{}) != audit.OrderOf(0) || audit.OrderOf(0).String() != "0" || audit.MustParseOrder("000") != (audit.Order{}) {
		t.Error("the zero value is not order 0")
	}
}

func TestParseOrderRefuses(t *testing.T) {
	for _, s := range []string{"", "-1", "+1", " 1", "1 ", "1_000", "0x10", "1e3", "١"} {
		if o, err := audit.ParseOrder(s); !errors.Is(err, audit.ErrInvalidOrder) {
			t.Errorf("ParseOrder(%q) = %v, %v; want ErrInvalidOrder", s, o, err)
		}
	}
}

func TestOrderEncodings(t *testing.T) {
	big := audit.MustParseOrder("020150101000001000000")
	b, err := json.Marshal(struct{ Order audit.Order }{big})
	if err != nil || string(b) != `{"Order":20150101000001000000}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	for _, in := range []string{`20150101000001000000`, `"20150101000001000000"`} {
		var o audit.Order
		if err := json.Unmarshal([]byte(in), &o); err != nil || o != big {
			t.Errorf("json.Unmarshal(%s) = %v, %v", in, o, err)
		}
	}
	for _, in := range []string{`-1`, `1.5`, `1e3`, `"1`, `null`, `true`} {
		var o audit.Order
		if err := json.Unmarshal([]byte(in), &o); err == nil {
			t.Errorf("json.Unmarshal(%s) = %v, want an error", in, o)
		}
	}
	if n, ok := audit.OrderOf(1<<63 - 1).Int64(); !ok || n != 1<<63-1 {
		t.Errorf("Int64 of MaxInt64 = %d, %v", n, ok)
	}
	if _, ok := audit.OrderOf(1 << 63).Int64(); ok {
		t.Error("Int64 of 2^63 reported ok")
	}
	var o audit.Order
	for _, src := range []any{int64(42), "42", []byte("42")} {
		if err := o.Scan(src); err != nil || o != audit.OrderOf(42) {
			t.Errorf("Scan(%#v) = %v, %v", src, o, err)
		}
	}
	for _, src := range []any{int64(-1), 4.2, nil} {
		if err := o.Scan(src); !errors.Is(err, audit.ErrInvalidOrder) {
			t.Errorf("Scan(%#v) = %v, want ErrInvalidOrder", src, err)
		}
	}
}

// FuzzOrder checks Compare and String against math/big.
func FuzzOrder(f *testing.F) {
	f.Add("9", "10")
	f.Add("0020150101000001000000", "9223372036854775808")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, errA := audit.ParseOrder(a)
		y, errB := audit.ParseOrder(b)
		if errA != nil || errB != nil {
			return
		}
		bx, _ := new(big.Int).SetString(a, 10)
		by, _ := new(big.Int).SetString(b, 10)
		if got, want := x.Compare(y), bx.Cmp(by); got != want {
			t.Fatalf("%s.Compare(%s) = %d, big.Int says %d", a, b, got, want)
		}
		if x.String() != bx.String() {
			t.Fatalf("String() = %s, big.Int says %s", x, bx)
		}
	})
}
