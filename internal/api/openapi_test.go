package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"civico/internal/testutil"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The API's description, openapi.json, is checked three ways: it is a valid
// OpenAPI 3.1 document, it describes exactly the routes the server
// registers, and every answer the api tests read through testutil's Do is
// one it describes: a documented status, the documented media type, a JSON
// body that matches the schema.

func init() { testutil.CheckResponses(checkOpenAPI) }

// specURL names the document for the JSON Schema compiler (never fetched).
const specURL = "https://civico.invalid/openapi.json"

// openAPI is openapi.json, loaded once for the whole test binary.
var openAPI = sync.OnceValues(loadOpenAPI)

type openAPISpec struct {
	raw       []byte
	doc       map[string]any
	ops       map[string]map[string]specOperation // path template → lower-case method → operation
	responses map[string]specResponse             // components.responses

	mu       sync.Mutex // guards compiler and compiled
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema // JSON pointer → schema
}

type specOperation struct {
	Responses map[string]specResponse `json:"responses"`
}

type specResponse struct {
	Ref     string                     `json:"$ref"`
	Content map[string]json.RawMessage `json:"content"`
}

func loadOpenAPI() (*openAPISpec, error) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]specResponse `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	sp := &openAPISpec{raw: raw, ops: map[string]map[string]specOperation{}, responses: doc.Components.Responses,
		compiled: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(raw, &sp.doc); err != nil {
		return nil, err
	}
	for path, item := range doc.Paths {
		sp.ops[path] = map[string]specOperation{}
		for method, v := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, method) {
				continue
			}
			var op specOperation
			if err := json.Unmarshal(v, &op); err != nil {
				return nil, fmt.Errorf("openapi.json: %s %s: %w", method, path, err)
			}
			sp.ops[path][method] = op
		}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	sp.compiler = jsonschema.NewCompiler()
	sp.compiler.DefaultDraft(jsonschema.Draft2020)
	sp.compiler.AssertFormat()
	if err := sp.compiler.AddResource(specURL, inst); err != nil {
		return nil, err
	}
	return sp, nil
}

func mustOpenAPI(tb testing.TB) *openAPISpec {
	tb.Helper()
	sp, err := openAPI()
	if err != nil {
		tb.Fatal(err)
	}
	return sp
}

// pointer is the JSON pointer of the document's value at keys.
func pointer(keys ...string) string {
	r := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	b.WriteString("#")
	for _, k := range keys {
		b.WriteString("/" + r.Replace(k))
	}
	return b.String()
}

// schema compiles (once) the schema at the JSON pointer ptr.
func (sp *openAPISpec) schema(ptr string) (*jsonschema.Schema, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if s, ok := sp.compiled[ptr]; ok {
		return s, nil
	}
	s, err := sp.compiler.Compile(specURL + ptr)
	if err != nil {
		return nil, err
	}
	sp.compiled[ptr] = s
	return s, nil
}

// match is the path template that describes path, the one with the most
// literal segments when several do (/members/me before /members/{uid}).
func (sp *openAPISpec) match(path string) string {
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	segs := strings.Split(path, "/")
	best, bestScore := "", -1
	for tmpl := range sp.ops {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		score := 0
		for i, t := range ts {
			switch {
			case t == segs[i]:
				score++
			case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") && segs[i] != "":
			default:
				score = -1
			}
			if score < 0 {
				break
			}
		}
		if score > bestScore || (score == bestScore && tmpl < best) {
			best, bestScore = tmpl, score
		}
	}
	return best
}

// check says what is wrong with the answer r to method path, "" when the
// document describes it.
func (sp *openAPISpec) check(method, path string, r *testutil.Response) string {
	tmpl := sp.match(path)
	op, ok := sp.ops[tmpl][strings.ToLower(method)]
	if !ok {
		if r.Status < 400 {
			return "no operation in openapi.json describes this request, yet it succeeded"
		}
		// Unknown routes and methods still answer the one error shape.
		return sp.checkBody(pointer("components", "schemas", "Error"), r)
	}
	where := []string{"paths", tmpl, strings.ToLower(method), "responses"}
	status := strconv.Itoa(r.Status)
	resp, ok := op.Responses[status]
	if !ok {
		// Headers too large (431) and server-side failures (5xx) may
		// meet any request: the default response describes them.
		if r.Status < 500 && r.Status != http.StatusRequestHeaderFieldsTooLarge {
			return fmt.Sprintf("status %d is not documented for %s %s", r.Status, strings.ToUpper(method), tmpl)
		}
		status, resp = "default", op.Responses["default"]
	}
	where = append(where, status)
	if resp.Ref != "" {
		name := strings.TrimPrefix(resp.Ref, "#/components/responses/")
		resp, where = sp.responses[name], []string{"components", "responses", name}
	}
	if len(resp.Content) == 0 {
		if len(r.Body) != 0 {
			return fmt.Sprintf("status %d is documented without a body, yet one came", r.Status)
		}
		return ""
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Sprintf("no valid Content-Type (%q)", r.Header.Get("Content-Type"))
	}
	if _, ok := resp.Content[mt]; !ok {
		return fmt.Sprintf("media type %s is not documented for status %d", mt, r.Status)
	}
	if mt != "application/json" || r.Header.Get("Content-Encoding") != "" {
		return ""
	}
	return sp.checkBody(pointer(append(where, "content", mt, "schema")...), r)
}

// checkBody validates r's JSON body against the schema at ptr.
func (sp *openAPISpec) checkBody(ptr string, r *testutil.Response) string {
	s, err := sp.schema(ptr)
	if err != nil {
		return fmt.Sprintf("schema %s: %v", ptr, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		return fmt.Sprintf("the body is not JSON: %v", err)
	}
	if err := s.Validate(inst); err != nil {
		return err.Error()
	}
	return ""
}

// checkOpenAPI is the check every answer of the api tests goes through.
func checkOpenAPI(tb testing.TB, method, rawPath string, r *testutil.Response) {
	tb.Helper()
	path, _, _ := strings.Cut(rawPath, "?")
	if method == http.MethodHead || method == http.MethodOptions ||
		!(strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz") {
		return
	}
	sp, err := openAPI()
	if err != nil {
		tb.Errorf("openapi.json: %v", err)
		return
	}
	if problem := sp.check(method, path, r); problem != "" {
		body := string(r.Body)
		if len(body) > 600 {
			body = body[:600] + "…"
		}
		tb.Errorf("answer not described by openapi.json: %s %s → %d: %s\nbody: %s", method, rawPath, r.Status, problem, body)
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	sp := mustOpenAPI(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(sp.raw)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("not a valid OpenAPI document: %v", err)
	}
	// Every schema compiles (a broken $ref fails here rather than in
	// whichever test first meets that answer).
	schemas := sp.doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name := range schemas {
		if _, err := sp.schema(pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	// The decoder refuses unknown fields: so does every request body's schema.
	for name, s := range schemas {
		if strings.HasSuffix(name, "Request") {
			for _, where := range openObjects(s.(map[string]any), name) {
				t.Errorf("%s: an object without additionalProperties: false", where)
			}
		}
	}
	for path, ops := range sp.ops {
		for method, op := range ops {
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s %s: no default response", method, path)
			}
		}
	}
}

// openObjects lists where s holds an object schema with properties that
// does not refuse others.
func openObjects(s map[string]any, where string) []string {
	var out []string
	if _, ok := s["properties"]; ok && s["additionalProperties"] != false {
		out = append(out, where)
	}
	for _, k := range []string{"properties"} {
		if props, ok := s[k].(map[string]any); ok {
			for name, p := range props {
				if ps, ok := p.(map[string]any); ok {
					out = append(out, openObjects(ps, where+"."+name)...)
				}
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if ps, ok := s[k].(map[string]any); ok {
			out = append(out, openObjects(ps, where+"."+k)...)
		}
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if list, ok := s[k].([]any); ok {
			for i, v := range list {
				if ps, ok := v.(map[string]any); ok {
					out = append(out, openObjects(ps, fmt.Sprintf("%s.%s[%d]", where, k, i))...)
				}
			}
		}
	}
	return out
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	sp := mustOpenAPI(t)
	s := testutil.Start(t)
	routed := map[string]bool{}
	for _, r := range s.App.Routes() {
		p := r.Path
		if len(p) > 1 {
			p = strings.TrimRight(p, "/")
		}
		// Fiber answers HEAD for every GET by itself.
		if r.Method == http.MethodHead || !(strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz") {
			continue
		}
		if strings.ContainsAny(p, "*?+") {
			t.Errorf("%s %s: wildcard or optional parameters cannot be described as one OpenAPI path", r.Method, r.Path)
		}
		routed[r.Method+" "+fiberParam.ReplaceAllString(p, "{$1}")] = true
	}
	described := map[string]bool{}
	for path, ops := range sp.ops {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range routed {
		if !described[k] {
			missing = append(missing, k)
		}
	}
	for k := range described {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("routes openapi.json does not describe:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json describes routes the server does not have:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(routed) < 80 {
		t.Errorf("only %d routes found: is the router walked?", len(routed))
	}
}

func TestOpenAPIServed(t *testing.T) {
	sp := mustOpenAPI(t)
	s := testutil.Start(t)
	r := s.Do(t, "GET", "/api/v1/openapi.json", nil, "").Expect(t, http.StatusOK)
	if !bytes.Equal(r.Body, sp.raw) {
		t.Fatal("the document served differs from openapi.json")
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	s.Do(t, "GET", "/api/v1/openapi.json", nil, "", "If-None-Match", etag).Expect(t, http.StatusNotModified)
	s.Do(t, "GET", "/api/v1/openapi.json", nil, "", "If-None-Match", `"other"`).Expect(t, http.StatusOK)
}

// The response check itself finds what is wrong.
func TestOpenAPIResponseCheck(t *testing.T) {
	sp := mustOpenAPI(t)
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		method, path string
		r            testutil.Response
		wrong        bool
	}{
		{"GET", "/healthz", testutil.Response{Status: 200, Header: json, Body: []byte(`{"status":"ok"}`)}, false},
		{"GET", "/healthz", testutil.Response{Status: 200, Header: json, Body: []byte(`{"status":"ok","extra":1}`)}, true},
		{"GET", "/healthz", testutil.Response{Status: 201, Header: json, Body: []byte(`{"status":"ok"}`)}, true},
		{"GET", "/healthz", testutil.Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(`ok`)}, true},
		{"GET", "/api/v1/streets/0123456789abcdef01234567/members/", testutil.Response{Status: 200, Header: json,
			Body: []byte(`{"items":[{"street_id":"0123456789abcdef01234567","user_id":"0123456789abcdef01234567","name":"A",` +
				`"role":"admin","status":"active","updated_at":"2026-01-02T03:04:05Z"}]}`)}, false},
		{"GET", "/api/v1/streets/0123456789abcdef01234567/members", testutil.Response{Status: 200, Header: json,
			Body: []byte(`{"items":[{"user_id":"x"}]}`)}, true},
		{"DELETE", "/api/v1/streets/0123456789abcdef01234567/members/me", testutil.Response{Status: 204}, false},
		{"GET", "/api/v1/nowhere", testutil.Response{Status: 404, Header: json, Body: []byte(`{"error":{"code":"not_found","message":"not found"}}`)}, false},
		{"GET", "/api/v1/nowhere", testutil.Response{Status: 404, Header: json, Body: []byte(`{"code":"not_found"}`)}, true},
		{"GET", "/api/v1/nowhere", testutil.Response{Status: 200, Header: json, Body: []byte(`{}`)}, true},
		{"POST", "/api/v1/streets", testutil.Response{Status: 422, Header: json,
			Body: []byte(`{"error":{"code":"validation_failed","message":"m","fields":{"name":"too_long"}}}`)}, false},
	} {
		problem := sp.check(c.method, c.path, &c.r)
		if (problem != "") != c.wrong {
			t.Errorf("%s %s %d %s: problem %q, want one: %v", c.method, c.path, c.r.Status, c.r.Body, problem, c.wrong)
		}
	}
}

// The routes the other tests call least, called once each, so that their
// answers meet the check above too.
func TestOpenAPIShapesOfLessTestedRoutes(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla, dario := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla"), s.Register(t, "Dario")
	sid := s.StreetWithMembers(t, anna, "Via Mascarella", bruno)
	aid := s.Association(t, dario, "Portineria Mascarella", 500)
	s.Link(t, anna, dario, sid, aid)
	s.Do(t, "GET", "/associations?q=mascarella", nil, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "PATCH", "/associations/"+aid, map[string]any{"area": "Irnerio"}, dario.Token).Expect(t, http.StatusOK)
	s.Do(t, "GET", "/streets/"+sid+"/links", nil, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "GET", "/associations/"+aid+"/links", nil, dario.Token).Expect(t, http.StatusOK)

	pid := s.Request(t, bruno, sid, "repairs", "Una mensola")
	s.Do(t, "GET", "/posts/"+pid+"/handoff", nil, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "PATCH", "/posts/"+pid, map[string]any{"title": "Due mensole"}, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/posts/"+pid+"/renew", nil, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/posts/"+pid+"/pin", nil, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/posts/"+pid+"/unpin", nil, anna.Token).Expect(t, http.StatusOK)

	s.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "abito al 5"}, carla.Token).Expect(t, http.StatusAccepted)
	s.Do(t, "POST", "/streets/"+sid+"/members/"+carla.ID+"/reject", map[string]string{"reason": "non abita qui"}, anna.Token).
		Expect(t, http.StatusOK)
	code := s.Invite(t, anna, sid)
	s.Do(t, "DELETE", "/streets/"+sid+"/invites/"+code, nil, anna.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "GET", "/streets/"+sid+"/ws", nil, bruno.Token).ExpectError(t, http.StatusBadRequest, "upgrade_required")

	m := s.Member(t, dario.Token, aid, map[string]any{"full_name": "Elena Neri", "skills": []string{"sartoria"}})
	s.Do(t, "PATCH", "/associations/"+aid+"/members/"+m.ID, map[string]any{"phone": "051 654321"}, dario.Token).Expect(t, http.StatusOK)
	s.Do(t, "DELETE", "/associations/"+aid+"/members/"+m.ID, nil, dario.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "DELETE", "/streets/"+sid+"/links/"+aid, nil, anna.Token).Expect(t, http.StatusNoContent)
}
