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
		c.RegisterPerIP != 20 || c.PostsPerHour != 30 || c.ReadTimeout != 10*time.Second {
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
		"short secret":  {"CIVICO_JWT_SECRET": "short"},
		"missing file":  {"CIVICO_JWT_SECRET_FILE": "/nonexistent/secret"},
		"vapid half":    {"CIVICO_VAPID_PRIVATE_KEY": "x"},
		"vapid subject": {"CIVICO_VAPID_SUBJECT": "admin@example.org"},
		"public url":    {"CIVICO_PUBLIC_URL": "localhost"},
		"push workers":  {"CIVICO_PUSH_WORKERS": "0"},
		"push rate":     {"CIVICO_PUSH_RATE": "-1"},
		"not a number":  {"CIVICO_LOGIN_PER_IP": "many"},
		"bad log level": {"CIVICO_LOG_LEVEL": "chatty"},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Load(nil, env(m)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
