package handoff

import (
	"strings"
	"time"

	"civico/internal/posts"
	"civico/internal/push"
)

// reminderTexts are a reminder's words in one language.
type reminderTexts struct {
	openTitle, openBody, matchedTitle, matchedBody, forMember string
	actions                                                   map[string]string
}

var reminderLocales = map[string]reminderTexts{
	"it": {
		openTitle:    "Hai ancora bisogno?",
		openBody:     "«%s» non ha ancora risposte. Serve ancora o non serve più?",
		matchedTitle: "Com'è andata?",
		matchedBody:  "«%s»: l'aiuto è arrivato? Rispondi con un tocco.",
		forMember:    " (per %s)",
		actions:      map[string]string{AnswerDone: "Fatto, grazie!", AnswerStillNeeded: "Serve ancora", AnswerNotNeeded: "Non serve più"},
	},
	"en": {
		openTitle:    "Do you still need help?",
		openBody:     "“%s” has no replies yet. Still needed, or no longer needed?",
		matchedTitle: "How did it go?",
		matchedBody:  "“%s”: did the help arrive? Answer with one tap.",
		forMember:    " (for %s)",
		actions:      map[string]string{AnswerDone: "Done, thanks!", AnswerStillNeeded: "Still needed", AnswerNotNeeded: "No longer needed"},
	},
}

// answersFor are the answers offered in a state, the likeliest first:
// browsers show the first two as notification buttons, the post all.
func answersFor(state string) []string {
	switch state {
	case StateOpen:
		return []string{AnswerStillNeeded, AnswerNotNeeded}
	case StateMatched:
		return []string{AnswerDone, AnswerNotNeeded, AnswerStillNeeded}
	}
	return []string{}
}

// note is the push asking rec's author how it went.
func note(rec posts.PostRecord, state string) push.Note {
	texts := map[string]push.NoteText{}
	for locale, t := range reminderLocales {
		title, body := t.openTitle, t.openBody
		if state == StateMatched {
			title, body = t.matchedTitle, t.matchedBody
		}
		body = strings.Replace(body, "%s", rec.Title, 1)
		if rec.OnBehalf != nil && rec.OnBehalf.MemberName != "" {
			body += strings.Replace(t.forMember, "%s", rec.OnBehalf.MemberName, 1)
		}
		nt := push.NoteText{Title: title, Body: body}
		for _, a := range answersFor(state)[:2] {
			nt.Actions = append(nt.Actions, push.Action{Action: a, Title: t.actions[a]})
		}
		texts[locale] = nt
	}
	return push.Note{Key: "handoff:" + dueKey(rec.ID, state), UserID: rec.AuthorID, StreetID: rec.StreetID,
		URL: "/posts/" + rec.ID + "/handoff", Tag: "handoff-" + rec.ID, Texts: texts, TTL: 3 * 24 * time.Hour}
}
