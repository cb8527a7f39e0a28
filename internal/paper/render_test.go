package paper_test

import (
	"bytes"
	"fmt"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/paper"
	"civico/internal/testutil"
)

// printedAt is 10:05 in Bologna.
var printedAt = time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)

const joinURL = "https://civico.example.org/streets/65f1c2a9b8e7d6c5b4a39281/join"

var accented = []string{"Cerco qualcuno per la spesa di papà", "Però è già tardi", "Più ù"}

// board is a board of n items, newest first: the accented titles, then
// "Annuncio numero 03" and on.
func board(n int) paper.Board {
	b := paper.Board{Street: "Via del Pratello", City: "Bologna", Locale: "it", TimeZone: "Europe/Rome", JoinURL: joinURL,
		PrintedAt: printedAt, Desks: []paper.Desk{{Association: "Portinaio di rione Bolognina", Phone: "051 123456",
			Hours: "mar e gio 10-12", Address: "Via Tibaldi 17"}}, Admins: []string{"Anna"}}
	categories := []string{"errands", "repairs", "dog_walking", "lending"}
	for i := range n {
		title := fmt.Sprintf("Annuncio numero %02d", i)
		if i < len(accented) {
			title = accented[i]
		}
		kind := "request"
		if i%3 == 1 {
			kind = "offer"
		}
		b.Items = append(b.Items, paper.BoardItem{Title: title, Category: categories[i%len(categories)], Kind: kind,
			Author: "Anna V.", Date: printedAt.Add(-time.Duration(i) * 5 * time.Hour)})
	}
	return b
}

func render(t testing.TB, b paper.Board) []byte {
	t.Helper()
	pdf, err := paper.RenderBoard(b)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

func contains(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%q not in the text:\n%s", w, text)
		}
	}
}

func absent(t *testing.T, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("%q is in the text:\n%s", w, text)
		}
	}
}

// A PDF reader finds every title with its accents, the labels the app
// uses, the author as first name and initial, the desk to call, and when
// it was printed, in the street's time zone.
func TestBoardPrintsTitlesWithTheirAccents(t *testing.T) {
	pdf := render(t, board(5))
	text := testutil.PDFText(t, pdf)
	contains(t, text, accented...)
	contains(t, text, "Annuncio numero 03", "Annuncio numero 04", "RICHIESTA", "OFFERTA", "Commissioni", "Piccole riparazioni",
		"Anna V.", "2 mar", "BACHECA DELLA STRADA", "Via del Pratello", "Bologna",
		"Come rispondere senza telefono", "Portinaio di rione Bolognina", "tel. 051 123456", "mar e gio 10-12", "Via Tibaldi 17",
		"Stampato il 2 marzo 2026 alle 10:05", "pagina 1 di 1", joinURL)
	if n := testutil.PDFPages(t, pdf); n != 1 {
		t.Fatalf("%d pages", n)
	}
}

// Sixty posts make two pages: the newest that fit, then how many more
// are on Civico.
func TestBoardKeepsToTwoPagesAndCountsTheRest(t *testing.T) {
	pdf := render(t, board(60))
	if n := testutil.PDFPages(t, pdf); n != 2 {
		t.Fatalf("%d pages, want 2", n)
	}
	text := testutil.PDFText(t, pdf)
	var shown []int
	for i := range 60 {
		title := fmt.Sprintf("Annuncio numero %02d", i)
		if i < len(accented) {
			title = accented[i]
		}
		if strings.Contains(text, title) {
			shown = append(shown, i)
		}
	}
	if len(shown) < 20 || shown[len(shown)-1] != len(shown)-1 {
		t.Fatalf("shown %v: want the newest, at least 20", shown)
	}
	contains(t, text, fmt.Sprintf("… e altri %d annunci su Civico", 60-len(shown)), "pagina 2 di 2", "(segue)")
}

// The QR code, read from the page printed at 150 dpi, opens the street's
// join page; only page one carries it.
func TestBoardQRCodeOpensTheJoinPage(t *testing.T) {
	for _, n := range []int{0, 60} {
		codes := testutil.PDFQRCodes(t, render(t, board(n)))
		if !slices.Equal(codes, []string{joinURL}) {
			t.Fatalf("%d posts: codes %q", n, codes)
		}
	}
}

// Without a desk, the board names the admins to ask, by first name.
func TestBoardSaysHowToAnswerWithoutAPhone(t *testing.T) {
	cases := []struct {
		name   string
		locale string
		desks  []paper.Desk
		admins []string
		want   []string
		not    []string
	}{
		{"desk", "it", []paper.Desk{{Association: "Sportello Navile", Phone: "051 654321", Hours: "lun 9-12"}}, []string{"Anna"},
			[]string{"Chiama o passa allo sportello", "Sportello Navile", "tel. 051 654321 · lun 9-12"}, []string{"Chiedi a chi cura"}},
		{"admins", "it", nil, []string{"Anna", "Bruno"},
			[]string{"Chiedi a chi cura la strada: Anna o Bruno."}, []string{"sportello"}},
		{"a desk with nothing to call", "it", []paper.Desk{{Association: "Sportello muto"}}, []string{"Anna", "Bruno", "Carla"},
			[]string{"Chiedi a chi cura la strada: Anna, Bruno o Carla."}, []string{"Sportello muto"}},
		{"admins in English", "en", nil, []string{"Anna", "Bruno"},
			[]string{"How to answer without a phone", "Ask the people who look after the street: Anna or Bruno."}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := board(2)
			b.Locale, b.Desks, b.Admins = c.locale, c.desks, c.admins
			text := testutil.PDFText(t, render(t, b))
			contains(t, text, c.want...)
			absent(t, text, c.not...)
		})
	}
}

func TestBoardInEnglish(t *testing.T) {
	b := board(60)
	b.Locale = "en"
	text := testutil.PDFText(t, render(t, b))
	contains(t, text, "STREET BOARD", "Open requests and offers, newest first", "REQUEST", "OFFER", "Errands", "Small repairs",
		"2 Mar", "Printed on 2 March 2026 at 10:05", "page 2 of 2", "more on Civico", "Join the street on Civico")
	absent(t, text, "Stampato", "Commissioni")
}

func TestEmptyBoardInvitesTheFirstPost(t *testing.T) {
	text := testutil.PDFText(t, render(t, board(0)))
	contains(t, text, "Per ora nessuna richiesta o offerta aperta", "pagina 1 di 1")
}

// Emoji, which the PDF writer cannot take, are left out; the rest of the
// title prints. A title too long for three lines ends in "…".
func TestBoardPrintsWhatTheFontsCan(t *testing.T) {
	b := board(2)
	b.Items[0].Title = "Cane da portare fuori 🐶 stasera ❤️"
	b.Items[1].Title = strings.Repeat("Lunghissimo ", 60) + "FINE"
	text := testutil.PDFText(t, render(t, b))
	contains(t, text, "Cane da portare fuori", "stasera", "Lunghissimo…")
	absent(t, text, "FINE")
}

func TestFlyerHasTwoHalvesWithTheInviteQRCode(t *testing.T) {
	url := joinURL + "?code=AbCdEfGhIjKlMnOp"
	cases := []struct {
		locale string
		want   []string
	}{
		{"it", []string{"UNA SOCIAL STREET", "Una social street è una strada", "Si chiede e si offre aiuto", "Niente quote", "ritaglia qui", "Inquadra il codice"}},
		{"en", []string{"A SOCIAL STREET", "A social street is a street", "You ask for help", "No fees, no ads", "cut here", "Scan the code"}},
	}
	for _, c := range cases {
		t.Run(c.locale, func(t *testing.T) {
			pdf, err := paper.RenderFlyer(paper.Flyer{Street: "Via del Pratello", City: "Bologna", Locale: c.locale, InviteURL: url})
			if err != nil {
				t.Fatal(err)
			}
			text := testutil.PDFText(t, pdf)
			contains(t, text, c.want...)
			if n := strings.Count(text, "Via del Pratello"); n != 2 {
				t.Errorf("street name %d times, want one on each half", n)
			}
			if n := strings.Count(text, url); n != 2 {
				t.Errorf("link written %d times, want one on each half", n)
			}
			if n := testutil.PDFPages(t, pdf); n != 1 {
				t.Errorf("%d pages", n)
			}
			if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{url, url}) {
				t.Fatalf("codes %q, want the invite on both halves", codes)
			}
		})
	}
	if _, err := paper.RenderFlyer(paper.Flyer{Street: "Via del Pratello"}); err == nil {
		t.Fatal("a flyer without a link")
	}
}

func TestQRPNGDecodesToTheURL(t *testing.T) {
	url := joinURL + "?code=AbCdEfGhIjKlMnOpQrStUv"
	for _, c := range []struct{ size, want int }{{0, 512}, {50, 128}, {300, 300}, {5000, 2048}} {
		b, err := paper.QRPNG(url, c.size)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != c.want || cfg.Height != c.want {
			t.Errorf("size %d: %dx%d, want %d", c.size, cfg.Width, cfg.Height, c.want)
		}
		if codes := testutil.QRCodes(t, b); !slices.Equal(codes, []string{url}) {
			t.Errorf("size %d: codes %q", c.size, codes)
		}
	}
	if _, err := paper.QRPNG("", 0); err == nil {
		t.Fatal("a QR code of nothing")
	}
}

func TestShortNameNeverPrintsASurname(t *testing.T) {
	for in, want := range map[string]string{
		"Anna Verdi": "Anna V.", "Anna": "Anna", "  maria grazia rossi ": "maria R.", "": "",
		"Élodie ünal": "Élodie Ü.", "Anna (nonna)": "Anna", "Rina B.": "Rina B.",
	} {
		if got := paper.ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkBoard40 renders a board of 40 posts: fonts, layout, QR code
// and the PDF's compression.
func BenchmarkBoard40(b *testing.B) {
	bd := board(40)
	for b.Loop() {
		if _, err := paper.RenderBoard(bd); err != nil {
			b.Fatal(err)
		}
	}
}

// Requests print boards at once: each render has its own document and
// the embedded fonts are only read (the race detector watches, in CI).
func TestBoardsRenderConcurrently(t *testing.T) {
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := paper.RenderBoard(board(12))
			if err == nil && !bytes.HasPrefix(got, []byte("%PDF-")) {
				err = fmt.Errorf("not a PDF: %.20q", got)
			}
			errs <- err
		}()
	}
	for range 4 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("renders did not finish")
		}
	}
}
