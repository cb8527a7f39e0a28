// Package config reads Civico's settings from flags and the environment
// into one validated struct. Secrets may also come from files (*_FILE), as
// container orchestrators hand them out.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the server.
type Config struct {
	Addr     string
	DataDir  string
	MongoURI string
	Database string
	// NATSURL is the NATS the processes share (several URLs comma
	// separated for a cluster); empty embeds one in the process, which
	// suits a single process. NATSListen, when set, opens the embedded
	// one to TCP clients (empty: in-process only).
	NATSURL    string
	NATSListen string
	// NATSReplicas is how many NATS servers keep the processes' key-value
	// buckets (leader, heartbeats): 3 on a three-node cluster, so that
	// losing one node stops neither.
	NATSReplicas int
	LogLevel     slog.Level
	// LogFormat is json (one object a line, for a log collector) or text.
	LogFormat string
	PublicURL string
	// AllowedOrigins may open websockets besides PublicURL's origin.
	AllowedOrigins []string
	TrustedProxies []string
	JWTSecret      []byte
	// DebugAddr, when set, serves expvar and pprof there (keep it on loopback).
	DebugAddr string
	// WSPingInterval is how often idle websockets are pinged; WSSendQueue
	// bounds the frames waiting for one socket (a full queue closes it).
	WSPingInterval time.Duration
	WSSendQueue    int

	VAPIDPublicKey    string
	VAPIDPrivateKey   string
	VAPIDSubject      string
	PushAllowInsecure bool
	PushWorkers       int
	PushRate          int

	// SMTPURL is where mail goes (smtp://, smtps:// or, for a loopback
	// relay, smtp+insecure://); empty writes each mail as an .eml file
	// under <data>/mail. MailFrom is the sender; MailRate caps the mails
	// a process sends per second.
	SMTPURL  string
	MailFrom string
	MailRate int

	LoginPerAccount int
	LoginPerIP      int
	RegisterPerIP   int
	PostsPerHour    int

	// MaxConns caps the connections open at once (0: the open-file limit
	// less a reserve); MaxConnsPerIP those of one address (0: no cap;
	// loopback and the trusted proxies are exempt).
	MaxConns      int
	MaxConnsPerIP int

	ReadTimeout, WriteTimeout, IdleTimeout, ShutdownTimeout time.Duration

	// BackupInterval, when set, backs the embedded database up that often
	// into BackupDir (default <data>/backups), keeping the newest BackupKeep.
	BackupInterval time.Duration
	BackupDir      string
	BackupKeep     int

	// ReferralFollowUp is how long after a referral the desk asks whether
	// it helped (CIVICO_REFERRAL_FOLLOWUP: "7d", or a duration such as "36h").
	ReferralFollowUp time.Duration

	// ConversationsPerDay is how many private conversations a member may
	// start in 24 hours with people who have not answered yet
	// (CIVICO_CONVERSATIONS_PER_DAY, default 5).
	ConversationsPerDay int
}

// Load reads args (flags) over getenv (environment) over the defaults.
func Load(args []string, getenv func(string) string) (Config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var c Config
	var logLevel, origins, proxies, backupInterval string
	var perr []error
	fs := flag.NewFlagSet("civico", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Addr, "addr", env("CIVICO_ADDR", ":8080"), "listen address")
	fs.StringVar(&c.DataDir, "data", env("CIVICO_DATA", "./data"), "data directory (embedded database, socket, lock)")
	fs.StringVar(&c.MongoURI, "mongodb-uri", env("MONGODB_URI", ""), "MongoDB URI; empty starts the embedded database")
	fs.StringVar(&c.Database, "db", env("CIVICO_DB", "civico"), "database name")
	fs.StringVar(&c.NATSURL, "nats-url", env("CIVICO_NATS_URL", ""), "NATS URL(s), comma separated; empty embeds NATS in the process")
	intVar(fs, &perr, &c.NATSReplicas, "nats-replicas", env("CIVICO_NATS_REPLICAS", "1"))
	fs.StringVar(&c.NATSListen, "nats-listen", env("CIVICO_NATS_LISTEN", ""), "embedded NATS's client address (host:port); empty: none")
	fs.StringVar(&logLevel, "log-level", env("CIVICO_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", env("CIVICO_LOG_FORMAT", "json"), "json or text")
	fs.StringVar(&c.PublicURL, "public-url", env("CIVICO_PUBLIC_URL", ""), "public origin, e.g. https://civico.example.org")
	fs.StringVar(&origins, "allowed-origins", env("CIVICO_ALLOWED_ORIGINS", ""), "extra websocket origins, comma separated")
	fs.StringVar(&proxies, "trusted-proxies", env("CIVICO_TRUSTED_PROXIES", ""), "proxies whose X-Forwarded-For is trusted, comma separated")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("CIVICO_DEBUG_ADDR", ""), "serve expvar and pprof on this address")
	fs.BoolVar(&c.PushAllowInsecure, "push-allow-insecure", env("CIVICO_PUSH_ALLOW_INSECURE", "") == "1", "accept http loopback push endpoints (tests only)")
	intVar(fs, &perr, &c.PushWorkers, "push-workers", env("CIVICO_PUSH_WORKERS", "8"))
	intVar(fs, &perr, &c.PushRate, "push-rate", env("CIVICO_PUSH_RATE", "1500"))
	fs.StringVar(&c.MailFrom, "mail-from", env("CIVICO_MAIL_FROM", "Civico <civico@localhost>"), "the mails' sender, e.g. Civico <civico@example.org>")
	intVar(fs, &perr, &c.MailRate, "mail-rate", env("CIVICO_MAIL_RATE", "20"))
	intVar(fs, &perr, &c.LoginPerAccount, "login-per-account", env("CIVICO_LOGIN_PER_ACCOUNT", "10"))
	intVar(fs, &perr, &c.LoginPerIP, "login-per-ip", env("CIVICO_LOGIN_PER_IP", "30"))
	intVar(fs, &perr, &c.RegisterPerIP, "register-per-ip", env("CIVICO_REGISTER_PER_IP", "20"))
	intVar(fs, &perr, &c.PostsPerHour, "posts-per-hour", env("CIVICO_POSTS_PER_HOUR", "30"))
	intVar(fs, &perr, &c.MaxConns, "max-conns", env("CIVICO_MAX_CONNS", "0"))
	intVar(fs, &perr, &c.MaxConnsPerIP, "max-conns-per-ip", env("CIVICO_MAX_CONNS_PER_IP", "1000"))
	durVar(fs, &perr, &c.ReadTimeout, "read-timeout", env("CIVICO_READ_TIMEOUT", "10s"))
	durVar(fs, &perr, &c.WriteTimeout, "write-timeout", env("CIVICO_WRITE_TIMEOUT", "10s"))
	durVar(fs, &perr, &c.IdleTimeout, "idle-timeout", env("CIVICO_IDLE_TIMEOUT", "60s"))
	durVar(fs, &perr, &c.ShutdownTimeout, "shutdown-timeout", env("CIVICO_SHUTDOWN_TIMEOUT", "20s"))
	durVar(fs, &perr, &c.WSPingInterval, "ws-ping-interval", env("CIVICO_WS_PING_INTERVAL", "25s"))
	intVar(fs, &perr, &c.WSSendQueue, "ws-send-queue", env("CIVICO_WS_SEND_QUEUE", "256"))
	fs.StringVar(&backupInterval, "backup-interval", env("CIVICO_BACKUP_INTERVAL", "0"), "back the embedded database up this often (e.g. 24h); 0: never")
	fs.StringVar(&c.BackupDir, "backup-dir", env("CIVICO_BACKUP_DIR", ""), "scheduled backups' directory (default <data>/backups)")
	intVar(fs, &perr, &c.BackupKeep, "backup-keep", env("CIVICO_BACKUP_KEEP", "7"))
	daysVar(fs, &perr, &c.ReferralFollowUp, "referral-followup", env("CIVICO_REFERRAL_FOLLOWUP", "7d"))
	intVar(fs, &perr, &c.ConversationsPerDay, "conversations-per-day", env("CIVICO_CONVERSATIONS_PER_DAY", "5"))
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if d, err := time.ParseDuration(backupInterval); err != nil || d < 0 {
		perr = append(perr, fmt.Errorf("backup-interval: %q is not a duration (0: no scheduled backups)", backupInterval))
	} else {
		c.BackupInterval = d
	}
	if c.BackupDir == "" {
		c.BackupDir = filepath.Join(c.DataDir, "backups")
	}
	if err := errors.Join(perr...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var err error
	if err = c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return Config{}, fmt.Errorf("config: log level %q: %w", logLevel, err)
	}
	c.AllowedOrigins = splitList(origins)
	c.TrustedProxies = splitList(proxies)
	secret, err := secretEnv(getenv, "CIVICO_JWT_SECRET")
	if err != nil {
		return Config{}, err
	}
	c.JWTSecret = []byte(secret)
	if c.VAPIDPublicKey, err = secretEnv(getenv, "CIVICO_VAPID_PUBLIC_KEY"); err != nil {
		return Config{}, err
	}
	if c.VAPIDPrivateKey, err = secretEnv(getenv, "CIVICO_VAPID_PRIVATE_KEY"); err != nil {
		return Config{}, err
	}
	if c.SMTPURL, err = secretEnv(getenv, "CIVICO_SMTP_URL"); err != nil {
		return Config{}, err
	}
	c.VAPIDSubject = env("CIVICO_VAPID_SUBJECT", "mailto:admin@civico.invalid")
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.MongoURI == "" && c.DataDir == "" {
		errs = append(errs, errors.New("a data directory (-data) is needed for the embedded database"))
	}
	if len(c.JWTSecret) > 0 && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("CIVICO_JWT_SECRET must be at least 32 bytes"))
	}
	if (c.VAPIDPublicKey == "") != (c.VAPIDPrivateKey == "") {
		errs = append(errs, errors.New("set both CIVICO_VAPID_PUBLIC_KEY and CIVICO_VAPID_PRIVATE_KEY, or neither"))
	}
	if !strings.HasPrefix(c.VAPIDSubject, "mailto:") && !strings.HasPrefix(c.VAPIDSubject, "https://") {
		errs = append(errs, errors.New("CIVICO_VAPID_SUBJECT must start with mailto: or https://"))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public URL %q is not an http(s) origin", c.PublicURL))
		}
	}
	if c.WSPingInterval < time.Second || c.WSPingInterval > 10*time.Minute {
		errs = append(errs, errors.New("the websocket ping interval must be within 1s..10m"))
	}
	if c.WSSendQueue < 8 || c.WSSendQueue > 65536 {
		errs = append(errs, errors.New("the websocket send queue must be within 8..65536"))
	}
	if c.PushWorkers < 1 || c.PushWorkers > 256 {
		errs = append(errs, errors.New("push workers must be within 1..256"))
	}
	if c.PushRate < 0 || c.PushRate > 1_000_000 {
		errs = append(errs, errors.New("the push rate must be within 0..1000000 per second (0: unpaced)"))
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(c.MailFrom, "\r\n") || !strings.Contains(a.Address, "@") {
		errs = append(errs, fmt.Errorf("CIVICO_MAIL_FROM %q is not an address such as Civico <civico@example.org>", c.MailFrom))
	}
	if c.ReferralFollowUp < time.Hour || c.ReferralFollowUp > 90*24*time.Hour {
		errs = append(errs, errors.New("CIVICO_REFERRAL_FOLLOWUP must be within 1h..90d (e.g. 7d)"))
	}
	if c.ConversationsPerDay < 1 || c.ConversationsPerDay > 1000 {
		errs = append(errs, errors.New("CIVICO_CONVERSATIONS_PER_DAY must be within 1..1000"))
	}
	if c.MailRate < 1 || c.MailRate > 10_000 {
		errs = append(errs, errors.New("CIVICO_MAIL_RATE must be within 1..10000 mails per second"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log format %q: json or text", c.LogFormat))
	}
	if c.BackupInterval > 0 && c.MongoURI != "" {
		errs = append(errs, errors.New("CIVICO_BACKUP_INTERVAL backs up the embedded database only; back MongoDB up with its own tools (README, Backups)"))
	}
	if c.BackupInterval > 0 && c.BackupInterval < time.Minute {
		errs = append(errs, errors.New("the backup interval must be 1m or more (0: no scheduled backups)"))
	}
	if c.BackupKeep < 1 {
		errs = append(errs, errors.New("CIVICO_BACKUP_KEEP must be 1 or more"))
	}
	if c.NATSURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("a data directory (-data) is needed for the embedded NATS (or set CIVICO_NATS_URL)"))
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		errs = append(errs, errors.New("CIVICO_NATS_REPLICAS must be 1 to 5"))
	}
	if c.NATSURL == "" && c.NATSReplicas != 1 {
		errs = append(errs, errors.New("CIVICO_NATS_REPLICAS needs CIVICO_NATS_URL (the embedded NATS is one server)"))
	}
	if c.NATSURL != "" && c.NATSListen != "" {
		errs = append(errs, errors.New("CIVICO_NATS_LISTEN opens the embedded NATS; it has no use with CIVICO_NATS_URL"))
	}
	if c.NATSListen != "" {
		if _, port, err := net.SplitHostPort(c.NATSListen); err != nil {
			errs = append(errs, fmt.Errorf("CIVICO_NATS_LISTEN %q: host:port: %w", c.NATSListen, err))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("CIVICO_NATS_LISTEN %q: bad port", c.NATSListen))
		}
	}
	for _, u := range splitList(c.NATSURL) {
		full := u
		if !strings.Contains(u, "://") {
			full = "nats://" + u // as the NATS client reads host:port
		}
		if p, err := url.Parse(full); err != nil || p.Host == "" {
			errs = append(errs, fmt.Errorf("CIVICO_NATS_URL: %q is not a URL such as nats://host:4222", redactURL(u)))
		}
	}
	if c.MaxConns < 0 || c.MaxConnsPerIP < 0 {
		errs = append(errs, errors.New("connection caps must be 0 (none) or more"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// secretEnv reads NAME, or the file named by NAME_FILE.
func secretEnv(getenv func(string) string, name string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: %s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// redactURL hides a password in a URL that is shown back.
func redactURL(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "…" + s[i:]
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// intVar and durVar parse the environment's value as the default and let
// the flag override it; a value that does not parse is kept in errs.
func intVar(fs *flag.FlagSet, errs *[]error, p *int, name, def string) {
	n, err := strconv.Atoi(def)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a number", name, def))
	}
	*p = n
	fs.Func(name, "integer", func(s string) error {
		v, err := strconv.Atoi(s)
		*p = v
		return err
	})
}

// daysVar is durVar that also takes whole days ("7d"), the unit
// operators think of follow-ups in.
func daysVar(fs *flag.FlagSet, errs *[]error, p *time.Duration, name, def string) {
	d, err := parseDays(def)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a duration such as 7d or 36h", name, def))
	}
	*p = d
	fs.Func(name, "duration or days", func(s string) error {
		v, err := parseDays(s)
		*p = v
		return err
	})
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return 0, fmt.Errorf("%q: not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func durVar(fs *flag.FlagSet, errs *[]error, p *time.Duration, name, def string) {
	d, err := time.ParseDuration(def)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a positive duration", name, def))
	}
	*p = d
	fs.Func(name, "duration", func(s string) error {
		v, err := time.ParseDuration(s)
		*p = v
		return err
	})
}
