// Package labels holds the words the app shows for the fixed values of a
// post (its category, its kind) in every language the server writes in:
// pushes, mails and the sheet on the door all take them from here, and a
// test holds them equal to the PWA's own (pwa/i18n, keys category.<name>
// and kind.<name>), so every channel says what the app says.
package labels

import "strings"

// Set is the labels of one language.
type Set struct {
	categories, kinds map[string]string
}

var sets = map[string]Set{
	"it": {
		categories: map[string]string{
			"babysitting": "Babysitting", "repairs": "Piccole riparazioni", "dog_walking": "Passeggiate col cane",
			"lending": "Prestiti", "errands": "Commissioni", "company": "Compagnia", "lessons": "Lezioni",
			"gardening": "Giardinaggio", "transport": "Passaggi", "other": "Altro",
		},
		kinds: map[string]string{"request": "Richiesta", "offer": "Offerta"},
	},
	"en": {
		categories: map[string]string{
			"babysitting": "Babysitting", "repairs": "Small repairs", "dog_walking": "Dog walking",
			"lending": "Lending", "errands": "Errands", "company": "Company", "lessons": "Lessons",
			"gardening": "Gardening", "transport": "Lifts", "other": "Other",
		},
		kinds: map[string]string{"request": "Request", "offer": "Offer"},
	},
}

// Locales are the languages there are labels in.
func Locales() []string { return []string{"it", "en"} }

// Of returns the labels of a language ("en", "en-GB", "it"); Italian for
// any other.
func Of(lang string) Set {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if s, ok := sets[lang]; ok {
		return s
	}
	return sets["it"]
}

// Category is the label of a post category, and false for a name that is
// not one.
func (s Set) Category(name string) (string, bool) {
	l, ok := s.categories[name]
	return l, ok
}

// CategoryOr is the label of a post category, or the label of "other"
// for a name that is not one.
func (s Set) CategoryOr(name string) string {
	if l, ok := s.categories[name]; ok {
		return l
	}
	return s.categories["other"]
}

// Kind is the label of a post kind ("request", "offer"); the name itself
// for one that is not.
func (s Set) Kind(name string) string {
	if l, ok := s.kinds[name]; ok {
		return l
	}
	return name
}

// Keys returns every label by the key the PWA's translation files give it
// ("category.repairs", "kind.offer").
func (s Set) Keys() map[string]string {
	out := make(map[string]string, len(s.categories)+len(s.kinds))
	for k, v := range s.categories {
		out["category."+k] = v
	}
	for k, v := range s.kinds {
		out["kind."+k] = v
	}
	return out
}
