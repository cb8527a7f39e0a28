package referrals

import (
	"context"
	"errors"
	"strings"
	"time"

	"civico/internal/followups"
	"civico/internal/push"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Sweep asks the follow-ups that fell due (the leader runs it every few
// seconds; several at once send each follow-up once, see internal/followups).
func (s *Service) Sweep(ctx context.Context) error {
	return followups.Sweep(ctx, s.due, s.clock.Now().UTC(), func(ctx context.Context, d dueDoc) error {
		return s.ask(ctx, d.ID)
	})
}

// ask sends one referral's follow-up. The referral moving open → asked is
// the claim on the push: one conditional update, which only one sweep
// wins. It is given back if the push cannot be queued. A process dying
// between the two leaves the referral asked without a push: the question
// still waits under GET /me/referrals, where the PWA shows it; sending
// it again could not tell a push that never left from one delivered.
func (s *Service) ask(ctx context.Context, id string) error {
	d, err := s.load(ctx, id)
	if errors.Is(err, ErrReferralNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Status != StatusOpen || d.AskUserID == "" {
		return nil // answered early, or nobody left to ask
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	r, err := s.refs.UpdateOne(ctx, bson.M{"_id": d.ID, "status": StatusOpen},
		bson.M{"$set": bson.M{"status": StatusAsked, "asked_at": now}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return nil // answered meanwhile, or asked by another sweep
	}
	if s.deps.Notifier == nil {
		return nil
	}
	if err := s.deps.Notifier.Notify(ctx, note(d)); err != nil {
		if _, uerr := s.refs.UpdateOne(context.WithoutCancel(ctx), bson.M{"_id": d.ID, "status": StatusAsked, "asked_at": now},
			bson.M{"$set": bson.M{"status": StatusOpen}, "$unset": bson.M{"asked_at": ""}}); uerr != nil {
			s.log.Error("referrals: follow-up marked asked after a failed push", "referral", id, "err", uerr)
		}
		return err
	}
	return nil
}

// noteTexts are a follow-up's words in one language.
type noteTexts struct {
	title, resident, volunteer, member string
	actions                            map[string]string
}

var noteLocales = map[string]noteTexts{
	"it": {
		title:     "Com'è andata?",
		resident:  "Ti abbiamo indicato «%s». Ti è stato utile?",
		volunteer: "Hai indirizzato una persona a «%s». È stato utile?",
		member:    "Hai indirizzato un socio a «%s». È stato utile?",
		actions:   map[string]string{OutcomeHelped: "Sì, utile", OutcomeNotHelped: "Non è servito"},
	},
	"en": {
		title:     "How did it go?",
		resident:  "We pointed you to “%s”. Did it help?",
		volunteer: "You referred someone to “%s”. Did it help?",
		member:    "You referred a member to “%s”. Did it help?",
		actions:   map[string]string{OutcomeHelped: "Yes, it helped", OutcomeNotHelped: "It didn't help"},
	},
}

// note is the push asking how referral d went: helped and not helped are
// the buttons; the referral's screen offers "no answer" too.
func note(d referralDoc) push.Note {
	id := d.ID.Hex()
	texts := map[string]push.NoteText{}
	for locale, t := range noteLocales {
		body := t.volunteer
		switch {
		case d.Ask == AskResident:
			body = t.resident
		case d.MemberID != "":
			body = t.member
		}
		nt := push.NoteText{Title: t.title, Body: strings.Replace(body, "%s", d.PlaceName, 1)}
		for _, a := range []string{OutcomeHelped, OutcomeNotHelped} {
			nt.Actions = append(nt.Actions, push.Action{Action: a, Title: t.actions[a]})
		}
		texts[locale] = nt
	}
	return push.Note{Key: "referral:" + id, UserID: d.AskUserID, StreetID: d.StreetID, URL: "/referrals/" + id,
		Tag: "referral-" + id, Texts: texts, TTL: 3 * 24 * time.Hour}
}
