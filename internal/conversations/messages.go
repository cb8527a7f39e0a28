package conversations

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The live events of a user's own channel.
const (
	// MessageCreated: a message of one of the user's conversations (Data MessageData).
	MessageCreated events.Type = "message.created"
	// ConversationRead: the user read a conversation on some device (Data ReadData).
	ConversationRead events.Type = "conversation.read"
)

// MessageData is the frame of a message on a user's own channel.
type MessageData struct {
	ConversationID string  `json:"conversation_id"`
	Message        Message `json:"message"`
}

// ReadData is the frame of a conversation read.
type ReadData struct {
	ConversationID string `json:"conversation_id"`
}

// NewConversation is what starts (or continues) a conversation.
type NewConversation struct {
	UserID   string
	StreetID string
	PostID   string
	Body     string
}

// checkBody cleans a message's text.
func checkBody(f fault.Fields, body string) string {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		f.Add("body", "required")
	case !utf8.ValidString(body):
		f.Add("body", "invalid")
	case utf8.RuneCountInString(body) > MaxBody:
		f.Add("body", "too_long")
	}
	return body
}

// Start writes to another member of a street the caller belongs to: their
// existing conversation if there is one, else a new one (bounded per day).
func (s *Service) Start(ctx context.Context, p auth.Principal, in NewConversation) (Conversation, Message, error) {
	f := fault.Fields{}
	uid, ok := store.ID(in.UserID)
	f.Check(in.UserID == "", "user_id", "required")
	f.Check(in.UserID != "" && !ok, "user_id", "invalid")
	f.Check(ok && uid.Hex() == p.UserID, "user_id", "self")
	sid, ok := store.ID(in.StreetID)
	f.Check(in.StreetID == "", "street_id", "required")
	f.Check(in.StreetID != "" && !ok, "street_id", "invalid")
	if in.PostID != "" {
		_, ok := store.ID(in.PostID)
		f.Check(!ok, "post_id", "invalid")
	}
	body := checkBody(f, in.Body)
	if err := f.Err(); err != nil {
		return Conversation{}, Message{}, err
	}
	other, street := uid.Hex(), sid.Hex()
	if !s.active(ctx, street, p.UserID) {
		return Conversation{}, Message{}, streetsNotFound
	}
	if !s.active(ctx, street, other) {
		return Conversation{}, Message{}, ErrUserNotFound
	}
	var title, postID string
	if in.PostID != "" {
		r, err := s.deps.Posts.Record(ctx, in.PostID)
		if err != nil || r.StreetID != street {
			return Conversation{}, Message{}, fault.Validation("post_id", "invalid")
		}
		postID, title = r.ID, r.Title
	}
	// A new conversation takes one of the caller's start slots: the limit
	// counts those they started in 24 hours that nobody answered.
	d, err := s.open(ctx, p.UserID, other, street, postID, title)
	if err != nil {
		return Conversation{}, Message{}, err
	}
	m, err := s.send(ctx, p.UserID, d, body)
	if err != nil {
		return Conversation{}, Message{}, err
	}
	c, err := s.Get(ctx, p, d.ID.Hex())
	return c, m, err
}

// streetsNotFound is what a non-member learns of a street.
var streetsNotFound = fault.New(fault.NotFound, "street_not_found", "street not found")

// open returns the conversation of a and b, creating it if needed, once
// allowed says so.
func (s *Service) open(ctx context.Context, a, b, street, postID, title string) (convDoc, error) {
	key := pairID(a, b)
	for attempt := 0; attempt < 3; attempt++ {
		var pair struct {
			CID bson.ObjectID `bson:"cid"`
		}
		err := s.pairs.FindOne(ctx, bson.M{"_id": key}, &pair)
		if err == nil {
			var d convDoc
			err = s.convs.FindOne(ctx, bson.M{"_id": pair.CID}, &d)
			if err == nil {
				return d, nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return convDoc{}, err
			}
			// The pair was claimed but its conversation not written (a
			// crash in between): write it now, under the claimed id.
			return s.create(ctx, pair.CID, a, b, street, postID, title)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return convDoc{}, err
		}
		cid := bson.NewObjectID()
		if err := s.takeStart(ctx, a, cid); err != nil {
			return convDoc{}, err
		}
		if _, err := s.pairs.InsertOne(ctx, bson.M{"_id": key, "cid": cid}); err != nil {
			s.releaseStart(context.WithoutCancel(ctx), a, cid)
			if store.IsDuplicate(err) {
				continue // the other wrote first at the same time: theirs
			}
			return convDoc{}, err
		}
		return s.create(ctx, cid, a, b, street, postID, title)
	}
	return convDoc{}, errors.New("conversations: pair keeps changing")
}

func (s *Service) create(ctx context.Context, cid bson.ObjectID, a, b, street, postID, title string) (convDoc, error) {
	users := []string{a, b}
	if a > b {
		users = []string{b, a}
	}
	now := s.now()
	d := convDoc{ID: cid, Users: users, StreetID: street, PostID: postID, PostTitle: title, StartedBy: a, CreatedAt: now,
		View: map[string]viewDoc{a: {Pos: -1, LastAt: now}, b: {Pos: -1, LastAt: now}}}
	if _, err := s.convs.InsertOne(ctx, d); err != nil {
		if !store.IsDuplicate(err) {
			return convDoc{}, err
		}
		if err := s.convs.FindOne(ctx, bson.M{"_id": cid}, &d); err != nil {
			return convDoc{}, err
		}
	}
	// The starter's inbox lists it at once; the other's with the first
	// message they see.
	return d, s.list(ctx, d, a)
}

// list puts the conversation in userID's inbox, once. The flag is set after
// the append: a crash in between appends it again, which the inbox
// ignores (it keeps the first).
func (s *Service) list(ctx context.Context, d convDoc, userID string) error {
	if d.View[userID].Listed {
		return nil
	}
	if _, err := s.inboxes.Append(ctx, inboxKey(userID), d.ID.Hex()); err != nil {
		return err
	}
	_, err := s.convs.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": bson.M{"view." + userID + ".listed": true}})
	return err
}

// Send writes a message in a conversation the caller is one of.
func (s *Service) Send(ctx context.Context, p auth.Principal, cid, body string) (Message, error) {
	f := fault.Fields{}
	body = checkBody(f, body)
	d, err := s.load(ctx, p.UserID, cid)
	if err != nil {
		return Message{}, err
	}
	if err := f.Err(); err != nil {
		return Message{}, err
	}
	return s.send(ctx, p.UserID, d, body)
}

// send appends a message, after the checks every message passes: the two
// still share a street, and the author did not block the other.
func (s *Service) send(ctx context.Context, author string, d convDoc, body string) (Message, error) {
	other := d.other(author)
	street, err := s.shared(ctx, author, other, d.StreetID)
	if err != nil {
		return Message{}, err
	}
	if street == "" {
		return Message{}, ErrClosed
	}
	iBlocked, err := s.blocked(ctx, author, other)
	if err != nil {
		return Message{}, err
	}
	if iBlocked {
		return Message{}, ErrYouBlocked
	}
	theyBlocked, err := s.blocked(ctx, other, author)
	if err != nil {
		return Message{}, err
	}
	now := s.now()
	it := messageItem{ID: bson.NewObjectID().Hex(), AuthorID: author, Body: body, At: now}
	if theyBlocked {
		it.HiddenFrom = other
	}
	pos, err := s.messages.Append(ctx, messagesKey(d.ID.Hex()), it)
	if err != nil {
		return Message{}, err
	}
	if _, err := s.refs.InsertOne(ctx, refDoc{ID: it.ID, CID: d.ID.Hex(), Pos: pos}); err != nil {
		// The message stands; only a report naming it would miss it.
		s.log.Warn("conversations: message ref not written", "err", err)
	}
	preview := previewOf(body)
	s.seen(ctx, d.ID, author, pos, now, preview, true)
	if !theyBlocked {
		if _, err := s.convs.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$inc": bson.M{"view." + other + ".in": 1}}); err != nil {
			return Message{}, err
		}
		s.seen(ctx, d.ID, other, pos, now, preview, false)
		if err := s.list(ctx, d, other); err != nil {
			return Message{}, err
		}
		if author != d.StartedBy && !d.Answered {
			if _, err := s.convs.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": bson.M{"answered": true}}); err != nil {
				return Message{}, err
			}
		}
	}
	m := it.view(d.ID.Hex(), author)
	s.announce(ctx, author, m)
	if !theyBlocked {
		s.announce(ctx, other, it.view(d.ID.Hex(), other))
		s.notify(ctx, other, author, d, m)
	}
	return m, nil
}

// seen moves userID's last message forward to pos; a later message written
// concurrently keeps its place (the filter).
func (s *Service) seen(ctx context.Context, cid bson.ObjectID, userID string, pos int64, at time.Time, preview string, mine bool) {
	v := "view." + userID + "."
	_, err := s.convs.UpdateOne(ctx, bson.M{"_id": cid, v + "pos": bson.M{"$lt": pos}},
		bson.M{"$set": bson.M{v + "pos": pos, v + "last_at": at, v + "last_body": preview, v + "last_mine": mine}})
	if err != nil {
		s.log.Warn("conversations: inbox preview not updated", "err", err)
	}
}

func previewOf(body string) string {
	body = strings.Join(strings.Fields(body), " ")
	if utf8.RuneCountInString(body) <= Preview {
		return body
	}
	r := []rune(body)
	return string(r[:Preview-1]) + "…"
}

func (it messageItem) view(cid, viewer string) Message {
	return Message{ID: it.ID, ConversationID: cid, AuthorID: it.AuthorID, Mine: it.AuthorID == viewer, Body: it.Body, At: it.At.UTC()}
}

// Channel is the id of userID's own live channel in the event log.
func Channel(userID string) string { return events.Personal(userID) }

// announce publishes the message on userID's own channel. The message is
// stored already: a lost frame is found again by the inbox.
func (s *Service) announce(ctx context.Context, userID string, m Message) {
	if s.deps.Channels == nil {
		return
	}
	_, err := s.deps.Channels.Publish(ctx, events.Event{Type: MessageCreated, StreetID: Channel(userID), ActorID: m.AuthorID,
		SubjectID: userID, Data: MessageData{ConversationID: m.ConversationID, Message: m}})
	if err != nil {
		s.log.Warn("conversations: live frame not published", "err", err)
	}
}

// Get returns one conversation as the caller sees it.
func (s *Service) Get(ctx context.Context, p auth.Principal, cid string) (Conversation, error) {
	d, err := s.load(ctx, p.UserID, cid)
	if err != nil {
		return Conversation{}, err
	}
	cs, err := s.views(ctx, p.UserID, []convDoc{d})
	if err != nil {
		return Conversation{}, err
	}
	return cs[0], nil
}

// views renders conversations for userID: names, open, blocked.
func (s *Service) views(ctx context.Context, userID string, docs []convDoc) ([]Conversation, error) {
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.other(userID))
	}
	accs, err := s.deps.Accounts.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	blocked, err := s.blockList(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Conversation, 0, len(docs))
	for _, d := range docs {
		o := d.other(userID)
		v := d.View[userID]
		c := Conversation{ID: d.ID.Hex(), StreetID: d.StreetID, PostID: d.PostID, PostTitle: d.PostTitle,
			With: Peer{ID: o}, LastAt: v.LastAt.UTC(), Unread: max(v.In-v.Read, 0), Blocked: blocked[o]}
		if a, ok := accs[o]; ok {
			c.With.Name = a.Name
		} else {
			c.With.Deleted = true
		}
		if v.Pos >= 0 {
			c.LastMessage = &Last{Body: v.LastBody, Mine: v.LastMine}
		}
		if !c.With.Deleted {
			street, err := s.shared(ctx, userID, o, d.StreetID)
			if err != nil {
				return nil, err
			}
			c.Open = street != ""
		}
		out = append(out, c)
	}
	return out, nil
}

// inbox reads userID's conversations (the most recent maxInbox).
func (s *Service) inbox(ctx context.Context, userID string) ([]convDoc, error) {
	key := inboxKey(userID)
	n, err := s.inboxes.Len(ctx, key)
	if err != nil {
		return nil, err
	}
	ids, err := s.inboxes.Range(ctx, key, max(n-maxInbox, 0), n)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]convDoc, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		oid, ok := store.ID(id)
		if !ok {
			continue
		}
		var d convDoc
		err := s.convs.FindOne(ctx, bson.M{"_id": oid}, &d)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.has(userID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Inbox is a page of the caller's conversations, latest activity first,
// and how many messages they have not read in all.
type Inbox struct {
	Items       []Conversation
	NextCursor  string
	UnreadTotal int64
}

// List returns a page of the caller's inbox.
func (s *Service) List(ctx context.Context, p auth.Principal, after string, limit int) (Inbox, error) {
	limit = cursor.Limit(limit, DefaultLimit)
	var fromAt int64
	var fromID string
	if after != "" {
		var err error
		if fromAt, fromID, err = decodeInbox(s.cursors, after, p.UserID); err != nil {
			return Inbox{}, err
		}
	}
	docs, err := s.inbox(ctx, p.UserID)
	if err != nil {
		return Inbox{}, err
	}
	var total int64
	for _, d := range docs {
		v := d.View[p.UserID]
		total += max(v.In-v.Read, 0)
	}
	at := func(d convDoc) int64 { return d.View[p.UserID].LastAt.UnixMilli() }
	sortDocs(docs, at)
	page := make([]convDoc, 0, limit+1)
	for _, d := range docs {
		if after != "" && (at(d) > fromAt || (at(d) == fromAt && d.ID.Hex() >= fromID)) {
			continue
		}
		page = append(page, d)
		if len(page) > limit {
			break
		}
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = s.cursors.Encode("inbox:"+p.UserID, strconv.FormatInt(at(last), 10), last.ID.Hex())
	}
	items, err := s.views(ctx, p.UserID, page)
	if err != nil {
		return Inbox{}, err
	}
	return Inbox{Items: items, NextCursor: next, UnreadTotal: total}, nil
}

// decodeInbox reads an inbox cursor: the last conversation's time (ms) and
// id, for this user's inbox only.
func decodeInbox(cs *cursor.Signer, raw, userID string) (int64, string, error) {
	f, ok := cs.Decode(raw, 3)
	if !ok || f[0] != "inbox:"+userID {
		return 0, "", ErrBadCursor
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	if _, ok := store.ID(f[2]); !ok {
		return 0, "", ErrBadCursor
	}
	return n, f[2], nil
}

// decodeMessages reads a messages cursor: the position to read before, in
// this conversation, within its length.
func decodeMessages(cs *cursor.Signer, raw, cid string, length int64) (int64, error) {
	f, ok := cs.Decode(raw, 2)
	if !ok || f[0] != "msg:"+cid {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 || n > length {
		return 0, ErrBadCursor
	}
	return n, nil
}

// sortDocs orders by at descending, then id descending.
func sortDocs(docs []convDoc, at func(convDoc) int64) {
	for i := 1; i < len(docs); i++ {
		for j := i; j > 0; j-- {
			a, b := docs[j-1], docs[j]
			if at(a) > at(b) || (at(a) == at(b) && a.ID.Hex() > b.ID.Hex()) {
				break
			}
			docs[j-1], docs[j] = b, a
		}
	}
}

// Messages returns a page of a conversation's messages, newest first.
func (s *Service) Messages(ctx context.Context, p auth.Principal, cid, after string, limit int) ([]Message, string, error) {
	d, err := s.load(ctx, p.UserID, cid)
	if err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, DefaultLimit)
	key := messagesKey(d.ID.Hex())
	end, err := s.messages.Len(ctx, key)
	if err != nil {
		return nil, "", err
	}
	if after != "" {
		if end, err = decodeMessages(s.cursors, after, d.ID.Hex(), end); err != nil {
			return nil, "", err
		}
	}
	out := []Message{}
	for end > 0 && len(out) < limit {
		from := max(end-int64(limit), 0)
		items, err := s.messages.Range(ctx, key, from, end)
		if err != nil {
			return nil, "", err
		}
		for i := len(items) - 1; i >= 0 && len(out) < limit; i-- {
			end = from + int64(i)
			if items[i].HiddenFrom == p.UserID {
				continue
			}
			out = append(out, items[i].view(d.ID.Hex(), p.UserID))
		}
		if len(out) < limit {
			end = from
		}
	}
	next := ""
	if end > 0 {
		next = s.cursors.Encode("msg:"+d.ID.Hex(), strconv.FormatInt(end, 10))
	}
	return out, next, nil
}

// Read marks everything the caller received in the conversation as read.
func (s *Service) Read(ctx context.Context, p auth.Principal, cid string) error {
	d, err := s.load(ctx, p.UserID, cid)
	if err != nil {
		return err
	}
	v := d.View[p.UserID]
	if v.Read >= v.In {
		return nil
	}
	// $max: a read racing a newer read never moves it back.
	if _, err := s.convs.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$max": bson.M{"view." + p.UserID + ".read": v.In}}); err != nil {
		return err
	}
	if s.deps.Channels != nil {
		_, err := s.deps.Channels.Publish(ctx, events.Event{Type: ConversationRead, StreetID: Channel(p.UserID), ActorID: p.UserID,
			SubjectID: p.UserID, Data: ReadData{ConversationID: d.ID.Hex()}})
		if err != nil {
			s.log.Warn("conversations: read frame not published", "err", err)
		}
	}
	return nil
}
