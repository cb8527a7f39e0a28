package paper

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"civico/internal/labels"
)

// Locales the sheets are printed in; anything else falls back (see pickLocale).
const (
	LocaleIT = "it"
	LocaleEN = "en"
)

// words are a locale's texts; category and kind labels are the app's own
// (internal/labels), so the sheet on the door says what the app says.
type words struct {
	labels labels.Set
	months [12]string
	short  [12]string

	boardLabel, boardIntro, empty, more1, moreN, continued, page string
	howTitle, deskIntro, deskPhone, ask, or, askNobody           string
	joinTitle, joinText, printed                                 string

	flyerLabel, flyerScan, cut string
	flyerLines                 [3]string
}

var dictionary = map[string]*words{
	LocaleIT: {
		labels: labels.Of(LocaleIT),
		months: [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		short:  [12]string{"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"},

		boardLabel: "Bacheca della strada",
		boardIntro: "Richieste e offerte aperte, dalla più recente",
		empty:      "Per ora nessuna richiesta o offerta aperta: la prima può essere la tua.",
		more1:      "… e un altro annuncio su Civico",
		moreN:      "… e altri %d annunci su Civico",
		continued:  "(segue)",
		page:       "pagina %d di %d",
		howTitle:   "Come rispondere senza telefono",
		deskIntro:  "Chiama o passa allo sportello e di' il titolo dell'annuncio:",
		deskPhone:  "tel. %s",
		ask:        "Chiedi a chi cura la strada: %s. Di' il titolo dell'annuncio.",
		or:         "o",
		askNobody:  "Rispondi su Civico: inquadra il codice qui accanto.",
		joinTitle:  "Entra nella strada su Civico",
		joinText:   "Inquadra il codice con la fotocamera del telefono, o scrivi il link qui sotto.",
		printed:    "Stampato il %d %s %d alle %02d:%02d",

		flyerLabel: "Una social street",
		flyerScan:  "Inquadra il codice con il telefono per entrare:",
		cut:        "✂  ritaglia qui",
		flyerLines: [3]string{
			"Una social street è una strada dove i vicini si conoscono e si danno una mano.",
			"Si chiede e si offre aiuto, gratis: una spesa, una piccola riparazione, un passaggio, due chiacchiere.",
			"Niente quote, niente pubblicità: solo chi abita qui, su Civico.",
		},
	},
	LocaleEN: {
		labels: labels.Of(LocaleEN),
		months: [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		short:  [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},

		boardLabel: "Street board",
		boardIntro: "Open requests and offers, newest first",
		empty:      "No open requests or offers yet: the first one could be yours.",
		more1:      "… and 1 more on Civico",
		moreN:      "… and %d more on Civico",
		continued:  "(continued)",
		page:       "page %d of %d",
		howTitle:   "How to answer without a phone",
		deskIntro:  "Call or visit the desk and give the title of the post:",
		deskPhone:  "phone %s",
		ask:        "Ask the people who look after the street: %s. Give the title of the post.",
		or:         "or",
		askNobody:  "Answer on Civico: scan the code beside this.",
		joinTitle:  "Join the street on Civico",
		joinText:   "Scan the code with your phone's camera, or type the link below.",
		printed:    "Printed on %d %s %d at %02d:%02d",

		flyerLabel: "A social street",
		flyerScan:  "Scan the code with your phone to join:",
		cut:        "✂  cut here",
		flyerLines: [3]string{
			"A social street is a street where neighbours know each other and lend a hand.",
			"You ask for help and offer it, for free: some shopping, a small repair, a lift, a chat.",
			"No fees, no ads: just the people who live here, on Civico.",
		},
	},
}

// pickLocale maps a language ("it", "en", "en-GB") to a locale we print
// in; "" and unknown languages give def's, and Italian when def is none.
func pickLocale(lang, def string) string {
	if l, ok := knownLocale(lang); ok {
		return l
	}
	if l, ok := knownLocale(def); ok {
		return l
	}
	return LocaleIT
}

// knownLocale is the locale of a language we print in.
func knownLocale(lang string) (string, bool) {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	_, ok := dictionary[lang]
	return lang, ok
}

func wordsFor(locale string) *words { return dictionary[pickLocale(locale, "")] }

func (w *words) categoryLabel(c string) string { return w.labels.CategoryOr(c) }

func (w *words) kindLabel(k string) string { return w.labels.Kind(k) }

// printedOn is "printed on 2 March 2026 at 10:05".
func (w *words) printedOn(t time.Time) string {
	return fmt.Sprintf(w.printed, t.Day(), w.months[t.Month()-1], t.Year(), t.Hour(), t.Minute())
}

// day is a post's date: "2 mar", with the year when it is not the year
// of printing.
func (w *words) day(t, now time.Time) string {
	s := fmt.Sprintf("%d %s", t.Day(), w.short[t.Month()-1])
	if t.Year() != now.Year() {
		s += fmt.Sprintf(" %d", t.Year())
	}
	return s
}

func (w *words) moreOnCivico(n int) string {
	if n == 1 {
		return w.more1
	}
	return fmt.Sprintf(w.moreN, n)
}

// alternatives joins names as "Anna, Bruno o Carla".
func (w *words) alternatives(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + w.or + " " + names[len(names)-1]
}

// maxNameRunes bounds a first name on paper: a name field holding a
// sentence still prints as a name.
const maxNameRunes = 24

// ShortName is how a person appears on paper: first name and the initial
// of the last word ("Anna Verdi" -> "Anna V."), never a surname.
func ShortName(full string) string {
	fs := strings.Fields(full)
	switch len(fs) {
	case 0:
		return ""
	case 1:
		return clip(fs[0], maxNameRunes)
	}
	r, _ := utf8.DecodeRuneInString(fs[len(fs)-1])
	if !unicode.IsLetter(r) {
		return clip(fs[0], maxNameRunes)
	}
	return clip(fs[0], maxNameRunes) + " " + string(unicode.ToUpper(r)) + "."
}

// FirstName is the first word of a name.
func FirstName(full string) string {
	fs := strings.Fields(full)
	if len(fs) == 0 {
		return ""
	}
	return clip(fs[0], maxNameRunes)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// printable drops what the embedded fonts cannot print and the PDF
// writer cannot take: runes beyond the Basic Multilingual Plane (emoji,
// which fpdf does not handle), control characters and the invisible
// joiners and variation selectors that come with emoji.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if !keep(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case !keep(r):
			return -1
		}
		return r
	}, s)
}

func keep(r rune) bool {
	switch {
	case r > 0xFFFF, r == utf8.RuneError, unicode.IsControl(r):
		return false
	case r == 0x200D, r >= 0xFE00 && r <= 0xFE0F: // zero-width joiner, variation selectors
		return false
	}
	return true
}
