// Package events is the in-process event bus and the per-street event log.
//
// Services publish what happened; the log gives each street's events an
// increasing sequence number, keeps them in the database (bounded by count
// and age) so a client can resume after a restart, and hands them to the
// subscribers (the realtime hub, the push outbox) in that order. Services do
// not know who listens.
//
// Several processes may share the database: the log in it stays the record,
// and a Wire (NATS) tells every process's live subscribers what any of them
// published, each street in order with no gap and no duplicate (follow.go).
package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Type names what happened.
type Type string

// The event types. Frames carry them as-is.
const (
	PostCreated     Type = "post.created"
	PostUpdated     Type = "post.updated"
	PostRemoved     Type = "post.removed"
	ReplyCreated    Type = "reply.created"
	MemberRequested Type = "member.requested"
	MemberJoined    Type = "member.joined"
	MemberApproved  Type = "member.approved"
	MemberRejected  Type = "member.rejected"
	MemberBanned    Type = "member.banned"
	MemberUnbanned  Type = "member.unbanned"
	MemberLeft      Type = "member.left"
	MemberRole      Type = "member.role"
	ReportCreated   Type = "report.created"
	StreetUpdated   Type = "street.updated"
	// ReplyRemoved: a moderator took a reply down (Data ReplyData without
	// the body, SubjectID = the reply's author).
	ReplyRemoved Type = "reply.removed"
	// ReportResolved: an admin resolved a report (Audience Admins, Data
	// ReportData with Status and Action).
	ReportResolved Type = "report.resolved"
	// EventCreated, EventUpdated, EventCancelled: a street's gathering
	// (internal/activities; Data activities.EventData).
	EventCreated   Type = "event.created"
	EventUpdated   Type = "event.updated"
	EventCancelled Type = "event.cancelled"
)

// Audience says which members of the street may see an event.
type Audience string

// Audiences.
const (
	// Members: every active member.
	Members Audience = ""
	// Admins: only the street's admins (join requests, reports).
	Admins Audience = "admins"
)

// Event is one thing that happened in a street.
type Event struct {
	// Seq increases by one per event within a street; ID is its decimal form.
	Seq      int64
	Type     Type
	StreetID string
	At       time.Time
	Audience Audience
	// Data is the payload members see: one of the *Data types below. It must
	// never hold private fields (emails, phones).
	Data any
	// Payload is Data as JSON, set by the log.
	Payload json.RawMessage
	// ActorID is who caused it; SubjectID the user it is about (a banned or
	// approved member, a post's author). Never sent to clients.
	ActorID   string
	SubjectID string
}

// ID is the event's id as clients see it.
func (e Event) ID() string { return strconv.FormatInt(e.Seq, 10) }

// personalPrefix starts the log key of a user's own channel (/me/ws):
// their private conversations use the streets' log, order and resume.
const personalPrefix = "me-"

// Personal is the log key of userID's own live channel.
func Personal(userID string) string { return personalPrefix + userID }

// IsPersonal tells whether a log key is a user's own channel, and whose.
func IsPersonal(key string) (userID string, ok bool) {
	if !strings.HasPrefix(key, personalPrefix) {
		return "", false
	}
	return key[len(personalPrefix):], true
}

// Frame is the JSON a client receives for an event.
type Frame struct {
	ID   string `json:"id"`
	Type Type   `json:"type"`
	// StreetID is empty on a user's own channel.
	StreetID string          `json:"street_id,omitempty"`
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

// Frame returns the client frame of e.
func (e Event) Frame() Frame {
	sid := e.StreetID
	if _, ok := IsPersonal(sid); ok {
		sid = ""
	}
	return Frame{ID: e.ID(), Type: e.Type, StreetID: sid, At: e.At, Data: e.Payload}
}

// PostData describes a post in post.* events.
type PostData struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Category   string    `json:"category"`
	Title      string    `json:"title"`
	Body       string    `json:"body,omitempty"`
	Status     string    `json:"status"`
	Pinned     bool      `json:"pinned"`
	AuthorID   string    `json:"author_id"`
	AuthorName string    `json:"author_name"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Urgent     bool      `json:"urgent,omitempty"`
	// AuthorDeleted says the author deleted their account: AuthorName is
	// empty and the PWA shows a "deleted neighbour" in its language.
	AuthorDeleted bool `json:"author_deleted,omitempty"`
	// Photos are the post's images, as its own page has them.
	Photos []Photo `json:"photos,omitempty"`
}

// Photo is an image as members see it (on a post, a reply or a street's
// event): in answers and in live frames alike.
type Photo struct {
	ID       string `json:"id"`
	Alt      string `json:"alt"`
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// ReplyData describes a reply in reply.created events.
type ReplyData struct {
	ID           string    `json:"id"`
	PostID       string    `json:"post_id"`
	PostTitle    string    `json:"post_title"`
	PostAuthorID string    `json:"post_author_id"`
	AuthorID     string    `json:"author_id"`
	AuthorName   string    `json:"author_name"`
	Body         string    `json:"body"`
	CreatedAt    time.Time `json:"created_at"`
	// Photos are the reply's image, if any (a list, as on posts).
	Photos []Photo `json:"photos,omitempty"`
}

// MemberData describes a membership change in member.* events.
type MemberData struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

// ReportData describes a report in report.created events (admins only).
type ReportData struct {
	ID       string `json:"id"`
	Target   string `json:"target"`
	TargetID string `json:"target_id"`
	Reason   string `json:"reason"`
	// Status and Action are set on report.resolved.
	Status string `json:"status,omitempty"`
	Action string `json:"action,omitempty"`
}

// StreetData describes a street in street.* events.
type StreetData struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}
