package paper_test

import (
	"slices"
	"strings"
	"testing"

	"civico/internal/auth"
	"civico/internal/handoff"
	"civico/internal/paper"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/streets"
	"civico/internal/testutil"
)

const publicURL = "https://civico.test"

// street is a street with the people around it, over the real services:
// Anna Verdi administers it and coordinates the linked desk; Bruno Neri
// and Carla Gialli are members (Carla chose never to appear on paper);
// Vera Rossi is a member and a volunteer of the desk; Elio Blu volunteers
// at the desk and is no member; Dario Grigi is a stranger; Fabio Viola
// volunteers at a desk the street is not linked to.
type street struct {
	*testutil.Services
	t     *testing.T
	paper *paper.Service
	desks *portineria.Service
	sid   string
	aid   string

	anna, bruno, carla, vera, elio, dario, fabio auth.Principal
}

func newStreet(t *testing.T) *street {
	t.Helper()
	svc := testutil.NewServices(t, posts.Options{})
	if err := svc.Store.EnsureIndexes(svc.Ctx, append(portineria.Indexes(), handoff.Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	e := &street{Services: svc, t: t}
	e.desks = portineria.New(svc.Store, svc.Auth, svc.Clock, nil, portineria.Options{CreatePerDay: -1, InvitesPerHour: -1})
	links := handoff.New(svc.Store, svc.Clock, svc.Posts, svc.Streets, e.desks, svc.Auth, nil, nil)
	e.paper = paper.New(svc.Streets, svc.Posts, svc.Auth, links, e.desks, paper.Options{PublicURL: publicURL + "/", Clock: svc.Clock})

	e.anna, e.bruno, e.carla = svc.User("Anna Verdi"), svc.User("Bruno Neri"), svc.User("Carla Gialli")
	e.vera, e.elio, e.dario, e.fabio = svc.User("Vera Rossi"), svc.User("Elio Blu"), svc.User("Dario Grigi"), svc.User("Fabio Viola")
	e.sid = svc.NamedStreet(e.anna, "Via del Pratello", e.bruno, e.carla, e.vera)
	off := false
	if _, err := svc.Auth.Update(svc.Ctx, e.carla, auth.Changes{OnPaper: &off}); err != nil {
		t.Fatal(err)
	}

	a, err := e.desks.Create(svc.Ctx, e.anna, portineria.NewAssociation{Name: "Portinaio di rione Pratello", Area: "Pratello",
		YearlyFeeCents: 1000, Desk: &portineria.Desk{Address: "Via del Pratello 40", Hours: "mar e gio 10-12", Phone: "051 123456"}})
	if err != nil {
		t.Fatal(err)
	}
	e.aid = a.ID
	// Anna agrees for both sides at once: the link is active.
	if l, err := links.LinkFromStreet(svc.Ctx, e.anna, e.sid, e.aid); err != nil || l.Status != handoff.LinkActive {
		t.Fatalf("link %+v: %v", l, err)
	}
	e.volunteer(e.anna, e.aid, e.vera, e.elio)
	if _, err := e.desks.Create(svc.Ctx, e.fabio, portineria.NewAssociation{Name: "Sportello lontano", Area: "Altrove", YearlyFeeCents: 1000}); err != nil {
		t.Fatal(err)
	}
	return e
}

// volunteer adds people to the association's staff: invited by the
// coordinator, accepted by each.
func (e *street) volunteer(coord auth.Principal, aid string, people ...auth.Principal) {
	e.t.Helper()
	for _, p := range people {
		acc, err := e.Auth.User(e.Ctx, p.UserID)
		if err != nil {
			e.t.Fatal(err)
		}
		inv, err := e.desks.InviteVolunteer(e.Ctx, coord, aid, acc.Email, portineria.Volunteer)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.desks.AcceptInvitation(e.Ctx, p, inv.ID); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *street) post(u auth.Principal, kind, category, title string) posts.Post {
	e.t.Helper()
	return e.Post(u, e.sid, posts.NewPost{Kind: kind, Category: category, Title: title, Body: "Dettagli: chiamami al 333 1234567"})
}

func (e *street) emails(users ...auth.Principal) []string {
	e.t.Helper()
	var out []string
	for _, u := range users {
		acc, err := e.Auth.User(e.Ctx, u.UserID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, acc.Email)
	}
	return out
}

// The board as the admin prints it: the open posts, newest first, with
// their accents; authors as first name and initial; the post a desk wrote
// for a roster member under the member's short name; nothing of the
// member who opted out, of a matched post, of replies, surnames or
// contacts; the desk's phone; the QR code of the join page.
func TestAdminPrintsTheBoard(t *testing.T) {
	e := newStreet(t)
	e.post(e.anna, posts.KindRequest, "errands", "Cerco qualcuno per la spesa di papà")
	e.post(e.carla, posts.KindOffer, "lending", "Presto il trapano a chi serve")
	matched := e.post(e.bruno, posts.KindRequest, "repairs", "Serve una scala alta")
	r := e.Reply(e.anna, matched.ID, "Te la porto io, risposta privata")
	if _, err := e.Posts.Accept(e.Ctx, e.bruno, matched.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	e.post(e.bruno, posts.KindOffer, "company", "Però è già tardi")
	behalf := posts.NewPost{Kind: posts.KindRequest, Category: "transport", Title: "Più ù: un passaggio per la visita", Body: "Martedì",
		OnBehalf: &posts.OnBehalf{AssociationID: e.aid, MemberID: "m1", MemberName: "Rina Bianchi"}}
	e.Post(e.vera, e.sid, behalf)

	pdf, err := e.paper.BoardPDF(e.Ctx, e.anna, e.sid, "")
	if err != nil {
		t.Fatal(err)
	}
	text := testutil.PDFText(t, pdf)
	contains(t, text, "Via del Pratello", "Bologna", "Cerco qualcuno per la spesa di papà", "Però è già tardi",
		"Più ù: un passaggio per la visita", "Anna V.", "Bruno N.", "Rina B.", "Commissioni", "Compagnia", "Passaggi",
		"Portinaio di rione Pratello", "tel. 051 123456", "mar e gio 10-12", "Stampato il 2 marzo 2026 alle 10:00")
	absent(t, text, append(e.emails(e.anna, e.bruno, e.carla, e.vera), "Verdi", "Neri", "Bianchi", "Rossi", "Vera",
		"Carla", "Gialli", "trapano", "Serve una scala", "risposta privata", "Dettagli", "333 1234567", "@")...)
	if i, j := strings.Index(text, "Più ù"), strings.Index(text, "Cerco qualcuno"); i < 0 || j < 0 || i > j {
		t.Error("not newest first")
	}
	if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{publicURL + "/streets/" + e.sid + "/join"}) {
		t.Fatalf("codes %q", codes)
	}

	en, err := e.paper.BoardPDF(e.Ctx, e.anna, e.sid, "en")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, testutil.PDFText(t, en), "STREET BOARD", "Errands", "Printed on 2 March 2026 at 10:00", "How to answer without a phone")
}

// Who may print the board: the street's admins and the volunteers of a
// linked desk. A plain member, a stranger, a volunteer of an unlinked desk
// and anyone asking for a street that does not exist all learn nothing:
// the street is not found.
func TestWhoMayPrintTheBoard(t *testing.T) {
	e := newStreet(t)
	e.post(e.bruno, posts.KindRequest, "errands", "Spesa al mercato")
	cases := []struct {
		name string
		who  auth.Principal
		sid  string
		ok   bool
	}{
		{"admin", e.anna, e.sid, true},
		{"volunteer of the linked desk, no member", e.elio, e.sid, true},
		{"member and volunteer of the linked desk", e.vera, e.sid, true},
		{"member", e.bruno, e.sid, false},
		{"stranger", e.dario, e.sid, false},
		{"volunteer of another desk", e.fabio, e.sid, false},
		{"unknown street", e.anna, "65f1c2a9b8e7d6c5b4a39281", false},
		{"malformed street", e.anna, "../x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pdf, err := e.paper.BoardPDF(e.Ctx, c.who, c.sid, "it")
			if !c.ok {
				testutil.WantCode(t, err, streets.ErrStreetNotFound.Code)
				return
			}
			if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
				t.Fatalf("%d bytes: %v", len(pdf), err)
			}
		})
	}
}

// Without a linked desk, the board says to ask the admins, by first name.
func TestBoardWithoutADeskNamesTheAdmins(t *testing.T) {
	e := newStreet(t)
	sid := e.NamedStreet(e.bruno, "Via Saragozza", e.dario)
	pdf, err := e.paper.BoardPDF(e.Ctx, e.bruno, sid, "it")
	if err != nil {
		t.Fatal(err)
	}
	text := testutil.PDFText(t, pdf)
	contains(t, text, "Via Saragozza", "Chiedi a chi cura la strada: Bruno.")
	absent(t, text, "Neri", "sportello")
}

// The flyer and the QR code of an open invite, for the admins; a revoked
// or unknown code is not found, and so is the street to anyone else.
func TestFlyerAndQRCodeOfAnInvite(t *testing.T) {
	e := newStreet(t)
	inv, err := e.Streets.CreateInvite(e.Ctx, e.anna, e.sid, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := publicURL + "/streets/" + e.sid + "/join?code=" + inv.Code

	pdf, err := e.paper.FlyerPDF(e.Ctx, e.anna, e.sid, inv.Code, "en")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, testutil.PDFText(t, pdf), "A SOCIAL STREET", "Via del Pratello", url)
	if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{url, url}) {
		t.Fatalf("flyer codes %q", codes)
	}
	it, err := e.paper.FlyerPDF(e.Ctx, e.anna, e.sid, inv.Code, "")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, testutil.PDFText(t, it), "UNA SOCIAL STREET", "ritaglia qui")

	img, err := e.paper.InviteQR(e.Ctx, e.anna, e.sid, inv.Code, 0)
	if err != nil {
		t.Fatal(err)
	}
	if codes := testutil.QRCodes(t, img); !slices.Equal(codes, []string{url}) {
		t.Fatalf("png codes %q", codes)
	}

	for _, who := range []auth.Principal{e.bruno, e.dario, e.elio} {
		_, err := e.paper.FlyerPDF(e.Ctx, who, e.sid, inv.Code, "it")
		testutil.WantCode(t, err, streets.ErrStreetNotFound.Code)
		_, err = e.paper.InviteQR(e.Ctx, who, e.sid, inv.Code, 0)
		testutil.WantCode(t, err, streets.ErrStreetNotFound.Code)
	}
	for _, code := range []string{"", "nope", inv.Code + "x"} {
		_, err := e.paper.FlyerPDF(e.Ctx, e.anna, e.sid, code, "it")
		testutil.WantCode(t, err, streets.ErrInviteNotFound.Code)
	}
	if err := e.Streets.RevokeInvite(e.Ctx, e.anna, e.sid, inv.Code); err != nil {
		t.Fatal(err)
	}
	_, err = e.paper.FlyerPDF(e.Ctx, e.anna, e.sid, inv.Code, "it")
	testutil.WantCode(t, err, streets.ErrInviteNotFound.Code)
	_, err = e.paper.InviteQR(e.Ctx, e.anna, e.sid, inv.Code, 256)
	testutil.WantCode(t, err, streets.ErrInviteNotFound.Code)
}
