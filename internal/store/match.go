package store

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A small filter matcher, for the embedded engine's conditional
// single-document writes (see narrow in collection.go).
//
// FerretDB 1.24 over SQLite uses an index only for a filter that is exactly
// {_id: x}; {_id: x, status: "open"} reads the whole collection (~0.9 s at
// 10 000 documents) while the write gate is held. Under the document's lock
// the store reads {_id: x} and decides the other conditions here. It knows
// MongoDB's semantics for a small set of operators on plain values; for
// anything else, including comparisons across BSON types where MongoDB's
// type bracketing would matter, it answers errUnsupported and the store
// sends the whole filter to the engine as before: slower, never different.

var errUnsupported = errors.New("store: filter beyond the matcher")

// matchDoc tells whether doc satisfies filter, both in their decoded form
// (bson.D documents, bson.A arrays, BSON's Go scalars). Every condition is
// looked at even after one fails: a condition MongoDB would refuse must not
// hide behind a false one.
func matchDoc(doc, filter bson.D) (bool, error) {
	if repeats(filter) {
		return false, errUnsupported
	}
	all := true
	for _, e := range filter {
		ok, err := matchPair(doc, e.Key, e.Value)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	return all, nil
}

func matchPair(doc bson.D, key string, want any) (bool, error) {
	if strings.HasPrefix(key, "$") {
		return matchLogical(doc, key, want)
	}
	v, found, err := lookup(doc, key)
	if err != nil {
		return false, err
	}
	ops, ok := want.(bson.D)
	if !ok {
		return matchEq(v, found, want)
	}
	if len(ops) == 0 || repeats(ops) {
		return false, errUnsupported // equality with an empty document
	}
	all := true
	for _, op := range ops {
		if !strings.HasPrefix(op.Key, "$") {
			return false, errUnsupported // equality with a document
		}
		ok, err := matchOp(v, found, op.Key, op.Value)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	return all, nil
}

func matchLogical(doc bson.D, op string, arg any) (bool, error) {
	clauses, ok := arg.(bson.A)
	if !ok || len(clauses) == 0 {
		return false, errUnsupported
	}
	results := make([]bool, 0, len(clauses))
	for _, c := range clauses {
		f, ok := c.(bson.D)
		if !ok {
			return false, errUnsupported
		}
		r, err := matchDoc(doc, f)
		if err != nil {
			return false, err
		}
		results = append(results, r)
	}
	some, all := false, true
	for _, r := range results {
		some = some || r
		all = all && r
	}
	switch op {
	case "$and":
		return all, nil
	case "$or":
		return some, nil
	case "$nor":
		return !some, nil
	}
	return false, errUnsupported
}

func matchOp(v any, found bool, op string, arg any) (bool, error) {
	switch op {
	case "$eq":
		return matchEq(v, found, arg)
	case "$ne":
		ok, err := matchEq(v, found, arg)
		return !ok, err
	case "$gt", "$gte", "$lt", "$lte":
		return matchRange(v, found, op, arg)
	case "$in", "$nin":
		list, ok := arg.(bson.A)
		if !ok {
			return false, errUnsupported
		}
		in := false
		for _, w := range list {
			ok, err := matchEq(v, found, w)
			if err != nil {
				return false, err
			}
			in = in || ok
		}
		return in == (op == "$in"), nil
	case "$exists":
		want, ok := arg.(bool)
		if !ok {
			return false, errUnsupported
		}
		return found == want, nil
	case "$size":
		var n int64
		switch x := arg.(type) {
		case int32:
			n = int64(x)
		case int64:
			n = x
		default:
			return false, errUnsupported
		}
		if n < 0 {
			return false, errUnsupported
		}
		a, ok := v.(bson.A)
		return found && ok && int64(len(a)) == n, nil
	}
	return false, errUnsupported
}

// lookup follows a dotted path through sub-documents. A path through an
// array is MongoDB's implicit traversal, which the matcher leaves alone.
func lookup(doc bson.D, path string) (any, bool, error) {
	var cur any = doc
	for part := range strings.SplitSeq(path, ".") {
		if part == "" || strings.HasPrefix(part, "$") {
			return nil, false, errUnsupported
		}
		switch d := cur.(type) {
		case bson.D:
			i := indexKey(d, part)
			if i < 0 {
				return nil, false, nil
			}
			cur = d[i].Value
		case bson.A:
			return nil, false, errUnsupported
		default:
			return nil, false, nil // a scalar has no fields
		}
	}
	return cur, true, nil
}

// repeats tells whether a key comes twice, which the engines do not
// agree on (FerretDB 1.24 drops the connection).
func repeats(d bson.D) bool {
	for i, e := range d {
		if indexKey(d[:i], e.Key) >= 0 {
			return true
		}
	}
	return false
}

func indexKey(d bson.D, key string) int {
	for i, e := range d {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// matchEq is MongoDB's {field: want}: null matches a missing field, and an
// array matches when one of its elements does.
func matchEq(v any, found bool, want any) (bool, error) {
	wk, ok := bracketOf(want)
	if !ok {
		return false, errUnsupported // documents, arrays, regexes, other types
	}
	if !found {
		return wk == bracketNull, nil
	}
	if a, ok := v.(bson.A); ok {
		hit := false
		for _, el := range a {
			ok, err := scalarEq(el, want, wk)
			if err != nil {
				return false, err
			}
			hit = hit || ok
		}
		return hit, nil
	}
	return scalarEq(v, want, wk)
}

func scalarEq(v, want any, wk bracket) (bool, error) {
	switch v.(type) {
	case bson.D, bson.A:
		return false, nil // never equal to a scalar
	}
	vk, ok := bracketOf(v)
	if !ok {
		return false, errUnsupported
	}
	if vk != wk {
		return false, nil
	}
	c, err := compareSame(v, want, vk)
	return c == 0, err
}

// matchRange is $gt, $gte, $lt, $lte. Values of different types are where
// MongoDB's type bracketing decides, so the matcher declines them.
func matchRange(v any, found bool, op string, arg any) (bool, error) {
	wk, ok := bracketOf(arg)
	if !ok || wk == bracketNull {
		return false, errUnsupported
	}
	if !found {
		return false, nil
	}
	one := func(x any) (bool, error) {
		xk, ok := bracketOf(x)
		if !ok || xk != wk {
			return false, errUnsupported
		}
		c, err := compareSame(x, arg, wk)
		if err != nil {
			return false, err
		}
		switch op {
		case "$gt":
			return c > 0, nil
		case "$gte":
			return c >= 0, nil
		case "$lt":
			return c < 0, nil
		}
		return c <= 0, nil
	}
	a, isArray := v.(bson.A)
	if !isArray {
		return one(v)
	}
	hit := false
	for _, el := range a {
		ok, err := one(el)
		if err != nil {
			return false, err
		}
		hit = hit || ok
	}
	return hit, nil
}

// bracket is the kind of scalar values that MongoDB compares with each other.
type bracket int

const (
	bracketNull bracket = iota + 1
	bracketNumber
	bracketString
	bracketObjectID
	bracketBool
	bracketDate
)

func bracketOf(v any) (bracket, bool) {
	switch x := v.(type) {
	case nil:
		return bracketNull, true
	case int32, int64:
		return bracketNumber, true
	case float64:
		return bracketNumber, !math.IsNaN(x)
	case string:
		return bracketString, true
	case bson.ObjectID:
		return bracketObjectID, true
	case bool:
		return bracketBool, true
	case bson.DateTime:
		return bracketDate, true
	}
	return 0, false
}

// compareSame orders two values of bracket k.
func compareSame(a, b any, k bracket) (int, error) {
	switch k {
	case bracketNull:
		return 0, nil
	case bracketNumber:
		return compareNumbers(a, b)
	case bracketString:
		return strings.Compare(a.(string), b.(string)), nil
	case bracketObjectID:
		x, y := a.(bson.ObjectID), b.(bson.ObjectID)
		return bytes.Compare(x[:], y[:]), nil
	case bracketBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0, nil
		case y:
			return -1, nil
		}
		return 1, nil
	case bracketDate:
		return cmp.Compare(a.(bson.DateTime), b.(bson.DateTime)), nil
	}
	return 0, errUnsupported
}

// compareNumbers compares exactly; an integer a float64 cannot hold
// exactly, against a float64, is left to the engine.
func compareNumbers(a, b any) (int, error) {
	ai, aInt := asInt(a)
	bi, bInt := asInt(b)
	if aInt && bInt {
		return cmp.Compare(ai, bi), nil
	}
	af, ok1 := asFloat(a)
	bf, ok2 := asFloat(b)
	if !ok1 || !ok2 {
		return 0, errUnsupported
	}
	return cmp.Compare(af, bf), nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	const exact = 1 << 53
	if i, ok := asInt(v); ok {
		return float64(i), i >= -exact && i <= exact
	}
	f, ok := v.(float64)
	return f, ok
}
