// Package notices is what Civico tells by email: a reply to one's post,
// for someone no push device of theirs can tell, and the street digest of
// new requests and offers. It owns the email settings of each user and
// the one-click unsubscribe links every such mail carries; the mails
// themselves go through the mail outbox, which sends each one once.
//
// Everything is read by _id or through the street's own journal (see
// posts.Recent): a reply costs a few lookups on the publisher's goroutine,
// and a digest run reads each street's new posts once and its members'
// accounts with one call, whatever the size of the database.
package notices

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/idle"
	"civico/internal/posts"
	"civico/internal/store"
)

// outbox queues mails durably; a second Queue with one ID sends nothing
// more (mail.Service).
type outbox interface {
	Queue(ctx context.Context, m Mail) error
	// Queued tells whether the mail id was queued already.
	Queued(ctx context.Context, id string) (bool, error)
}

// accounts reads accounts (auth.Service): email, name, locale, time zone
// and whether the address is verified; deleted ones are missing.
type accounts interface {
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// devices tells whether a user has a push device (push.Service): a reply
// goes by mail only to someone no device can tell.
type devices interface {
	HasDevices(ctx context.Context, userID string) (bool, error)
}

// quiet tells when a non-urgent notice made at now may reach the user
// (push.Service): now, or a zero time, outside their quiet hours.
type quiet interface {
	QuietUntil(ctx context.Context, userID string, now time.Time) (time.Time, error)
}

// directory is what the digests ask of the streets (streets.Service).
type directory interface {
	StreetIDs(ctx context.Context) ([]string, error)
	ActiveMemberIDs(ctx context.Context, streetID string) ([]string, error)
	StreetName(ctx context.Context, streetID string) (string, error)
}

// feed reads a street's new open and matched posts, newest first
// (posts.Service).
type feed interface {
	Recent(ctx context.Context, streetID string, since time.Time, limit int) ([]posts.Post, error)
}

// Options configure the service.
type Options struct {
	// PublicURL is where links in mails point (no trailing slash needed).
	PublicURL string
	// Secret signs the unsubscribe links (HMAC-SHA256); empty takes the
	// key kept in the database under "unsubscribe_secret", the same for
	// every process and across restarts.
	Secret []byte
	// Logger, nil for none.
	Logger *slog.Logger
	// Foreground, when set, is waited for (briefly) before each digest is
	// written: a run of thousands is background work, and the street's
	// live sockets and people's requests go first.
	Foreground *idle.Gate
}

// ErrBadUnsubscribe is the answer to an unsubscribe link that was altered,
// cut short, or is not ours.
var ErrBadUnsubscribe = fault.New(fault.BadRequest, "invalid_unsubscribe_token", "this unsubscribe link is not valid")

// Service is the email notices.
type Service struct {
	settings *store.Collection
	clock    clock.Clock
	out      outbox
	acc      accounts
	dev      devices
	quiet    quiet
	dir      directory
	feed     feed
	public   string
	secret   []byte
	log      *slog.Logger
	// foreground goes first: see Options.Foreground.
	foreground *idle.Gate
}

// settingsCollection holds one document per user who chose something or
// was sent a digest (settings.go).
const settingsCollection = "notice_settings"

// Indexes are this package's indexes: none, every read is by _id.
func Indexes() []store.Index { return nil }

// New returns the service. dev and quiet may be nil (no push: every reply
// may go by mail, at once).
func New(ctx context.Context, st *store.Store, c clock.Clock, out outbox, acc accounts, dev devices, q quiet, dir directory,
	f feed, opts Options) (*Service, error) {
	if out == nil || acc == nil || dir == nil || f == nil {
		return nil, errors.New("notices: outbox, accounts, directory and feed are required")
	}
	secret := append([]byte(nil), opts.Secret...)
	if len(secret) == 0 {
		var err error
		if secret, err = storedSecret(ctx, st); err != nil {
			return nil, err
		}
	}
	if len(secret) < 16 {
		return nil, errors.New("notices: the unsubscribe secret must have at least 16 bytes")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{settings: st.Collection(settingsCollection), clock: c, out: out, acc: acc, dev: dev, quiet: q, dir: dir,
		feed: f, public: strings.TrimRight(opts.PublicURL, "/"), secret: secret, log: log,
		foreground: opts.Foreground}, nil
}

// link is an address in the PWA (path starts with "/").
func (s *Service) link(path string) string { return s.public + path }
