package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"civico/internal/events"
	"civico/internal/labels"
)

// Payload limits. webpush-go pads every body to its record size, and
// Firefox on Android has refused bodies over 3 070 bytes: the record (and
// so the body) is at most maxRecordSize, leaving maxPayload bytes for the
// JSON after the 86-byte header, the padding delimiter and the 16-byte tag.
const (
	maxRecordSize  = 3052
	recordOverhead = 86 + 1 + 16
	maxPayload     = maxRecordSize - recordOverhead // 2 949 bytes, under 3 KB
	maxTitleRunes  = 120
	maxBodyRunes   = 240
)

// Payload is what the service worker shows.
type Payload struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	URL   string `json:"url"`
	Tag   string `json:"tag"`
}

// recordSize pads each body up to the next KB (so bodies tell little about
// the text) but never beyond maxRecordSize.
func recordSize(payloadLen int) uint32 {
	need := payloadLen + recordOverhead
	rs := ((need + 1023) / 1024) * 1024
	return uint32(min(rs, maxRecordSize))
}

// encode renders p as JSON within maxPayload bytes, shortening the body
// (then the title) when needed.
func (p Payload) encode() []byte {
	p.Title = clean(p.Title, maxTitleRunes)
	p.Body = clean(p.Body, maxBodyRunes)
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(p)
		b := bytes.TrimRight(buf.Bytes(), "\n")
		if len(b) <= maxPayload {
			return b
		}
		switch {
		case p.Body != "":
			p.Body = clean(p.Body, utf8.RuneCountInString(p.Body)/2)
		case p.Title != "":
			p.Title = clean(p.Title, utf8.RuneCountInString(p.Title)/2)
		default:
			return b // url and tag are ours and short
		}
	}
}

// clean flattens whitespace and control characters (a notification is one
// paragraph) and cuts to n runes with an ellipsis.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return ""
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// topic turns a tag into an RFC 8030 Topic (≤ 32 base64url characters), so
// the push service also replaces an undelivered push of the same post.
func topic(tag string) string {
	sum := sha256.Sum256([]byte(tag))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

type texts struct {
	newRequest, newOffer, urgent, reply, welcome, welcomeBody, report string
	// reports says "a <target> was reported: %s", by target.
	reports             map[string]string
	someone, yourStreet string
}

var locales = map[string]texts{
	"it": {
		newRequest: "Nuova richiesta · %s", newOffer: "Nuova offerta · %s", urgent: "Urgente · ",
		reply: "Nuova risposta a «%s»", welcome: "Benvenuto in %s!",
		welcomeBody: "La tua richiesta è stata accettata: ora puoi leggere e pubblicare richieste e offerte.",
		report:      "Nuova segnalazione · %s",
		reports: map[string]string{"post": "È stato segnalato un post: %s", "reply": "È stata segnalata una risposta: %s",
			"user": "È stato segnalato un utente: %s"},
		someone: "Un vicino", yourStreet: "la tua strada",
	},
	"en": {
		newRequest: "New request · %s", newOffer: "New offer · %s", urgent: "Urgent · ",
		reply: "New reply to “%s”", welcome: "Welcome to %s!",
		welcomeBody: "Your request to join was approved: you can now read and post requests and offers.",
		report:      "New report · %s",
		reports: map[string]string{"post": "A post was reported: %s", "reply": "A reply was reported: %s",
			"user": "A user was reported: %s"},
		someone: "A neighbour", yourStreet: "your street",
	},
}

func textsFor(locale string) texts {
	if t, ok := locales[locale]; ok {
		return t
	}
	return locales["it"]
}

// message is what one event says to recipients of one language.
type message struct {
	payload []byte
	topic   string
	ttl     int
	urgency string
	urgent  bool // not held by quiet hours
}

// TTLs: how long a push service keeps a push for a phone that is off.
const (
	ttlPost     = 12 * 3600
	ttlUrgent   = 3 * 3600
	ttlReply    = 24 * 3600
	ttlApproval = 3 * 24 * 3600
	ttlReport   = 24 * 3600
)

// compose renders job j for locale; street is the street's name ("" when
// unknown).
func compose(j jobDoc, locale, street string) (message, bool) {
	t := textsFor(locale)
	if street == "" {
		street = t.yourStreet
	}
	var p Payload
	m := message{urgency: "normal"}
	switch events.Type(j.Type) {
	case typeDirect:
		return composeNote(j, locale)
	case events.PostCreated:
		var d events.PostData
		if json.Unmarshal([]byte(j.Payload), &d) != nil || d.ID == "" {
			return m, false
		}
		title := t.newRequest
		if d.Kind == "offer" {
			title = t.newOffer
		}
		p.Title = sprintf(title, street)
		if d.Urgent {
			p.Title = t.urgent + p.Title
			m.urgent, m.urgency, m.ttl = true, "high", ttlUrgent
		} else {
			m.ttl = ttlPost
		}
		name := d.AuthorName
		if name == "" {
			name = t.someone
		}
		p.Body = name + ": " + d.Title
		if c, ok := labels.Of(locale).Category(d.Category); ok {
			p.Body += " (" + c + ")"
		}
		p.URL, p.Tag = "/posts/"+d.ID, "post-"+d.ID
	case events.ReplyCreated:
		var d events.ReplyData
		if json.Unmarshal([]byte(j.Payload), &d) != nil || d.PostID == "" {
			return m, false
		}
		p.Title = sprintf(t.reply, clean(d.PostTitle, 60))
		name := d.AuthorName
		if name == "" {
			name = t.someone
		}
		p.Body = name + ": " + d.Body
		p.URL, p.Tag, m.ttl = "/posts/"+d.PostID, "post-"+d.PostID, ttlReply
	case events.MemberApproved:
		p.Title, p.Body = sprintf(t.welcome, street), t.welcomeBody
		p.URL, p.Tag, m.ttl = "/streets/"+j.StreetID, "street-"+j.StreetID, ttlApproval
	case events.ReportCreated:
		var d events.ReportData
		if json.Unmarshal([]byte(j.Payload), &d) != nil {
			return m, false
		}
		p.Title = sprintf(t.report, street)
		body, ok := t.reports[d.Target]
		if !ok {
			body = t.reports["post"]
		}
		p.Body = sprintf(body, d.Reason)
		p.URL, p.Tag, m.ttl = "/streets/"+j.StreetID+"/admin/reports", "reports-"+j.StreetID, ttlReport
	default:
		return m, false
	}
	m.payload = p.encode()
	m.topic = topic(p.Tag)
	return m, true
}

// sprintf substitutes one %s without fmt's handling of user text.
func sprintf(format, a string) string { return strings.Replace(format, "%s", a, 1) }
