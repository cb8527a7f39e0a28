package api_test

import (
	"net/http"
	"strings"
	"testing"

	"civico/internal/testutil"
)

type suggestionView struct {
	ID            string         `json:"id"`
	Kind          string         `json:"kind"`
	AssociationID string         `json:"association_id"`
	PlaceID       string         `json:"place_id"`
	Author        string         `json:"author"`
	Text          string         `json:"text"`
	Changes       map[string]any `json:"changes"`
	Status        string         `json:"status"`
	Reason        string         `json:"reason"`
}

type suggestionList struct {
	Items      []suggestionView `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

type placeView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Contacts struct {
		Phone string `json:"phone"`
	} `json:"contacts"`
}

// The Locator's story over HTTP: an anonymous visitor searches the map but
// cannot suggest; a signed-in resident reports a wrong phone number; the
// association's volunteer sees it in the queue by the resident's first
// name and initial, accepts it; the place shows the new number to anyone;
// the resident sees the report accepted. Others do not see the queue, and
// a decided suggestion cannot be decided again.
func TestSuggestionAcceptedChangesThePlace(t *testing.T) {
	s := testutil.Start(t)
	coord, vol, maria, outsider := s.Register(t, "Clara Neri"), s.Register(t, "Vito Bianchi"), s.Register(t, "Maria Rossi"), s.Register(t, "Ugo Gialli")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	var pl placeView
	s.Do(t, "POST", "/associations/"+aid+"/places", map[string]any{"name": "Biblioteca Lame", "kind": "library",
		"address": "Via Tibaldi 17", "area": "Bolognina", "contacts": map[string]string{"phone": "051 111111"}}, coord.Token).
		Expect(t, http.StatusCreated).JSON(t, &pl)

	s.Do(t, "GET", "/places?q=biblioteca", nil, "").Expect(t, http.StatusOK)
	report := map[string]any{"place_id": pl.ID, "text": "Il numero è cambiato", "changes": map[string]any{"contacts": map[string]string{"phone": "051 222222"}}}
	s.Do(t, "POST", "/places/suggestions", report, "").ExpectError(t, http.StatusUnauthorized, "unauthorized")

	var sg suggestionView
	s.Do(t, "POST", "/places/suggestions", report, maria.Token).Expect(t, http.StatusCreated).JSON(t, &sg)
	if sg.Kind != "report" || sg.Status != "pending" || sg.AssociationID != aid || sg.Author != "" {
		t.Fatalf("filed: %+v", sg)
	}

	r := s.Do(t, "GET", "/associations/"+aid+"/suggestions?status=pending", nil, vol.Token).Expect(t, http.StatusOK)
	var q suggestionList
	r.JSON(t, &q)
	if len(q.Items) != 1 || q.Items[0].ID != sg.ID || q.Items[0].Author != "Maria R." || q.Items[0].Changes["contacts"] == nil {
		t.Fatalf("queue: %+v", q)
	}
	if body := string(r.Body); strings.Contains(body, maria.Email) || strings.Contains(body, maria.ID) || strings.Contains(body, "Rossi") {
		t.Fatalf("the queue shows more of the author than a first name and initial: %s", body)
	}
	for _, who := range []*testutil.User{maria, outsider} {
		s.Do(t, "GET", "/associations/"+aid+"/suggestions", nil, who.Token).ExpectError(t, http.StatusNotFound, "association_not_found")
		s.Do(t, "POST", "/suggestions/"+sg.ID+"/accept", map[string]any{}, who.Token).ExpectError(t, http.StatusNotFound, "suggestion_not_found")
	}

	var dec struct {
		Suggestion suggestionView `json:"suggestion"`
		Place      *placeView     `json:"place"`
	}
	s.Do(t, "POST", "/suggestions/"+sg.ID+"/accept", nil, vol.Token).Expect(t, http.StatusOK).JSON(t, &dec)
	if dec.Suggestion.Status != "accepted" || dec.Place == nil || dec.Place.Contacts.Phone != "051 222222" {
		t.Fatalf("accepted: %+v", dec)
	}
	var got placeView
	s.Do(t, "GET", "/places/"+pl.ID, nil, "").Expect(t, http.StatusOK).JSON(t, &got)
	if got.Contacts.Phone != "051 222222" {
		t.Fatalf("the place after the accept: %+v", got)
	}
	var mine suggestionList
	s.Do(t, "GET", "/me/suggestions", nil, maria.Token).Expect(t, http.StatusOK).JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Status != "accepted" {
		t.Fatalf("my suggestions: %+v", mine)
	}
	s.Do(t, "POST", "/suggestions/"+sg.ID+"/decline", map[string]string{"reason": "troppo tardi"}, coord.Token).
		ExpectError(t, http.StatusConflict, "suggestion_decided")
	s.Do(t, "GET", "/me/suggestions", nil, "").ExpectError(t, http.StatusUnauthorized, "unauthorized")
}

// Bad input gets a clear code per field and files nothing; declining
// needs a reason, which the author then reads.
func TestSuggestionInputAndDecline(t *testing.T) {
	s := testutil.Start(t)
	coord, anna := s.Register(t, "Clara Neri"), s.Register(t, "Anna Verdi")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)

	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"no association", map[string]any{"text": "un posto"}, 422, "validation_failed", "association_id"},
		{"no text", map[string]any{"association_id": aid}, 422, "validation_failed", "text"},
		{"text too long", map[string]any{"association_id": aid, "text": strings.Repeat("a", 2001)}, 422, "validation_failed", "text"},
		{"unknown field", map[string]any{"association_id": aid, "text": "x", "email": "a@b.c"}, 422, "validation_failed", "email"},
		{"unknown kind", map[string]any{"association_id": aid, "text": "x", "changes": map[string]any{"kind": "bar"}}, 422, "validation_failed", "changes.kind"},
		{"unknown place", map[string]any{"place_id": "65f1c0ffee0000000000abcd", "text": "x"}, 404, "place_not_found", ""},
		{"unknown association", map[string]any{"association_id": "65f1c0ffee0000000000abcd", "text": "x"}, 404, "association_not_found", ""},
		{"not JSON", "text=x", 400, "bad_json", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(t, "POST", "/places/suggestions", c.body, anna.Token).ExpectError(t, c.status, c.code)
			if c.field != "" && r.Fields()[c.field] == "" {
				t.Fatalf("fields %v, want %s", r.Fields(), c.field)
			}
		})
	}

	var sg suggestionView
	s.Do(t, "POST", "/places/suggestions", map[string]any{"association_id": aid, "text": "Un nuovo orto in via Fioravanti"}, anna.Token).
		Expect(t, http.StatusCreated).JSON(t, &sg)
	if sg.Kind != "new_place" {
		t.Fatalf("filed: %+v", sg)
	}
	var q suggestionList
	s.Do(t, "GET", "/associations/"+aid+"/suggestions", nil, coord.Token).Expect(t, http.StatusOK).JSON(t, &q)
	if len(q.Items) != 1 {
		t.Fatalf("refused suggestions were filed: %+v", q)
	}
	s.Do(t, "GET", "/associations/"+aid+"/suggestions?status=open", nil, coord.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "GET", "/associations/"+aid+"/suggestions?cursor=abc", nil, coord.Token).ExpectError(t, http.StatusBadRequest, "bad_cursor")

	r := s.Do(t, "POST", "/suggestions/"+sg.ID+"/accept", nil, coord.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["changes"] != "required" {
		t.Fatalf("accepting a new place with nothing to create: %v", r.Fields())
	}
	r = s.Do(t, "POST", "/suggestions/"+sg.ID+"/decline", map[string]string{"reason": " "}, coord.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["reason"] != "required" {
		t.Fatalf("declining without a reason: %v", r.Fields())
	}
	s.Do(t, "POST", "/suggestions/"+sg.ID+"/decline", map[string]string{"reason": "Esiste già"}, coord.Token).Expect(t, http.StatusOK)
	var mine suggestionList
	s.Do(t, "GET", "/me/suggestions?status=declined", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Reason != "Esiste già" {
		t.Fatalf("my declined suggestions: %+v", mine)
	}
}
