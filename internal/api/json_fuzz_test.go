package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"civico/internal/fault"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// fuzzApp makes the Fiber contexts the fuzz targets hand to the parsers.
var fuzzApp = fiber.New()

// withBody runs fn with a context holding body as a JSON request.
func withBody(body []byte, fn func(c *fiber.Ctx)) {
	c := fuzzApp.AcquireCtx(&fasthttp.RequestCtx{})
	defer fuzzApp.ReleaseCtx(c)
	c.Request().Header.SetMethod(fiber.MethodPost)
	c.Request().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Request().SetBody(body)
	fn(c)
}

// The request body is outside data: every request struct goes through
// decode. Whatever the body, decode never panics and either
//   - accepts it: the body is one JSON value and nothing else, holds no key
//     the struct does not know (at any depth), the value re-encodes and
//     decodes to the same value, and keeps no reference to the request
//     buffer Fiber reuses; or
//   - refuses it with a domain error of a stable code: bad_json (400), or
//     validation_failed (422) naming one field as unknown_field (a key the
//     body really holds where the struct has no such field) or
//     invalid_type (a field of the struct).
//
// decodeOptional agrees with decode except that a blank body is accepted.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"request","category":"tools","title":"Trapano","body":"Mi serve un trapano per sabato","when":{"from":"2026-03-01T09:00:00Z","to":"2026-03-01T12:00:00+01:00"}}`,
		`{"kind":"offer","title":"Zuppa","when":null}`,
		`{"member_id":"65f1c0ffee0000000000abcd","type":"fee","amount_cents":2500,"year":2026,"method":"cash","note":"quota","idempotency_key":"k-1"}`,
		`{"amount_cents":"2500"}`,
		`{"amount_cents":1e3}`,
		`{"amount_cents":99999999999999999999}`,
		`{"year":1.5}`,
		`{"full_name":"Anna Rossi","skills":["cucito","bici"],"in_directory":true,"joined_on":"2024-01-31"}`,
		`{"skills":[1,2]}`,
		`{"skills":null,"notes":null}`,
		`{"quiet_hours":{"start":"22:00","end":"07:00"},"streets":[{"street_id":"s","requests":false,"categories":["tools"]}]}`,
		`{"streets":[{"street_id":"s","colour":"red"}]}`,
		`{"endpoint":"https://push.example/x","expirationTime":null,"keys":{"p256dh":"BAAA","auth":"AAAA"}}`,
		`{"endpoint":"https://push.example/x","expirationTime":1e400}`,
		`{"keys":{"p256dh":"a","extra":1}}`,
		`{"title":"x","unknown":1}`,
		`{"TITLE":"case folds","Kind":"request","ſkills":["long s folds to s"]}`,
		`{"title":{"$ne":null}}`,
		`{"title":"x","title":"twice"}`,
		`{"when":{"bad":1},"when":null}`,
		`{"title":"x"}{"title":"y"}`,
		`{"title":"x"} trailing`,
		`{"title":"x"}]`,
		`{"title":"x"}   ` + "\n",
		`{"title":"x"`,
		`{"title":"\ud800 lone surrogate \u0000 nul"}`,
		"{\"title\":\"\xff not utf-8\"}",
		`{"when":{"from":"2026-13-01T00:00:00Z"}}`,
		`{"when":{"from":"0000-01-01T00:00:00-23:59"}}`,
		`{"desk":{"address":"Via Roma 1","hours":"9-12","phone":"051 123","email":"desk@example.org"},"yearly_fee_cents":1500}`,
		`[]`, `null`, `"x"`, `0`, `true`, ``, ` `, `{}`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode[createPostRequest](t, body)
		checkDecode[updatePostRequest](t, body)
		checkDecode[entryRequest](t, body)
		checkDecode[memberRequest](t, body)
		checkDecode[memberPatchRequest](t, body)
		checkDecode[notificationsRequest](t, body)
		checkDecode[subscriptionRequest](t, body)
		checkDecode[createAssociationRequest](t, body)
		checkDecode[registerRequest](t, body)
	})
}

func checkDecode[T any](t *testing.T, body []byte) {
	var v T
	typ := reflect.TypeOf(v)
	var err, optErr error
	var first []byte
	withBody(body, func(c *fiber.Ctx) {
		err = decode(c, &v)
		if err == nil {
			var mErr error
			if first, mErr = json.Marshal(v); mErr != nil {
				t.Fatalf("%s: accepted %q, but it does not encode: %v", typ, body, mErr)
			}
			// Fiber reuses the request buffer: nothing decoded may point into it.
			buf := c.Body()
			for i := range buf {
				buf[i] = 'x'
			}
			if again, _ := json.Marshal(v); !bytes.Equal(again, first) {
				t.Fatalf("%s: the value decoded from %q changed with the request buffer: %s", typ, body, again)
			}
		}
	})
	var opt T
	withBody(body, func(c *fiber.Ctx) { optErr = decodeOptional(c, &opt) })
	blank := len(bytes.TrimSpace(body)) == 0
	switch {
	case blank && optErr != nil:
		t.Fatalf("%s: decodeOptional refused a blank body: %v", typ, optErr)
	case !blank && !sameError(err, optErr):
		t.Fatalf("%s: decode says %v, decodeOptional %v, for %q", typ, err, optErr, body)
	}

	unknown := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	walkErr := walkKeys(dec, typ, unknown)
	if err != nil {
		checkRefusal(t, typ, body, err, unknown, walkErr)
		return
	}
	if blank || !json.Valid(body) {
		t.Fatalf("%s: accepted %q, which is not one JSON value", typ, body)
	}
	if len(unknown) > 0 {
		t.Fatalf("%s: accepted %q, which holds the unknown keys %v", typ, body, keys(unknown))
	}
	var back T
	withBody(first, func(c *fiber.Ctx) {
		if err := decode(c, &back); err != nil {
			t.Fatalf("%s: %q decoded, but its encoding %s is refused: %v", typ, body, first, err)
		}
	})
	if again, _ := json.Marshal(back); !bytes.Equal(again, first) {
		t.Fatalf("%s: %q decoded and encoded as %s, which decodes and encodes as %s", typ, body, first, again)
	}
	if !hasTime(typ) && !reflect.DeepEqual(v, back) {
		t.Fatalf("%s: %q decoded to %#v, its encoding %s to %#v", typ, body, v, first, back)
	}
}

// checkRefusal asserts err is one of decode's domain errors and that what
// it names is true of the body.
func checkRefusal(t *testing.T, typ reflect.Type, body []byte, err error, unknown map[string]bool, walkErr error) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok {
		t.Fatalf("%s: refused %q with a raw error %T: %v", typ, body, err, err)
	}
	if errors.Is(err, errBadJSON) {
		if fe.Kind != fault.BadRequest || len(fe.Fields) != 0 {
			t.Fatalf("%s: bad_json with kind %d and fields %v", typ, fe.Kind, fe.Fields)
		}
		return
	}
	if fe.Kind != fault.Invalid || fe.Code != "validation_failed" || len(fe.Fields) != 1 {
		t.Fatalf("%s: refused %q with %+v", typ, body, fe)
	}
	if walkErr != nil {
		t.Fatalf("%s: %q is not JSON (%v), yet refused as %v rather than bad_json", typ, body, walkErr, fe.Fields)
	}
	for field, code := range fe.Fields {
		switch code {
		case "unknown_field":
			if !unknown[field] {
				t.Fatalf("%s: %q refused for the unknown field %q, but its unknown keys are %v", typ, body, field, keys(unknown))
			}
		case "invalid_type":
			top, _, _ := strings.Cut(field, ".")
			if _, ok := fieldByJSONName(typ, top, true); !ok {
				t.Fatalf("%s: %q refused for the type of %q, which is no field of it", typ, body, field)
			}
		default:
			t.Fatalf("%s: %q refused with the field code %q", typ, body, code)
		}
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	fa, _ := fault.As(a)
	fb, _ := fault.As(b)
	return fa != nil && fb != nil && fa.Code == fb.Code && reflect.DeepEqual(fa.Fields, fb.Fields)
}

var timeType = reflect.TypeOf(time.Time{})

// walkKeys reads one JSON value from dec alongside the Go type it is
// decoded into and records, in unknown, every object key met where t is a
// struct without such a field (matched as encoding/json does: exactly,
// else case-insensitively). It is an oracle independent of decode: a token
// walk, so repeated keys are all seen.
func walkKeys(dec *json.Decoder, t reflect.Type, unknown map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		isStruct := t != nil && t.Kind() == reflect.Struct && t != timeType
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			var ft reflect.Type
			if isStruct {
				f, ok := fieldByJSONName(t, key, false)
				if !ok {
					unknown[key] = true
				}
				ft = f.Type
			}
			if err := walkKeys(dec, ft, unknown); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := walkKeys(dec, et, unknown); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// fieldByJSONName finds the field of struct t named name in JSON: exactly,
// or (unless exact) case-insensitively.
func fieldByJSONName(t reflect.Type, name string, exact bool) (reflect.StructField, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var folded reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == "-" {
			continue
		}
		if n == "" {
			n = f.Name
		}
		if n == name {
			return f, true
		}
		if !exact && !found && strings.EqualFold(n, name) {
			folded, found = f, true
		}
	}
	return folded, found
}

func hasTime(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return hasTime(t.Elem())
	case reflect.Struct:
		if t == timeType {
			return true
		}
		for i := range t.NumField() {
			if hasTime(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, strconv.Quote(k))
	}
	return out
}
