package api

import (
	"errors"
	"math/big"
	"testing"

	"civico/internal/fault"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// withQuery runs fn with a context whose URL carries the given query
// parameters, encoded as a browser would.
func withQuery(fn func(c *fiber.Ctx), kv ...string) {
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	for i := 0; i+1 < len(kv); i += 2 {
		args.Set(kv[i], kv[i+1])
	}
	c := fuzzApp.AcquireCtx(&fasthttp.RequestCtx{})
	defer fuzzApp.ReleaseCtx(c)
	c.Request().SetRequestURI("/v1/x?" + string(args.QueryString()))
	fn(c)
}

// decimal is the value of s read as a signed decimal integer (what a person
// would take it for), independently of strconv; ok is false when it is not
// one.
func decimal(s string) (*big.Int, bool) {
	if s == "" {
		return nil, false
	}
	return new(big.Int).SetString(s, 10)
}

// Numeric query parameters (?limit=, ?year=, ?within_days=) are outside
// data: whatever their text, the parsers never panic, answer the default
// when the parameter is absent, accept exactly the integers in their range
// with their value, and refuse everything else with a validation error on
// that parameter.
func FuzzQueryNumbers(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"20", "2026"}, {"1", "0"}, {"100", "-1"}, {"0", "999999"}, {"101", "1000000"}, {"-5", "-99999"},
		{"+7", "+2026"}, {"007", "0002026"}, {" 5", "2026 "}, {"5.0", "20.26"}, {"1e2", "2e3"}, {"0x10", "0x7e6"},
		{"9223372036854775808", "9223372036854775807"}, {"٣", "２０２６"}, {"10\x00", "\xff"}, {"%31", "&year=1"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, limit, year string) {
		withQuery(func(c *fiber.Ctx) {
			if c.Query("limit") != limit || c.Query("year") != year {
				t.Skipf("the query does not carry %q and %q as they are", limit, year)
			}
			n, err := queryLimit(c, 20)
			v, isInt := decimal(limit)
			switch {
			case limit == "":
				if n != 20 || err != nil {
					t.Fatalf("no limit: %d, %v; want the default 20", n, err)
				}
			case isInt && v.Cmp(big.NewInt(1)) >= 0 && v.Cmp(big.NewInt(100)) <= 0:
				if err != nil || int64(n) != v.Int64() {
					t.Fatalf("limit=%q: %d, %v; want %d", limit, n, err, v)
				}
			default:
				wantField(t, err, "limit", "out_of_range")
			}

			y, err := queryInt(c, "year")
			v, isInt = decimal(year)
			switch {
			case year == "":
				if y != 0 || err != nil {
					t.Fatalf("no year: %d, %v; want 0", y, err)
				}
			case isInt && len(year) <= 6:
				if err != nil || int64(y) != v.Int64() {
					t.Fatalf("year=%q: %d, %v; want %d", year, y, err, v)
				}
			default:
				wantField(t, err, "year", "invalid")
			}
		}, "limit", limit, "year", year)
	})
}

func wantField(t *testing.T, err error, field, code string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || len(fe.Fields) != 1 || fe.Fields[field] != code {
		var shown any = err
		if errors.As(err, &fe) {
			shown = *fe
		}
		t.Fatalf("want a validation error %s=%s, got %+v", field, code, shown)
	}
}
