package pwa_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"civico/pwa"
)

func translations(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, lang := range []string{"it", "en"} {
		b, err := fs.ReadFile(pwa.FS(), "i18n/"+lang+".json")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		out[lang] = m
	}
	return out
}

func scripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(pwa.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := fs.ReadFile(pwa.FS(), p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTranslationsComplete: Italian and English have the same strings, every
// string the app asks for exists, and every family of strings built from API
// values (categories, kinds, statuses) is complete.
func TestTranslationsComplete(t *testing.T) {
	tr := translations(t)
	for key := range tr["it"] {
		if _, ok := tr["en"][key]; !ok {
			t.Errorf("%q is in it.json but not in en.json", key)
		}
		if strings.TrimSpace(tr["it"][key]) == "" || strings.TrimSpace(tr["en"][key]) == "" {
			t.Errorf("%q is empty", key)
		}
	}
	for key := range tr["en"] {
		if _, ok := tr["it"][key]; !ok {
			t.Errorf("%q is in en.json but not in it.json", key)
		}
	}
	used := regexp.MustCompile(`\bt\('([a-z0-9_.]+)'`)
	plural := regexp.MustCompile(`\btn\('([a-z0-9_.]+)'`)
	listed := regexp.MustCompile(`\['([a-z]+\.[a-z0-9_.]+)', `)
	for file, src := range scripts(t) {
		for _, m := range used.FindAllStringSubmatch(src, -1) {
			if _, ok := tr["it"][m[1]]; !ok {
				t.Errorf("%s asks for %q, which has no translation", file, m[1])
			}
		}
		for _, m := range plural.FindAllStringSubmatch(src, -1) {
			if _, ok := tr["it"][m[1]+".other"]; !ok {
				t.Errorf("%s asks for the plural %q, which has no .other form", file, m[1])
			}
		}
		for _, m := range listed.FindAllStringSubmatch(src, -1) {
			if _, ok := tr["it"][m[1]]; !ok && strings.Contains(m[1], ".") && !strings.HasPrefix(m[1], "/") {
				t.Errorf("%s lists %q, which has no translation", file, m[1])
			}
		}
	}
	families := map[string][]string{
		"category.": {"babysitting", "repairs", "dog_walking", "lending", "errands", "company", "lessons", "gardening", "transport", "other"},
		"kind.":     {"request", "offer", "request.plural", "offer.plural", "request.long", "offer.long"},
		"status.":   {"open", "matched", "done", "closed", "removed", "open.long", "matched.long", "done.long", "closed.long", "removed.long"},
		"pay.type.": {"fee", "donation", "refund", "adjustment"},
		"field.": {"required", "too_long", "too_short", "invalid", "unsupported", "out_of_range", "unknown_field", "invalid_type",
			"invisible_characters", "nothing_visible", "forbidden_address"},
	}
	for prefix, names := range families {
		for _, n := range names {
			if _, ok := tr["it"][prefix+n]; !ok {
				t.Errorf("missing %s%s", prefix, n)
			}
		}
	}
}

// TestEveryErrorCodeTranslated: every error code the server can answer
// (each fault.New in internal/) has a message in the user's language, so
// the PWA never shows a raw code.
func TestEveryErrorCodeTranslated(t *testing.T) {
	tr := translations(t)
	re := regexp.MustCompile(`fault\.New\(fault\.[A-Za-z]+,\s*"([a-z_]+)"`)
	var missing []string
	err := filepath.WalkDir(filepath.Join("..", "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if _, ok := tr["it"]["error."+m[1]]; !ok && !slices.Contains(missing, m[1]) {
				missing = append(missing, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("error codes with no translation in pwa/i18n: %s", strings.Join(missing, ", "))
	}
}
