package paper

// Labels are the category and kind labels the sheets print in locale,
// by the key the PWA's i18n files use ("category.repairs", "kind.offer").
func Labels(locale string) map[string]string {
	w := dictionary[locale]
	out := map[string]string{}
	for k, v := range w.category {
		out["category."+k] = v
	}
	for k, v := range w.kind {
		out["kind."+k] = v
	}
	return out
}

// Locales are the languages the sheets print in.
func Locales() []string {
	var out []string
	for l := range dictionary {
		out = append(out, l)
	}
	return out
}
