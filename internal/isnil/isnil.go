// Package isnil tells whether a value handed to a constructor was left
// unset: a nil interface, or one holding a nil pointer, map, function…,
// which a plain == nil does not catch.
package isnil

import "reflect"

// Value reports whether v is a nil interface or holds a nil pointer, map,
// function, channel, slice or interface: a struct field of interface type
// left unset may be either.
func Value(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
