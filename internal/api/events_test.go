package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"civico/internal/testutil"

	ics "github.com/arran4/golang-ical"
)

type eventView struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	StartsAt   string `json:"starts_at"`
	TimeZone   string `json:"time_zone"`
	Capacity   *int   `json:"capacity"`
	SeatsTaken int    `json:"seats_taken"`
	SeatsLeft  *int   `json:"seats_left"`
	Status     string `json:"status"`
	Sequence   int    `json:"sequence"`
	MyAnswer   *struct {
		Answer string `json:"answer"`
		Guests int    `json:"guests"`
	} `json:"my_answer"`
}

// A member proposes a dinner with three places; answers fill it and the
// next neighbour gets a clear "full"; strangers see nothing; the event
// moves (with a reason) and is cancelled; its .ics and the private feed
// parse with a real parser and carry the time zone; rotating the feed
// makes its old URL unknown.
func TestEventsOverHTTP(t *testing.T) {
	s := testutil.Start(t)
	admin, anna, bruno, carla, stranger := s.Register(t, "Admin"), s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla"), s.Register(t, "Sara")
	sid := s.StreetWithMembers(t, admin, "Via Fondazza", anna, bruno, carla)
	rome, _ := time.LoadLocation("Europe/Rome")
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour).In(rome)
	body := map[string]any{"title": "Cena in strada", "description": "Ognuno porta un piatto", "place": "Via Fondazza 12",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(3 * time.Hour).Format(time.RFC3339), "capacity": 3}

	s.Do(t, "POST", "/streets/"+sid+"/events", body, stranger.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.Do(t, "POST", "/streets/"+sid+"/events", map[string]any{"title": "Cena", "place": "Qui",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(-time.Hour).Format(time.RFC3339)}, anna.Token).
		ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	var ev eventView
	s.Do(t, "POST", "/streets/"+sid+"/events", body, anna.Token).Expect(t, http.StatusCreated).JSON(t, &ev)
	if ev.TimeZone != "Europe/Rome" || ev.StartsAt != start.Format(time.RFC3339) || *ev.SeatsLeft != 3 {
		t.Fatalf("created: %+v", ev)
	}
	s.Do(t, "GET", "/events/"+ev.ID, nil, stranger.Token).ExpectError(t, http.StatusNotFound, "event_not_found")
	s.Do(t, "GET", "/events/"+ev.ID+"/ics", nil, stranger.Token).ExpectError(t, http.StatusNotFound, "event_not_found")
	s.Do(t, "GET", "/streets/"+sid+"/events", nil, stranger.Token).ExpectError(t, http.StatusNotFound, "street_not_found")

	// With Anna's yes in, Bruno (+2) and Carla (+1) answer at once for
	// the two places left: Carla's fits, Bruno is told it is full.
	var got eventView
	s.Do(t, "PUT", "/events/"+ev.ID+"/rsvp", map[string]any{"answer": "yes", "guests": 0}, anna.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.SeatsTaken != 1 || got.MyAnswer == nil || got.MyAnswer.Answer != "yes" {
		t.Fatalf("anna's answer: %+v", got)
	}
	var wg sync.WaitGroup
	res := make([]*testutil.Response, 2)
	for i, u := range []*testutil.User{bruno, carla} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = s.Do(t, "PUT", "/events/"+ev.ID+"/rsvp", map[string]any{"answer": "yes", "guests": 2 - i}, u.Token)
		}()
	}
	wg.Wait()
	full := 0
	for _, r := range res {
		if r.Status == http.StatusConflict && r.ErrorCode() == "event_full" {
			full++
		} else {
			r.Expect(t, http.StatusOK)
		}
	}
	s.Do(t, "GET", "/events/"+ev.ID, nil, admin.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if full != 1 || res[0].ErrorCode() != "event_full" || got.SeatsTaken != 3 || *got.SeatsLeft != 0 {
		t.Fatalf("%d full, event %+v", full, got)
	}
	s.Do(t, "PUT", "/events/"+ev.ID+"/rsvp", map[string]any{"answer": "maybe"}, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")

	var list struct {
		Items      []eventView `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/events?limit=5", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != ev.ID || list.NextCursor != "" {
		t.Fatalf("list: %+v", list)
	}
	s.Do(t, "GET", "/streets/"+sid+"/events?cursor=nope", nil, bruno.Token).ExpectError(t, http.StatusBadRequest, "bad_cursor")

	// Moving it needs a reason; only the author or an admin may.
	later := start.Add(24 * time.Hour)
	move := map[string]any{"starts_at": later.Format(time.RFC3339), "ends_at": later.Add(2 * time.Hour).Format(time.RFC3339)}
	s.Do(t, "PATCH", "/events/"+ev.ID, move, bruno.Token).ExpectError(t, http.StatusForbidden, "event_not_allowed")
	r := s.Do(t, "PATCH", "/events/"+ev.ID, move, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["reason"] != "required" {
		t.Fatalf("fields %v", r.Fields())
	}
	move["reason"] = "Pioggia sabato"
	s.Do(t, "PATCH", "/events/"+ev.ID, move, anna.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Sequence != 1 || got.StartsAt != later.Format(time.RFC3339) {
		t.Fatalf("moved: %+v", got)
	}

	ical := s.Do(t, "GET", "/events/"+ev.ID+"/ics", nil, carla.Token).Expect(t, http.StatusOK)
	if !strings.HasPrefix(ical.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("content type %q", ical.Header.Get("Content-Type"))
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(ical.Body))
	if err != nil || len(cal.Events()) != 1 || len(cal.Timezones()) != 1 {
		t.Fatalf("ics: %v\n%s", err, ical.Body)
	}
	if at, err := cal.Events()[0].GetStartAt(); err != nil || !at.Equal(later) {
		t.Fatalf("DTSTART %v, %v; want %v", at, err, later)
	}

	// The private feed, then rotated.
	var feed struct {
		URL string `json:"url"`
	}
	s.Do(t, "GET", "/me/calendar", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &feed)
	_, path, ok := strings.Cut(feed.URL, "/api/v1/calendar/")
	if !ok || !strings.HasSuffix(path, ".ics") {
		t.Fatalf("feed URL %q", feed.URL)
	}
	old := "/api/v1/calendar/" + path
	r = s.Do(t, "GET", old, nil, "").Expect(t, http.StatusOK)
	if cal, err := ics.ParseCalendar(bytes.NewReader(r.Body)); err != nil || len(cal.Events()) != 1 {
		t.Fatalf("feed: %v\n%s", err, r.Body)
	}
	s.Do(t, "POST", "/me/calendar/rotate", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &feed)
	s.Do(t, "GET", old, nil, "").ExpectError(t, http.StatusNotFound, "calendar_not_found")
	_, path, _ = strings.Cut(feed.URL, "/api/v1/calendar/")
	s.Do(t, "GET", "/api/v1/calendar/"+path, nil, "").Expect(t, http.StatusOK)
	s.Do(t, "GET", "/api/v1/calendar/x.ics", nil, "").ExpectError(t, http.StatusNotFound, "calendar_not_found")

	// Cancelled, once.
	s.Do(t, "POST", "/events/"+ev.ID+"/cancel", map[string]any{"reason": "Cortile inagibile"}, admin.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Status != "cancelled" || got.Sequence != 2 {
		t.Fatalf("cancelled: %+v", got)
	}
	s.Do(t, "POST", "/events/"+ev.ID+"/cancel", map[string]any{"reason": "ancora"}, anna.Token).ExpectError(t, http.StatusConflict, "event_cancelled")
	s.Do(t, "PUT", "/events/"+ev.ID+"/rsvp", map[string]any{"answer": "yes"}, carla.Token).ExpectError(t, http.StatusConflict, "event_cancelled")

	// Carla's export holds her answer; once she deletes her account, her
	// seats are free and her feed is gone.
	var export struct {
		Events struct {
			Answers []struct {
				EventID string `json:"event_id"`
				Guests  int    `json:"guests"`
			} `json:"answers"`
		} `json:"events"`
	}
	s.Do(t, "GET", "/me/calendar", nil, carla.Token).Expect(t, http.StatusOK).JSON(t, &feed)
	s.Do(t, "GET", "/me/export", nil, carla.Token).Expect(t, http.StatusOK).JSON(t, &export)
	if len(export.Events.Answers) != 1 || export.Events.Answers[0].EventID != ev.ID || export.Events.Answers[0].Guests != 1 {
		t.Fatalf("export: %+v", export)
	}
	s.Do(t, "DELETE", "/me", map[string]string{"password": carla.Password}, carla.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "GET", "/events/"+ev.ID, nil, admin.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.SeatsTaken != 1 {
		t.Fatalf("after carla left: %+v", got)
	}
	_, path, _ = strings.Cut(feed.URL, "/api/v1/calendar/")
	s.Do(t, "GET", "/api/v1/calendar/"+path, nil, "").ExpectError(t, http.StatusNotFound, "calendar_not_found")
}

// An event's optional photo: the proposer's upload with its alt text,
// shown to members with its URLs; another's upload is refused; an edit
// replaces it (the old image is gone) or removes it with null; a
// cancelled event keeps it.
func TestEventPhotoOverHTTP(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno)
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	body := map[string]any{"title": "Cena in strada", "place": "Via Fondazza 12", "starts_at": start.Format(time.RFC3339),
		"ends_at": start.Add(3 * time.Hour).Format(time.RFC3339)}
	type withPhoto struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Photo  *struct {
			ID       string `json:"id"`
			Alt      string `json:"alt"`
			URL      string `json:"url"`
			ThumbURL string `json:"thumb_url"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
		} `json:"photo"`
	}

	brunos := uploadPhoto(t, s, bruno, sid, smallJPEG(t, 40, 30))
	body["photo"] = map[string]string{"id": brunos.ID, "alt": "Il cortile"}
	r := s.Do(t, "POST", "/streets/"+sid+"/events", body, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["photo.id"] != "unknown" {
		t.Fatalf("another's photo: %v", r.Fields())
	}
	first := uploadPhoto(t, s, anna, sid, smallJPEG(t, 120, 90))
	body["photo"] = map[string]string{"id": first.ID}
	r = s.Do(t, "POST", "/streets/"+sid+"/events", body, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if r.Fields()["photo.alt"] != "required" {
		t.Fatalf("no alt: %v", r.Fields())
	}
	body["photo"] = map[string]string{"id": first.ID, "alt": "Il cortile"}
	var ev withPhoto
	s.Do(t, "POST", "/streets/"+sid+"/events", body, anna.Token).Expect(t, http.StatusCreated).JSON(t, &ev)
	if p := ev.Photo; p == nil || p.ID != first.ID || p.Alt != "Il cortile" || p.URL != first.URL || p.ThumbURL != first.ThumbURL ||
		p.Width != 120 || p.Height != 90 {
		t.Fatalf("created: %+v", ev.Photo)
	}
	s.Do(t, "GET", first.URL, nil, bruno.Token).Expect(t, http.StatusOK)

	second := uploadPhoto(t, s, anna, sid, smallJPEG(t, 80, 60))
	var got withPhoto
	s.Do(t, "PATCH", "/events/"+ev.ID, map[string]any{"photo": map[string]string{"id": second.ID, "alt": "Il tavolo"}}, anna.Token).
		Expect(t, http.StatusOK).JSON(t, &got)
	if got.Photo == nil || got.Photo.ID != second.ID || got.Photo.Width != 80 {
		t.Fatalf("replaced: %+v", got.Photo)
	}
	s.Do(t, "GET", first.URL, nil, anna.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")
	s.Do(t, "PATCH", "/events/"+ev.ID, map[string]any{"photo": "x"}, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "PATCH", "/events/"+ev.ID, map[string]any{"title": "Cena in strada!"}, anna.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Photo == nil || got.Photo.ID != second.ID {
		t.Fatalf("kept by an edit without photo: %+v", got.Photo)
	}
	s.Do(t, "PATCH", "/events/"+ev.ID, map[string]any{"photo": nil}, anna.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Photo != nil {
		t.Fatalf("removed: %+v", got.Photo)
	}
	s.Do(t, "GET", second.URL, nil, anna.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")

	third := uploadPhoto(t, s, anna, sid, smallJPEG(t, 60, 60))
	s.Do(t, "PATCH", "/events/"+ev.ID, map[string]any{"photo": map[string]string{"id": third.ID, "alt": "Di nuovo"}}, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/events/"+ev.ID+"/cancel", map[string]any{"reason": "Pioggia"}, anna.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Status != "cancelled" || got.Photo == nil || got.Photo.ID != third.ID {
		t.Fatalf("cancelled: %+v", got)
	}
	s.Do(t, "GET", third.URL, nil, bruno.Token).Expect(t, http.StatusOK)
}
