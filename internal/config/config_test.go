package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"civico/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.MongoURI != "" || c.LoginPerAccount != 10 || c.LoginPerIP != 30 ||
		c.RegisterPerIP != 20 || c.PostsPerHour != 30 || c.ReadTimeout != 10*time.Second || c.ReferralFollowUp != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := config.Load([]string{"-addr", ":9000", "-log-level", "debug"}, env(map[string]string{
		"CIVICO_ADDR": ":7000", "CIVICO_DATA": "/var/lib/civico", "MONGODB_URI": "mongodb://db:27017/?replicaSet=rs0",
		"CIVICO_LOGIN_PER_IP": "5", "CIVICO_READ_TIMEOUT": "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.DataDir != "/var/lib/civico" || c.MongoURI == "" || c.LoginPerIP != 5 || c.ReadTimeout != 3*time.Second {
		t.Fatalf("got %+v", c)
	}
}

func TestReferralFollowUpInDaysOrHours(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "14d": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
		c, err := config.Load(nil, env(map[string]string{"CIVICO_REFERRAL_FOLLOWUP": in}))
		if err != nil || c.ReferralFollowUp != want {
			t.Errorf("%s: %v, %v", in, c.ReferralFollowUp, err)
		}
	}
}

func TestSecretsFromFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("a-secret-of-more-than-thirty-two-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(nil, env(map[string]string{"CIVICO_JWT_SECRET_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.JWTSecret) != "a-secret-of-more-than-thirty-two-bytes" {
		t.Fatalf("secret %q", c.JWTSecret)
	}
}

func TestInvalidSettingsAreRefused(t *testing.T) {
	cases := map[string]map[string]string{
		"short secret":   {"CIVICO_JWT_SECRET": "short"},
		"missing file":   {"CIVICO_JWT_SECRET_FILE": "/nonexistent/secret"},
		"vapid half":     {"CIVICO_VAPID_PRIVATE_KEY": "x"},
		"vapid subject":  {"CIVICO_VAPID_SUBJECT": "admin@example.org"},
		"public url":     {"CIVICO_PUBLIC_URL": "localhost"},
		"push workers":   {"CIVICO_PUSH_WORKERS": "0"},
		"push rate":      {"CIVICO_PUSH_RATE": "-1"},
		"not a number":   {"CIVICO_LOGIN_PER_IP": "many"},
		"bad log level":  {"CIVICO_LOG_LEVEL": "chatty"},
		"mail from":      {"CIVICO_MAIL_FROM": "civico at example"},
		"mail from crlf": {"CIVICO_MAIL_FROM": "Civico <a@example.org>\r\nBcc: b@example.org"},
		"mail rate":      {"CIVICO_MAIL_RATE": "0"},
		"follow-up days": {"CIVICO_REFERRAL_FOLLOWUP": "seven"},
		"follow-up long": {"CIVICO_REFERRAL_FOLLOWUP": "120d"},
		"follow-up zero": {"CIVICO_REFERRAL_FOLLOWUP": "0d"},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Load(nil, env(m)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestNATSSettings(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "" || c.NATSListen != "" {
		t.Fatalf("by default NATS is embedded and listens nowhere: %q %q", c.NATSURL, c.NATSListen)
	}
	c, err = config.Load([]string{"-nats-url", "nats://n1:4222, n2:4222"}, env(map[string]string{"CIVICO_NATS_URL": "nats://other:4222"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "nats://n1:4222, n2:4222" {
		t.Fatalf("url %q", c.NATSURL)
	}
	c, err = config.Load(nil, env(map[string]string{"CIVICO_NATS_LISTEN": "127.0.0.1:4222"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSListen != "127.0.0.1:4222" {
		t.Fatalf("listen %q", c.NATSListen)
	}
	c, err = config.Load(nil, env(map[string]string{"CIVICO_NATS_URL": "nats://n1:4222", "CIVICO_NATS_REPLICAS": "3"}))
	if err != nil || c.NATSReplicas != 3 {
		t.Fatalf("replicas %d %v", c.NATSReplicas, err)
	}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"listen without port":   {env: map[string]string{"CIVICO_NATS_LISTEN": "127.0.0.1"}},
		"listen bad port":       {env: map[string]string{"CIVICO_NATS_LISTEN": "127.0.0.1:http"}},
		"listen with a url":     {env: map[string]string{"CIVICO_NATS_URL": "nats://n1:4222", "CIVICO_NATS_LISTEN": ":4222"}},
		"url without host":      {env: map[string]string{"CIVICO_NATS_URL": "nats://"}},
		"embedded without data": {args: []string{"-data", ""}, env: map[string]string{"MONGODB_URI": "mongodb://db"}},
		"no replicas":           {env: map[string]string{"CIVICO_NATS_URL": "nats://n1:4222", "CIVICO_NATS_REPLICAS": "0"}},
		"replicas embedded":     {env: map[string]string{"CIVICO_NATS_REPLICAS": "3"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Load(tc.args, env(tc.env)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// A data directory is not needed when NATS and MongoDB are elsewhere.
	if _, err := config.Load([]string{"-data", ""}, env(map[string]string{"MONGODB_URI": "mongodb://db", "CIVICO_NATS_URL": "nats://n1"})); err != nil {
		t.Fatal(err)
	}
}

// The SMTP URL holds a password, so it may come from a file too.
func TestSMTPURLFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "smtp")
	if err := os.WriteFile(p, []byte("smtps://civico:s3cret@mail.example.org:465\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(nil, env(map[string]string{"CIVICO_SMTP_URL_FILE": p, "CIVICO_MAIL_FROM": "Via Fondazza <civico@example.org>"}))
	if err != nil || c.SMTPURL != "smtps://civico:s3cret@mail.example.org:465" || c.MailFrom != "Via Fondazza <civico@example.org>" || c.MailRate != 20 {
		t.Fatalf("%+v, %v", c, err)
	}
}
