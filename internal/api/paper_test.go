package api_test

import (
	"net/http"
	"strings"
	"testing"

	"civico/internal/testutil"
)

// The street's admin prints the board: open requests and offers with
// first name and initial, without the member who said never; a member
// who is not an admin, and a stranger, are told the street does not
// exist. The invite's flyer and QR code carry the invite link.
func TestBoardAndFlyerOnPaper(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla, eve := s.Register(t, "Anna Verdi"), s.Register(t, "Bruno Bianchi"), s.Register(t, "Carla Neri"), s.Register(t, "Eve Stranieri")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno, carla)
	off := false
	var me struct {
		OnPaper *bool `json:"on_paper"`
	}
	s.Do(t, "GET", "/me", nil, carla.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.OnPaper == nil || !*me.OnPaper {
		t.Fatalf("a new account's on_paper: %v", me.OnPaper)
	}
	s.Do(t, "PATCH", "/me", map[string]any{"on_paper": off}, carla.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if *me.OnPaper {
		t.Fatal("on_paper stayed true")
	}
	s.CreatePost(t, anna, sid, "request", "Cerco una scala, però è già tardi")
	s.CreatePost(t, bruno, sid, "offer", "Presto il trapano, più o meno")
	s.CreatePost(t, carla, sid, "request", "Una richiesta che non va stampata")

	board := "/api/v1/streets/" + sid + "/board.pdf"
	r := s.DoRaw(t, "GET", board, nil, anna.Token).Expect(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/pdf" || !strings.HasPrefix(string(r.Body), "%PDF") {
		t.Fatalf("content type %q, starts %q", ct, r.Body[:min(8, len(r.Body))])
	}
	text := testutil.PDFText(t, r.Body)
	for _, want := range []string{"Cerco una scala, però è già tardi", "Presto il trapano, più o meno", "Bruno B.", "Via Fondazza"} {
		if !strings.Contains(text, want) {
			t.Errorf("the board lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"Una richiesta che non va stampata", "Bianchi", "Verdi", "Carla", bruno.Email, "@"} {
		if strings.Contains(text, never) {
			t.Errorf("the board shows %q:\n%s", never, text)
		}
	}
	if codes := testutil.PDFQRCodes(t, r.Body); len(codes) != 1 || !strings.HasSuffix(codes[0], "/streets/"+sid+"/join") {
		t.Errorf("the board's QR codes: %v", codes)
	}
	s.DoRaw(t, "GET", board, nil, bruno.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.DoRaw(t, "GET", board, nil, eve.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.DoRaw(t, "GET", board, nil, "").Expect(t, http.StatusUnauthorized)

	code := s.Invite(t, anna, sid)
	link := "/streets/" + sid + "/join?code=" + code
	flyer := s.DoRaw(t, "GET", "/api/v1/streets/"+sid+"/invites/"+code+"/flyer.pdf?lang=en", nil, anna.Token).Expect(t, http.StatusOK)
	if codes := testutil.PDFQRCodes(t, flyer.Body); len(codes) != 2 || !strings.HasSuffix(codes[0], link) || codes[0] != codes[1] {
		t.Errorf("the flyer's two halves' QR codes: %v", codes)
	}
	if text := testutil.PDFText(t, flyer.Body); !strings.Contains(text, "Via Fondazza") || !strings.Contains(text, link) {
		t.Errorf("the flyer lacks the street or the written link:\n%s", text)
	}
	qr := s.DoRaw(t, "GET", "/api/v1/streets/"+sid+"/invites/"+code+"/qr.png", nil, anna.Token).Expect(t, http.StatusOK)
	if ct := qr.Header.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("qr content type %q", ct)
	}
	if codes := testutil.QRCodes(t, qr.Body); len(codes) != 1 || !strings.HasSuffix(codes[0], link) {
		t.Errorf("the QR code reads %v, want …%s", codes, link)
	}
	s.DoRaw(t, "GET", "/api/v1/streets/"+sid+"/invites/"+code+"/qr.png", nil, bruno.Token).Expect(t, http.StatusNotFound)
	s.DoRaw(t, "GET", "/api/v1/streets/"+sid+"/invites/nosuchcode/flyer.pdf", nil, anna.Token).Expect(t, http.StatusNotFound)
}
