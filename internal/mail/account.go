package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	htmltemplate "html/template"
	"net/url"
	"strings"
	"text/template"
	"time"

	"civico/internal/auth"
)

// The account mails: the Service is auth's Postman.
var _ auth.Postman = (*Service)(nil)

// accountText is one account mail in one language. Its strings are
// text/template bodies over accountData; the HTML part escapes what they
// produce.
type accountText struct {
	Subject  string
	Greeting string   // "Ciao {{.Name}},"
	Before   []string // paragraphs before the link
	Action   string   // the link's label in the HTML part
	After    []string // paragraphs after the link
}

// accountData fills the texts.
type accountData struct {
	Name       string
	Address    string
	NewAddress string
	ForgotLink string
}

// accountTexts are every account mail's words, by mail and language.
// Italian first: most residents read it.
var accountTexts = map[string]map[string]accountText{
	"reset": {
		"it": {
			Subject:  "Civico: scegli una nuova password",
			Greeting: "Ciao{{if .Name}} {{.Name}}{{end}},",
			Before:   []string{"abbiamo ricevuto una richiesta di reimpostare la password del tuo account Civico. Per sceglierne una nuova apri questo link:"},
			Action:   "Scegli una nuova password",
			After: []string{
				"Il link vale un'ora e si può usare una sola volta.",
				"Se non sei stato tu, ignora questa email: la tua password resta quella di prima.",
			},
		},
		"en": {
			Subject:  "Civico: choose a new password",
			Greeting: "Hello{{if .Name}} {{.Name}}{{end}},",
			Before:   []string{"we received a request to reset the password of your Civico account. To choose a new one, open this link:"},
			Action:   "Choose a new password",
			After: []string{
				"The link is valid for one hour and works only once.",
				"If it was not you, ignore this email: your password stays as it was.",
			},
		},
	},
	"verify": {
		"it": {
			Subject:  "Civico: conferma il tuo indirizzo email",
			Greeting: "Ciao{{if .Name}} {{.Name}}{{end}},",
			Before:   []string{"per confermare che {{.Address}} è il tuo indirizzo email, apri questo link:"},
			Action:   "Conferma l'indirizzo",
			After: []string{
				"Il link vale 24 ore. Finché l'indirizzo non è confermato, Civico non ti manda avvisi per email.",
				"Se non sei stato tu a chiederlo, ignora questa email.",
			},
		},
		"en": {
			Subject:  "Civico: confirm your email address",
			Greeting: "Hello{{if .Name}} {{.Name}}{{end}},",
			Before:   []string{"to confirm that {{.Address}} is your email address, open this link:"},
			Action:   "Confirm the address",
			After: []string{
				"The link is valid for 24 hours. Until the address is confirmed, Civico sends you no notifications by email.",
				"If you did not ask for this, ignore this email.",
			},
		},
	},
	"changing": {
		"it": {
			Subject:  "Civico: il tuo indirizzo email sta per cambiare",
			Greeting: "Ciao{{if .Name}} {{.Name}}{{end}},",
			Before: []string{
				"è stato chiesto di cambiare l'indirizzo email del tuo account Civico da {{.Address}} a {{.NewAddress}}. Il cambio avviene solo quando il nuovo indirizzo viene confermato.",
				"Se non sei stato tu, reimposta subito la password da qui:",
			},
			Action: "Reimposta la password",
			After:  []string{"Se invece sei stato tu, non devi fare nulla."},
		},
		"en": {
			Subject:  "Civico: your email address is about to change",
			Greeting: "Hello{{if .Name}} {{.Name}}{{end}},",
			Before: []string{
				"someone asked to change the email address of your Civico account from {{.Address}} to {{.NewAddress}}. The change happens only once the new address is confirmed.",
				"If it was not you, reset your password at once here:",
			},
			Action: "Reset the password",
			After:  []string{"If it was you, there is nothing to do."},
		},
	},
}

// accountHTML lays out an account mail: readable without images, nothing
// fetched from anywhere, every value escaped.
var accountHTML = htmltemplate.Must(htmltemplate.New("account").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:16px;background:#ffffff;color:#1f1f1f;font-family:Arial,Helvetica,sans-serif;font-size:17px;line-height:1.5">
<div style="max-width:36em;margin:0 auto">
<p>{{.Greeting}}</p>
{{range .Before}}<p>{{.}}</p>
{{end}}<p><a href="{{.Link}}" style="display:inline-block;padding:12px 20px;background:#1d5c96;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold">{{.Action}}</a></p>
<p style="font-size:15px;color:#444444;word-break:break-all"><a href="{{.Link}}" style="color:#1d5c96">{{.Link}}</a></p>
{{range .After}}<p>{{.}}</p>
{{end}}<p style="color:#444444">— Civico</p>
</div>
</body>
</html>
`))

// lang picks the texts' language: English for "en…", else Italian.
func lang(locale string) string {
	if strings.HasPrefix(strings.ToLower(locale), "en") {
		return "en"
	}
	return "it"
}

// accountMail writes the account mail which (reset, verify, changing) in
// the account's language, both parts.
func accountMail(which, locale string, data accountData, link string) (subject, text, html string, err error) {
	l := lang(locale)
	t := accountTexts[which][l]
	fill := func(s string) (string, error) {
		tpl, err := template.New("").Parse(s)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		if err := tpl.Execute(&b, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	fillAll := func(ss []string) ([]string, error) {
		out := make([]string, len(ss))
		for i, s := range ss {
			if out[i], err = fill(s); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	greeting, err := fill(t.Greeting)
	if err != nil {
		return "", "", "", err
	}
	before, err := fillAll(t.Before)
	if err != nil {
		return "", "", "", err
	}
	after, err := fillAll(t.After)
	if err != nil {
		return "", "", "", err
	}
	var tb strings.Builder
	tb.WriteString(greeting + "\n\n")
	for _, p := range before {
		tb.WriteString(p + "\n\n")
	}
	tb.WriteString(link + "\n\n")
	for _, p := range after {
		tb.WriteString(p + "\n\n")
	}
	tb.WriteString("— Civico\n")
	var hb bytes.Buffer
	err = accountHTML.Execute(&hb, map[string]any{
		"Lang": l, "Subject": t.Subject, "Greeting": greeting, "Before": before, "After": after,
		"Action": t.Action, "Link": htmltemplate.URL(link),
	})
	if err != nil {
		return "", "", "", err
	}
	return t.Subject, tb.String(), hb.String(), nil
}

// tokenID is the part of a token a message ID carries: a hash, so the ID
// (stored, logged) never holds the token itself.
func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:12])
}

// link is PublicURL + path + "?token=" + token.
func (s *Service) link(path, token string) string {
	return s.publicURL + path + "?token=" + url.QueryEscape(token)
}

// PasswordReset mails to.Email the link to choose a new password (valid
// one hour); each token is a mail of its own.
func (s *Service) PasswordReset(ctx context.Context, to auth.Account, token string) error {
	link := s.link("/reset", token)
	subject, text, html, err := accountMail("reset", to.Locale, accountData{Name: to.Name, Address: to.Email}, link)
	if err != nil {
		return err
	}
	return s.Queue(ctx, Message{
		ID: "reset:" + tokenID(token), Kind: KindReset, To: to.Email, ToName: to.Name, Locale: lang(to.Locale),
		Subject: subject, Text: text, HTML: html,
	})
}

// VerifyAddress mails address the link proving it is the account's (valid
// 24 hours): at sign-up to.Email, on a change the new address.
func (s *Service) VerifyAddress(ctx context.Context, to auth.Account, address, token string) error {
	link := s.link("/verify", token)
	subject, text, html, err := accountMail("verify", to.Locale, accountData{Name: to.Name, Address: address}, link)
	if err != nil {
		return err
	}
	return s.Queue(ctx, Message{
		ID: "verify:" + tokenID(token), Kind: KindVerify, To: address, ToName: to.Name, Locale: lang(to.Locale),
		Subject: subject, Text: text, HTML: html,
	})
}

// AddressChanging tells the account's current address that it is being
// changed to newAddress, with a way back if that was not its owner.
func (s *Service) AddressChanging(ctx context.Context, to auth.Account, newAddress string) error {
	link := s.publicURL + "/forgot"
	subject, text, html, err := accountMail("changing", to.Locale,
		accountData{Name: to.Name, Address: to.Email, NewAddress: headerText(newAddress, maxAddress)}, link)
	if err != nil {
		return err
	}
	// One notice per change asked within a minute: a retried request does
	// not mail twice, a later change does.
	minute := s.clock.Now().Truncate(time.Minute).Format(time.RFC3339)
	return s.Queue(ctx, Message{
		ID: "changing:" + to.ID + ":" + tokenID(strings.ToLower(newAddress)+"|"+minute), Kind: KindNotice,
		To: to.Email, ToName: to.Name, Locale: lang(to.Locale), Subject: subject, Text: text, HTML: html,
	})
}

// AddressVerified lifts the address's bounce mark: its owner just proved
// it receives mail.
func (s *Service) AddressVerified(ctx context.Context, address string) error {
	return s.ClearBounce(ctx, address)
}
