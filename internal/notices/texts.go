package notices

import (
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"

	"civico/internal/labels"
)

// texts are the words of the mails in one language. A {name} in a text is
// filled in by fill: user text (names, titles) is escaped in the HTML
// part, and never taken for a placeholder.
type texts struct {
	Lang string

	Greeting string // {name}
	Someone  string // a neighbour without a name (a deleted account)
	Street   string // a street whose name is unknown

	ReplySubject string // {title}
	Replied      string // {author} {title} {street}
	OpenPost     string
	WhyReply     string
	StopReplies  string
	Settings     string

	DigestSubjectDaily  string // {street}
	DigestSubjectWeekly string // {street}
	IntroDaily          string // {street}
	IntroWeekly         string // {street}
	IntroReplies        string // {street}: a digest of replies only
	Unanswered          string
	Others              string
	More                string // {n}
	OpenStreet          string // {street}
	RepliesHeading      string
	ReplyLine           string // {author} {title}
	WhyDigest           string // {street}
	StopDigest          string

	Labels labels.Set // the app's words for categories and kinds
}

var locales = map[string]texts{
	"it": {
		Lang:     "it",
		Greeting: "Ciao {name},", Someone: "Un vicino", Street: "la tua via",

		ReplySubject: "Nuova risposta a «{title}»",
		Replied:      "{author} ha risposto al tuo post «{title}» in {street}:",
		OpenPost:     "Apri il post per rispondere o accettare l’aiuto",
		WhyReply:     "Ti scriviamo perché nessun tuo telefono o computer riceve le notifiche di Civico.",
		StopReplies:  "Non voglio più email per le risposte",
		Settings:     "Scegli quali email ricevere",

		DigestSubjectDaily:  "Le novità di oggi in {street}",
		DigestSubjectWeekly: "Le novità della settimana in {street}",
		IntroDaily:          "ecco che cosa c’è di nuovo in {street} da ieri.",
		IntroWeekly:         "ecco che cosa c’è di nuovo in {street} nell’ultima settimana.",
		IntroReplies:        "ecco le risposte ai tuoi post in {street}.",
		Unanswered:          "Richieste che aspettano ancora una risposta",
		Others:              "Altre novità",
		More:                "… e altri {n} post nella bacheca della via.",
		OpenStreet:          "Apri la bacheca di {street}",
		RepliesHeading:      "Risposte ai tuoi post",
		ReplyLine:           "{author} ha risposto a «{title}»:",
		WhyDigest:           "Ricevi questo riepilogo perché fai parte di {street} su Civico.",
		StopDigest:          "Non voglio più questo riepilogo",
		Labels:              labels.Of("it"),
	},
	"en": {
		Lang:     "en",
		Greeting: "Hello {name},", Someone: "A neighbour", Street: "your street",

		ReplySubject: "New reply to “{title}”",
		Replied:      "{author} replied to your post “{title}” in {street}:",
		OpenPost:     "Open the post to answer or accept the help",
		WhyReply:     "We are writing because none of your phones or computers receives Civico’s notifications.",
		StopReplies:  "Stop emails about replies",
		Settings:     "Choose which emails you get",

		DigestSubjectDaily:  "Today in {street}",
		DigestSubjectWeekly: "This week in {street}",
		IntroDaily:          "here is what is new in {street} since yesterday.",
		IntroWeekly:         "here is what is new in {street} over the last week.",
		IntroReplies:        "here are the replies to your posts in {street}.",
		Unanswered:          "Requests still waiting for an answer",
		Others:              "Also new",
		More:                "… and {n} more posts on the street board.",
		OpenStreet:          "Open the board of {street}",
		RepliesHeading:      "Replies to your posts",
		ReplyLine:           "{author} replied to “{title}”:",
		WhyDigest:           "You get this summary because you are a member of {street} on Civico.",
		StopDigest:          "Stop this summary",
		Labels:              labels.Of("en"),
	},
}

// textsFor returns the texts of locale, Italian when there are none.
func textsFor(locale string) texts {
	if t, ok := locales[locale]; ok {
		return t
	}
	return locales["it"]
}

// fill replaces the {key} placeholders of format with values given as
// key, value pairs, in one pass: a value is never read for placeholders.
func fill(format string, kv ...string) string {
	pairs := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+kv[i]+"}", kv[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(format)
}

// fillHTML is fill for the HTML part: the format is ours, the values are
// escaped.
func fillHTML(format string, kv ...string) htmltemplate.HTML {
	esc := make([]string, len(kv))
	for i, v := range kv {
		if i%2 == 1 {
			v = htmltemplate.HTMLEscapeString(v)
		}
		esc[i] = v
	}
	return htmltemplate.HTML(fill(htmltemplate.HTMLEscapeString(format), esc...))
}

// oneLine flattens whitespace and control characters (a subject, a title
// in a list) and cuts s to n runes with an ellipsis.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	return cut(strings.Join(strings.Fields(s), " "), n)
}

// cut shortens s to n runes, ending with an ellipsis when it did.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max(n-1, 0)])) + "…"
}

// quote prefixes every line of s with "> " for the text part, and drops
// control characters other than newlines and tabs.
func quote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("> "+l, " ")
	}
	return strings.Join(lines, "\n")
}

var funcs = map[string]any{"fill": fill, "quote": quote, "itoa": strconv.Itoa}

var htmlFuncs = map[string]any{"fill": fillHTML, "itoa": strconv.Itoa}

// The templates. The HTML reads well without images and styles (no
// remote content at all: nothing for a mail client to block or track).
var (
	replyText = texttemplate.Must(texttemplate.New("reply").Funcs(funcs).Parse(
		`{{fill .T.Greeting "name" .Name}}

{{fill .T.Replied "author" .Author "title" .Title "street" .Street}}

{{quote .Body}}

{{.T.OpenPost}}:
{{.PostURL}}

-- 
{{.T.WhyReply}}
{{.T.StopReplies}}: {{.StopURL}}
{{.T.Settings}}: {{.SettingsURL}}
`))

	replyHTML = htmltemplate.Must(htmltemplate.New("reply").Funcs(htmlFuncs).Parse(htmlHead +
		`<p>{{fill .T.Greeting "name" .Name}}</p>
<p>{{fill .T.Replied "author" .Author "title" .Title "street" .Street}}</p>
<blockquote style="white-space:pre-wrap;margin:1em 0;padding:0 0 0 1em;border-left:4px solid #888">{{.Body}}</blockquote>
<p><a href="{{.PostURL}}" style="font-weight:bold">{{.T.OpenPost}}</a></p>
<hr>
<p style="font-size:0.9em">{{.T.WhyReply}}<br>
<a href="{{.StopURL}}">{{.T.StopReplies}}</a> · <a href="{{.SettingsURL}}">{{.T.Settings}}</a></p>
` + htmlFoot))

	digestText = texttemplate.Must(texttemplate.New("digest").Funcs(funcs).Parse(
		`{{fill .T.Greeting "name" .Name}}
{{.Intro}}
{{- if .Unanswered}}

{{.T.Unanswered}}:
{{- range .Unanswered}}
- {{.Title}} ({{.Category}}) · {{.Author}}
  {{.URL}}
{{- end}}
{{- end}}
{{- if .Others}}

{{.T.Others}}:
{{- range .Others}}
- {{.Kind}}: {{.Title}} ({{.Category}}) · {{.Author}}
  {{.URL}}
{{- end}}
{{- end}}
{{- if .More}}

{{fill .T.More "n" (itoa .More)}}
{{- end}}
{{- if .Replies}}

{{.T.RepliesHeading}}:
{{- range .Replies}}

{{fill $.T.ReplyLine "author" .Author "title" .Title}}
{{quote .Body}}
{{.URL}}
{{- end}}
{{- end}}

{{fill .T.OpenStreet "street" .Street}}:
{{.StreetURL}}

-- 
{{fill .T.WhyDigest "street" .Street}}
{{- if .StopDigestURL}}
{{.T.StopDigest}}: {{.StopDigestURL}}
{{- end}}
{{- if .StopRepliesURL}}
{{.T.StopReplies}}: {{.StopRepliesURL}}
{{- end}}
{{.T.Settings}}: {{.SettingsURL}}
`))

	digestHTML = htmltemplate.Must(htmltemplate.New("digest").Funcs(htmlFuncs).Parse(htmlHead +
		`<p>{{fill .T.Greeting "name" .Name}}<br>{{.Intro}}</p>
{{- if .Unanswered}}
<h2 style="font-size:1.2em">{{.T.Unanswered}}</h2>
<ul>
{{- range .Unanswered}}
<li><a href="{{.URL}}">{{.Title}}</a> ({{.Category}}) · {{.Author}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Others}}
<h2 style="font-size:1.2em">{{.T.Others}}</h2>
<ul>
{{- range .Others}}
<li>{{.Kind}}: <a href="{{.URL}}">{{.Title}}</a> ({{.Category}}) · {{.Author}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .More}}
<p>{{fill .T.More "n" (itoa .More)}}</p>
{{- end}}
{{- if .Replies}}
<h2 style="font-size:1.2em">{{.T.RepliesHeading}}</h2>
{{- range .Replies}}
<p>{{fill $.T.ReplyLine "author" .Author "title" .Title}}</p>
<blockquote style="white-space:pre-wrap;margin:0 0 1em;padding:0 0 0 1em;border-left:4px solid #888">{{.Body}}</blockquote>
<p><a href="{{.URL}}">{{$.T.OpenPost}}</a></p>
{{- end}}
{{- end}}
<p><a href="{{.StreetURL}}" style="font-weight:bold">{{fill .T.OpenStreet "street" .Street}}</a></p>
<hr>
<p style="font-size:0.9em">{{fill .T.WhyDigest "street" .Street}}<br>
{{- if .StopDigestURL}}
<a href="{{.StopDigestURL}}">{{.T.StopDigest}}</a> ·
{{- end}}
{{- if .StopRepliesURL}}
<a href="{{.StopRepliesURL}}">{{.T.StopReplies}}</a> ·
{{- end}}
<a href="{{.SettingsURL}}">{{.T.Settings}}</a></p>
` + htmlFoot))
)

const htmlHead = `<!doctype html>
<html lang="{{.T.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Subject}}</title></head>
<body style="font-family:sans-serif;font-size:18px;line-height:1.5;color:#1a1a1a;background:#fff;max-width:40em;margin:0 auto;padding:1em">
`

const htmlFoot = `</body>
</html>
`

// replyView is what a reply mail shows.
type replyView struct {
	T                                    texts
	Subject, Name, Author, Title, Street string
	Body, PostURL, StopURL, SettingsURL  string
}

// digestView is what a digest mail shows.
type digestView struct {
	T                             texts
	Subject, Name, Street, Intro  string
	Unanswered, Others            []itemView
	More                          int
	Replies                       []replyItemView
	StreetURL, SettingsURL        string
	StopDigestURL, StopRepliesURL string
}

type itemView struct {
	Kind, Title, Category, Author, URL string
}

type replyItemView struct {
	Author, Title, Body, URL string
}

// render runs a pair of templates on v.
func render(text *texttemplate.Template, html *htmltemplate.Template, v any) (string, string, error) {
	var tb, hb strings.Builder
	if err := text.Execute(&tb, v); err != nil {
		return "", "", err
	}
	if err := html.Execute(&hb, v); err != nil {
		return "", "", err
	}
	return tb.String(), hb.String(), nil
}
