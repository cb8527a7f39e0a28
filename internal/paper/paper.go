// Package paper puts the street on paper: an A4 board of the street's
// open requests and offers for the door of a building or a desk's window,
// an invitation flyer in two A5 halves, and the QR codes of the invite
// links. It is for the neighbour who never opens an app: they read what
// the street needs and answer through a desk or an admin they know.
//
// Nothing private reaches a sheet: authors print as first name and
// initial, never with contacts or replies, and a member may choose never
// to appear on paper (auth.Account.OnPaper). Rendering is pure (render.go,
// qr.go); the Service decides who may print what and gathers the data.
package paper

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/streets"
)

// Streets is what the package needs from the streets service.
type Streets interface {
	RequireAdmin(ctx context.Context, streetID, userID string) (streets.Member, error)
	AdminIDs(ctx context.Context, streetID string) ([]string, error)
	Listing(ctx context.Context, streetID string) (streets.Listing, error)
	Invites(ctx context.Context, p auth.Principal, streetID string) ([]streets.Invite, error)
}

// Posts gives the street's recent posts, newest first (posts.Service).
type Posts interface {
	Recent(ctx context.Context, streetID string, since time.Time, limit int) ([]posts.Post, error)
}

// Accounts gives names, languages, time zones and the on-paper choice
// (auth.Service).
type Accounts interface {
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Links lists the Portinaio associations linked to a street (handoff.Service).
type Links interface {
	LinkedAssociations(ctx context.Context, streetID string) ([]string, error)
}

// Desks tells a person's role in an association and its desk
// (portineria.Service).
type Desks interface {
	RoleOf(ctx context.Context, aid, userID string) (portineria.Role, error)
	Lookup(ctx context.Context, aid string) (portineria.Association, error)
}

// Options tune the service.
type Options struct {
	// PublicURL is the app's origin; the QR codes and links point into it.
	PublicURL string
	Clock     clock.Clock
}

// What a board reads.
const (
	// BoardWindow is how far back the board looks: posts expire after 30
	// days, and a renewed one keeps its first date.
	BoardWindow = 90 * 24 * time.Hour
	// boardRead bounds the posts read for one board; beyond it the count
	// of what did not fit stops growing.
	boardRead = 500
	// DefaultTimeZone is the dates' zone when the printing account has none.
	DefaultTimeZone = "Europe/Rome"
)

// Service prints the street's board and its invitation flyers.
type Service struct {
	streets  Streets
	posts    Posts
	accounts Accounts
	links    Links
	desks    Desks
	public   string
	clock    clock.Clock
}

// New returns the service.
func New(sts Streets, ps Posts, accounts Accounts, links Links, desks Desks, opts Options) *Service {
	c := opts.Clock
	if c == nil {
		c = clock.System{}
	}
	return &Service{streets: sts, posts: ps, accounts: accounts, links: links, desks: desks,
		public: strings.TrimRight(opts.PublicURL, "/"), clock: c}
}

// JoinURL is the street's join page, where the board's QR code leads.
func (s *Service) JoinURL(streetID string) string {
	return s.public + streets.JoinPath(streetID)
}

// InviteURL is an invite's link, as the admin screen shows it.
func (s *Service) InviteURL(streetID, code string) string {
	return s.public + streets.InvitePath(streetID, code)
}

// BoardPDF prints the street's board for an active admin of the street or
// a volunteer (any staff role) of an association linked to it; anyone else
// gets streets.ErrStreetNotFound, a plain member too, so that the answer
// tells a stranger nothing. lang "" prints in the caller's language.
func (s *Service) BoardPDF(ctx context.Context, p auth.Principal, streetID, lang string) ([]byte, error) {
	aids, err := s.mayPrintBoard(ctx, p, streetID)
	if err != nil {
		return nil, err
	}
	b, err := s.board(ctx, p, streetID, aids, lang)
	if err != nil {
		return nil, err
	}
	return RenderBoard(b)
}

// mayPrintBoard checks the caller once, at the entry, and returns the
// associations linked to the street (their desks go on the board).
func (s *Service) mayPrintBoard(ctx context.Context, p auth.Principal, streetID string) ([]string, error) {
	_, adminErr := s.streets.RequireAdmin(ctx, streetID, p.UserID)
	if adminErr != nil && !hidden(adminErr) {
		return nil, adminErr
	}
	aids, err := s.links.LinkedAssociations(ctx, streetID)
	if err != nil {
		return nil, err
	}
	if adminErr == nil {
		return aids, nil
	}
	for _, aid := range aids {
		role, err := s.desks.RoleOf(ctx, aid, p.UserID)
		if errors.Is(err, portineria.ErrAssociationNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if role != "" {
			return aids, nil
		}
	}
	return nil, streets.ErrStreetNotFound
}

// hidden tells the refusals that become "no such street": not a member,
// not an admin.
func hidden(err error) bool {
	return errors.Is(err, streets.ErrStreetNotFound) || errors.Is(err, streets.ErrNotAdmin)
}

// board gathers what the board prints. The posts come with their authors'
// accounts: one who chose never to appear on paper is left out with their
// posts. A post written by a desk for a roster member is the volunteer's
// (they are its author, and their choice counts) and prints the member's
// short name, as the app shows it.
func (s *Service) board(ctx context.Context, p auth.Principal, streetID string, aids []string, lang string) (Board, error) {
	listing, err := s.streets.Listing(ctx, streetID)
	if err != nil {
		return Board{}, err
	}
	adminIDs, err := s.streets.AdminIDs(ctx, streetID)
	if err != nil {
		return Board{}, err
	}
	now := s.clock.Now()
	recent, err := s.posts.Recent(ctx, streetID, now.Add(-BoardWindow), boardRead)
	if err != nil {
		return Board{}, err
	}
	ids := append([]string{p.UserID}, adminIDs...)
	for _, post := range recent {
		ids = append(ids, post.AuthorID)
	}
	slices.Sort(ids)
	accs, err := s.accounts.Users(ctx, slices.Compact(ids))
	if err != nil {
		return Board{}, err
	}
	me := accs[p.UserID]
	tz := me.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	b := Board{Street: listing.Name, City: listing.City, Locale: pickLocale(lang, me.Locale), TimeZone: tz,
		JoinURL: s.JoinURL(streetID), PrintedAt: now, Items: []BoardItem{}}
	for _, post := range recent {
		author, ok := accs[post.AuthorID]
		if post.Status != posts.StatusOpen || post.AuthorDeleted || !ok || !author.OnPaper {
			continue
		}
		name := post.AuthorName
		if name == "" {
			name = author.Name
		}
		if post.OnBehalf != nil && post.OnBehalf.MemberName != "" {
			name = post.OnBehalf.MemberName
		}
		b.Items = append(b.Items, BoardItem{Title: post.Title, Category: post.Category, Kind: post.Kind,
			Author: ShortName(name), Date: post.CreatedAt})
	}
	for _, id := range adminIDs {
		if a, ok := accs[id]; ok && a.Name != "" {
			b.Admins = append(b.Admins, FirstName(a.Name))
		}
	}
	for _, aid := range aids {
		if len(b.Desks) == maxDesks {
			break
		}
		a, err := s.desks.Lookup(ctx, aid)
		if errors.Is(err, portineria.ErrAssociationNotFound) {
			continue
		}
		if err != nil {
			return Board{}, err
		}
		d := Desk{Association: a.Name, Phone: a.Desk.Phone, Hours: a.Desk.Hours, Address: a.Desk.Address}
		if d.Phone != "" || d.Hours != "" || d.Address != "" {
			b.Desks = append(b.Desks, d)
		}
	}
	return b, nil
}

// FlyerPDF prints the invitation flyer of one of the street's open
// invites, for its admins; anyone else gets streets.ErrStreetNotFound, an
// unknown, expired or revoked code streets.ErrInviteNotFound. lang ""
// prints in the caller's language.
func (s *Service) FlyerPDF(ctx context.Context, p auth.Principal, streetID, code, lang string) ([]byte, error) {
	if err := s.openInvite(ctx, p, streetID, code); err != nil {
		return nil, err
	}
	listing, err := s.streets.Listing(ctx, streetID)
	if err != nil {
		return nil, err
	}
	locale, ok := knownLocale(lang)
	if !ok {
		accs, err := s.accounts.Users(ctx, []string{p.UserID})
		if err != nil {
			return nil, err
		}
		locale = pickLocale(accs[p.UserID].Locale, "")
	}
	return RenderFlyer(Flyer{Street: listing.Name, City: listing.City, Locale: locale, InviteURL: s.InviteURL(streetID, code)})
}

// InviteQR draws the QR code of one of the street's open invites as a PNG
// (QRPNG), for sharing in a chat; the same rules as FlyerPDF.
func (s *Service) InviteQR(ctx context.Context, p auth.Principal, streetID, code string, size int) ([]byte, error) {
	if err := s.openInvite(ctx, p, streetID, code); err != nil {
		return nil, err
	}
	return QRPNG(s.InviteURL(streetID, code), size)
}

// openInvite checks that the caller administers the street and that code
// is one of its open invites.
func (s *Service) openInvite(ctx context.Context, p auth.Principal, streetID, code string) error {
	invites, err := s.streets.Invites(ctx, p, streetID)
	if hidden(err) {
		return streets.ErrStreetNotFound
	}
	if err != nil {
		return err
	}
	for _, inv := range invites {
		if code != "" && inv.Code == code {
			return nil
		}
	}
	return streets.ErrInviteNotFound
}
