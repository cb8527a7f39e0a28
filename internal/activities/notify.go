package activities

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/mail"
	"civico/internal/push"
)

// Mailer tells by mail those who answered an event and whom no push
// device reaches (as internal/notices does for replies): a change or a
// cancellation is news one planned on, so it goes to every verified
// address without a device. The reminder is a push only.
type Mailer struct {
	// Out queues a mail once per ID (mail.Service).
	Out interface {
		Queue(ctx context.Context, m mail.Message) error
	}
	// Accounts reads names, addresses and languages (auth.Service).
	Accounts interface {
		Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
	}
	// Devices tells whether a user has a push device (push.Service).
	Devices interface {
		HasDevices(ctx context.Context, userID string) (bool, error)
	}
	// PublicURL is where the mail's link points.
	PublicURL string
}

// What a note tells.
type noteKind int

const (
	noteChanged noteKind = iota
	noteCancelled
	noteReminder
)

// texts are the notes' words in one language.
type texts struct {
	changed, cancelled, reminder string
	moved, details, reason       string
	days, months                 []string
	open                         string
}

var locales = map[string]texts{
	"it": {
		changed: "Evento modificato: %s", cancelled: "Evento annullato: %s", reminder: "Domani: %s",
		moved: "Ora: %s · %s", details: "Alcuni dettagli sono cambiati.", reason: "Motivo: %s",
		days:   []string{"dom", "lun", "mar", "mer", "gio", "ven", "sab"},
		months: []string{"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"},
		open:   "Apri l'evento: %s",
	},
	"en": {
		changed: "Event changed: %s", cancelled: "Event cancelled: %s", reminder: "Tomorrow: %s",
		moved: "Now: %s · %s", details: "Some details changed.", reason: "Reason: %s",
		days:   []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
		months: []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		open:   "Open the event: %s",
	},
}

func textsFor(locale string) (string, texts) {
	if l, _, _ := strings.Cut(strings.ToLower(locale), "-"); l == "en" {
		return "en", locales["en"]
	}
	return "it", locales["it"]
}

// when is an event's start as people read it: "sab 2 mag, 19:00".
func (t texts) when(at time.Time, tz string) string {
	l := at.In(location(tz))
	return t.days[l.Weekday()] + " " + strconv.Itoa(l.Day()) + " " + t.months[l.Month()-1] + ", " + l.Format("15:04")
}

func fill(format, v string) string { return strings.Replace(format, "%s", v, 1) }

// words are a note's title and body in one language.
func (t texts) words(d eventDoc, kind noteKind, moved bool) (title, body string) {
	switch kind {
	case noteCancelled:
		return fill(t.cancelled, d.Title), fill(t.reason, d.Reason)
	case noteReminder:
		return fill(t.reminder, d.Title), t.when(d.StartsAt, d.TZ) + " · " + d.Place
	}
	body = t.details
	if moved {
		body = fill(strings.Replace(t.moved, "%s", t.when(d.StartsAt, d.TZ), 1), d.Place)
	}
	if d.Reason != "" {
		body += " " + fill(t.reason, d.Reason)
	}
	return fill(t.changed, d.Title), body
}

// note is the push telling userID of d.
func note(d eventDoc, userID string, kind noteKind, moved bool) push.Note {
	id := d.ID.Hex()
	nt := map[string]push.NoteText{}
	for l, t := range locales {
		title, body := t.words(d, kind, moved)
		nt[l] = push.NoteText{Title: title, Body: body}
	}
	// One note per version of the event and person (a reminder per start).
	key := "event:" + id + ":" + strconv.Itoa(d.Seq) + ":" + userID
	ttl := 24 * time.Hour
	if kind == noteReminder {
		key = "event-reminder:" + id + ":" + strconv.FormatInt(d.StartsAt.Unix(), 10) + ":" + userID
		ttl = RemindBefore
	}
	return push.Note{Key: key, UserID: userID, StreetID: d.StreetID, URL: "/events/" + id, Tag: "event-" + id, Texts: nt, TTL: ttl}
}

// answered lists who answered d, yes or no, but skip; in a fixed order.
func answered(d eventDoc, skip string, yesOnly bool) []string {
	out := make([]string, 0, len(d.RSVPs))
	for uid, r := range d.RSVPs {
		if uid == skip || yesOnly && r.Answer != AnswerYes {
			continue
		}
		out = append(out, uid)
	}
	sort.Strings(out)
	return out
}

// tell notifies everyone who answered d (but the one who made the
// change) of it: a push each, and a mail to those no device reaches. A
// failure is logged: the change stands, and shows on the event's page.
func (s *Service) tell(ctx context.Context, d eventDoc, actor string, kind noteKind, moved bool) {
	who := answered(d, actor, false)
	if len(who) == 0 {
		return
	}
	if s.deps.Notifier != nil {
		for _, uid := range who {
			if err := s.deps.Notifier.Notify(ctx, note(d, uid, kind, moved)); err != nil {
				s.log.Error("activities: note not queued", "event", d.ID.Hex(), "user", uid, "err", err)
			}
		}
	}
	if s.deps.Mailer != nil {
		if err := s.deps.Mailer.send(ctx, d, who, kind, moved); err != nil {
			s.log.Error("activities: mails not queued", "event", d.ID.Hex(), "err", err)
		}
	}
}

// send mails who of d's change, those with a verified address and no
// push device.
func (m *Mailer) send(ctx context.Context, d eventDoc, who []string, kind noteKind, moved bool) error {
	accs, err := m.Accounts.Users(ctx, who)
	if err != nil {
		return err
	}
	link := strings.TrimRight(m.PublicURL, "/") + "/events/" + d.ID.Hex()
	for _, uid := range who {
		acc, ok := accs[uid]
		if !ok || !acc.EmailVerified || acc.Email == "" {
			continue
		}
		if m.Devices != nil {
			has, err := m.Devices.HasDevices(ctx, uid)
			if err != nil {
				return err
			}
			if has {
				continue
			}
		}
		lang, t := textsFor(acc.Locale)
		title, body := t.words(d, kind, moved)
		text := title + "\n\n" + t.when(d.StartsAt, d.TZ) + " · " + d.Place + "\n" + body + "\n\n" + fill(t.open, link) + "\n"
		if err := m.Out.Queue(ctx, mail.Message{ID: "event:" + d.ID.Hex() + ":" + strconv.Itoa(d.Seq) + ":" + uid,
			Kind: mail.KindNotice, To: acc.Email, ToName: acc.Name, Locale: lang, Subject: title, Text: text}); err != nil {
			return err
		}
	}
	return nil
}
