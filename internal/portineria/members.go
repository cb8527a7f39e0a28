package portineria

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Card statuses of a member for a year.
const (
	StatusActive    = "active"     // that year's fees, net of reversals and refunds, reach the yearly fee
	StatusLapsed    = "lapsed"     // on the roster by the end of that year, but not active
	StatusNotJoined = "not_joined" // joined after that year
)

type member struct {
	ID            bson.ObjectID `bson:"_id"`
	AssociationID bson.ObjectID `bson:"association_id"`
	Number        int64         `bson:"number"`
	FullName      string        `bson:"full_name"`
	Search        string        `bson:"search"`
	Phone         string        `bson:"phone"`
	Email         string        `bson:"email"`
	Address       string        `bson:"address"`
	Skills        []string      `bson:"skills"`
	SkillKeys     []string      `bson:"skill_keys"`
	Notes         string        `bson:"notes"`
	UserID        string        `bson:"user_id"`
	InDirectory   bool          `bson:"in_directory"`
	JoinedOn      string        `bson:"joined_on"`
	Erased        bool          `bson:"erased"`
	CreatedBy     string        `bson:"created_by"`
	CreatedAt     time.Time     `bson:"created_at"`
	UpdatedBy     string        `bson:"updated_by"`
	UpdatedAt     time.Time     `bson:"updated_at"`
}

func (m *member) joinedYear() int {
	y, _ := strconv.Atoi(m.JoinedOn[:min(4, len(m.JoinedOn))])
	return y
}

// displayName is the member's name, or their number once erased.
func (m *member) displayName() string {
	if m.Erased {
		return "#" + strconv.FormatInt(m.Number, 10)
	}
	return m.FullName
}

// link claims an account for one member of an association: its _id is
// association:user, so an account is linked to at most one member of it.
type link struct {
	ID            string        `bson:"_id"`
	AssociationID bson.ObjectID `bson:"association_id"`
	UserID        string        `bson:"user_id"`
	MemberID      bson.ObjectID `bson:"member_id"`
	CreatedAt     time.Time     `bson:"created_at"`
}

func linkID(aid bson.ObjectID, userID string) string { return aid.Hex() + ":" + userID }

// Member is a roster member as the staff sees it, with the card status for Year.
type Member struct {
	ID          string   `json:"id"`
	Number      int64    `json:"number"`
	FullName    string   `json:"full_name"`
	Phone       string   `json:"phone"`
	Email       string   `json:"email"`
	Address     string   `json:"address"`
	Skills      []string `json:"skills"`
	Notes       string   `json:"notes"`
	UserID      string   `json:"user_id,omitempty"`
	InDirectory bool     `json:"in_directory"`
	JoinedOn    string   `json:"joined_on"`
	Erased      bool     `json:"erased,omitempty"`
	// Invitation is the card's open invitation to link an account, on the
	// card itself and on the answers to adding or editing it (not in lists).
	Invitation *Invitation `json:"invitation,omitempty"`
	Year       int         `json:"year"`
	Status     string      `json:"status"`
	PaidCents  int64       `json:"paid_cents"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

func (a *association) status(m *member, year int, paid int64) string {
	switch {
	case paid >= a.feeFor(year):
		return StatusActive
	case m.joinedYear() > year:
		return StatusNotJoined
	}
	return StatusLapsed
}

func (a *association) memberView(m *member, year int, paid int64) Member {
	skills := m.Skills
	if skills == nil {
		skills = []string{}
	}
	return Member{ID: m.ID.Hex(), Number: m.Number, FullName: m.displayName(), Phone: m.Phone, Email: m.Email,
		Address: m.Address, Skills: skills, Notes: m.Notes, UserID: m.UserID, InDirectory: m.InDirectory,
		JoinedOn: m.JoinedOn, Erased: m.Erased, Year: year, Status: a.status(m, year, paid), PaidCents: paid,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

// NewMember is what adding a member takes. Contacts are optional and seen
// only by the staff. AccountEmail, or UserID, invites that person to link
// their Civico account to the card (see InviteMember); a staff member's
// own UserID links their own account at once.
type NewMember struct {
	FullName     string
	Phone        string
	Email        string
	Address      string
	Skills       []string
	Notes        string
	UserID       string
	AccountEmail string
	// InDirectory lists the member's first name and skills for residents
	// (default true: the point of offering a skill is to be found).
	InDirectory *bool
	// JoinedOn (YYYY-MM-DD) backdates a member copied from the paper book;
	// default today.
	JoinedOn string
}

func (s *Service) checkJoinedOn(f fault.Fields, a *association, v string) string {
	today := s.clock.Now().In(a.location()).Format(time.DateOnly)
	if v == "" {
		return today
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil || d.Year() < 1900 || v > today {
		f.Add("joined_on", "invalid")
	}
	return v
}

// AddMember adds a member to the roster with the next membership number.
// The number comes from the association's counter, incremented through the
// store (serialised per _id on the embedded engine, atomic on MongoDB), and
// the unique (association, number) index refuses any repeat: numbers are
// never reused, even when a member is erased.
func (s *Service) AddMember(ctx context.Context, p auth.Principal, aid string, in NewMember) (Member, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Member{}, err
	}
	m := member{ID: bson.NewObjectID(), AssociationID: a.ID, InDirectory: true}
	if in.InDirectory != nil {
		m.InDirectory = *in.InDirectory
	}
	f := fault.Fields{}
	m.FullName = clean(in.FullName)
	checkText(f, "full_name", m.FullName, true, MaxNameLen)
	m.Phone, m.Email, m.Address = clean(in.Phone), normalizeEmail(in.Email), clean(in.Address)
	checkPhone(f, "phone", m.Phone)
	checkEmail(f, "email", m.Email)
	checkText(f, "address", m.Address, false, MaxAddressLen)
	m.Skills, m.SkillKeys = normalizeSkills(f, in.Skills)
	m.Notes = in.Notes
	checkMultiline(f, "notes", m.Notes, MaxNotesLen)
	m.JoinedOn = s.checkJoinedOn(f, &a, in.JoinedOn)
	acct := checkAccount(f, p, in.UserID, in.AccountEmail)
	if err := f.Err(); err != nil {
		return Member{}, err
	}
	if acct.invites() {
		if err := s.allow(ctx, s.inviteLimit, p.UserID, ErrInviteRateLimited); err != nil {
			return Member{}, err
		}
	}
	userID := acct.self
	if userID != "" {
		if _, err := s.claimLink(ctx, a.ID, userID, m.ID); err != nil {
			return Member{}, err
		}
		m.UserID = userID
	}
	inserted := false
	defer func() {
		if !inserted && userID != "" {
			s.releaseLink(context.WithoutCancel(ctx), a.ID, userID, m.ID)
		}
	}()
	var counter struct {
		NextNumber int64 `bson:"next_number"`
	}
	for range 5 {
		if err := s.assocs.FindOneAndUpdate(ctx, bson.M{"_id": a.ID}, bson.M{"$inc": bson.M{"next_number": int64(1)}}, &counter,
			options.FindOneAndUpdate().SetReturnDocument(options.After)); err != nil {
			return Member{}, err
		}
		if counter.NextNumber > MaxMembers {
			return Member{}, ErrRosterFull
		}
		now := s.now()
		m.Number, m.Search = counter.NextNumber, fold(m.FullName)
		m.CreatedBy, m.CreatedAt, m.UpdatedBy, m.UpdatedAt = p.UserID, now, p.UserID, now
		_, err := s.members.InsertOne(ctx, m)
		if err == nil {
			inserted = true
			s.trail(ctx, a.ID, p.UserID, "member.created", auditRef{MemberID: m.ID.Hex(), Detail: "#" + strconv.FormatInt(m.Number, 10)})
			y := a.year(s.clock.Now())
			v := a.memberView(&m, y, 0)
			if acct.invites() {
				inv, err := s.inviteMember(ctx, p, &a, &m, acct.email, acct.userID)
				if err != nil {
					return Member{}, err
				}
				iv := inv.staffView(s.now())
				v.Invitation = &iv
			}
			return v, nil
		}
		// A duplicate number can only come from a counter behind the roster
		// (restored backup): take the next one.
		if !store.IsDuplicate(err) {
			return Member{}, err
		}
	}
	return Member{}, ErrBusy
}

// accountChoice is what a roster write asks about the card's account: link
// the caller's own account at once (self), invite an address (email) or a
// known account (userID), unlink (clear), or nothing.
type accountChoice struct {
	self   string
	email  string
	userID string
	clear  bool
}

func (c accountChoice) invites() bool { return c.email != "" || c.userID != "" }

// checkAccount validates a card's user_id / account_email pair without
// asking anyone whether the account exists: whatever the answer, the
// roster write answers the same.
func checkAccount(f fault.Fields, p auth.Principal, userID, email string) accountChoice {
	email = normalizeEmail(email)
	switch {
	case userID != "" && email != "":
		f.Add("account_email", "conflicts_with_user_id")
	case userID != "":
		if _, ok := store.ID(userID); !ok {
			f.Add("user_id", "invalid")
		} else if userID == p.UserID {
			return accountChoice{self: userID}
		}
		return accountChoice{userID: userID}
	case email != "":
		checkEmail(f, "account_email", email)
		return accountChoice{email: email}
	}
	return accountChoice{}
}

// claimLink reserves userID for memberID in the association. A claim left
// by a link that no longer holds (a crash between two writes) is taken over.
// taken says this call made the claim (false: memberID held it already), so
// only the caller that took it releases it when its own write fails.
func (s *Service) claimLink(ctx context.Context, aid bson.ObjectID, userID string, memberID bson.ObjectID) (taken bool, err error) {
	id := linkID(aid, userID)
	for range 5 {
		_, err := s.links.InsertOne(ctx, link{ID: id, AssociationID: aid, UserID: userID, MemberID: memberID, CreatedAt: s.now()})
		if err == nil {
			return true, nil
		}
		if !store.IsDuplicate(err) {
			return false, err
		}
		var l link
		if err := s.links.FindOne(ctx, bson.M{"_id": id}, &l); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return false, err
		}
		if l.MemberID == memberID {
			return false, nil
		}
		var other member
		err = s.members.FindOne(ctx, bson.M{"_id": l.MemberID}, &other)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		if err == nil && other.UserID == userID {
			return false, ErrAccountLinked
		}
		// Stale claim: move it to this member, unless someone else just did.
		r, err := s.links.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "member_id", Value: l.MemberID}},
			bson.M{"$set": bson.M{"member_id": memberID, "created_at": s.now()}})
		if err != nil {
			return false, err
		}
		if r.MatchedCount == 1 {
			return true, nil
		}
	}
	return false, ErrBusy
}

// releaseLink drops userID's claim if it is still memberID's.
func (s *Service) releaseLink(ctx context.Context, aid bson.ObjectID, userID string, memberID bson.ObjectID) {
	if _, err := s.links.DeleteOne(ctx, bson.D{{Key: "_id", Value: linkID(aid, userID)}, {Key: "member_id", Value: memberID}}); err != nil {
		s.log.Warn("portineria: release account link", "err", err)
	}
}

// loadMember reads a member of a, hiding members of other associations.
func (s *Service) loadMember(ctx context.Context, a *association, mid string) (member, error) {
	oid, ok := store.ID(mid)
	if !ok {
		return member{}, ErrMemberNotFound
	}
	var m member
	if err := s.members.FindOne(ctx, bson.M{"_id": oid}, &m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return member{}, ErrMemberNotFound
		}
		return member{}, err
	}
	if m.AssociationID != a.ID {
		return member{}, ErrMemberNotFound
	}
	return m, nil
}

// GetMember returns one member's card with the status for year (0: this year).
func (s *Service) GetMember(ctx context.Context, p auth.Principal, aid, mid string, year int) (Member, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Member{}, err
	}
	year, err = s.checkYear(&a, year)
	if err != nil {
		return Member{}, err
	}
	m, err := s.loadMember(ctx, &a, mid)
	if err != nil {
		return Member{}, err
	}
	paid, err := s.memberPaid(ctx, a.ID, m.ID.Hex(), year)
	if err != nil {
		return Member{}, err
	}
	v := a.memberView(&m, year, paid)
	if !m.Erased {
		if v.Invitation, err = s.memberInvitation(ctx, a.ID, m.ID.Hex()); err != nil {
			return Member{}, err
		}
	}
	return v, nil
}

// MemberChanges is what editing a member may change; nil fields stay, ""
// clears an optional field. UserID or AccountEmail "" unlinks the account
// (and withdraws an open invitation); another value invites that person
// to link their account (the caller's own UserID links it at once).
type MemberChanges struct {
	FullName     *string
	Phone        *string
	Email        *string
	Address      *string
	Skills       *[]string
	Notes        *string
	InDirectory  *bool
	JoinedOn     *string
	UserID       *string
	AccountEmail *string
}

// UpdateMember edits a member (staff only).
func (s *Service) UpdateMember(ctx context.Context, p auth.Principal, aid, mid string, ch MemberChanges) (Member, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Member{}, err
	}
	m, err := s.loadMember(ctx, &a, mid)
	if err != nil {
		return Member{}, err
	}
	if m.Erased {
		return Member{}, ErrMemberErased
	}
	f := fault.Fields{}
	set := bson.M{}
	var changed []string
	str := func(field string, v *string, dst *string, norm func(string) string, check func(string)) {
		if v == nil {
			return
		}
		nv := norm(*v)
		check(nv)
		if nv != *dst {
			changed = append(changed, field)
		}
		*dst, set[field] = nv, nv
	}
	str("full_name", ch.FullName, &m.FullName, clean, func(v string) { checkText(f, "full_name", v, true, MaxNameLen) })
	str("phone", ch.Phone, &m.Phone, clean, func(v string) { checkPhone(f, "phone", v) })
	str("email", ch.Email, &m.Email, normalizeEmail, func(v string) { checkEmail(f, "email", v) })
	str("address", ch.Address, &m.Address, clean, func(v string) { checkText(f, "address", v, false, MaxAddressLen) })
	str("notes", ch.Notes, &m.Notes, func(v string) string { return v }, func(v string) { checkMultiline(f, "notes", v, MaxNotesLen) })
	if ch.JoinedOn != nil {
		v := s.checkJoinedOn(f, &a, *ch.JoinedOn)
		if *ch.JoinedOn == "" {
			f.Add("joined_on", "required")
		}
		m.JoinedOn, set["joined_on"] = v, v
		changed = append(changed, "joined_on")
	}
	if ch.Skills != nil {
		m.Skills, m.SkillKeys = normalizeSkills(f, *ch.Skills)
		set["skills"], set["skill_keys"] = m.Skills, m.SkillKeys
		changed = append(changed, "skills")
	}
	if ch.InDirectory != nil {
		m.InDirectory, set["in_directory"] = *ch.InDirectory, *ch.InDirectory
		changed = append(changed, "in_directory")
	}
	var acct accountChoice
	switch {
	case ch.UserID != nil && ch.AccountEmail != nil:
		f.Add("account_email", "conflicts_with_user_id")
	case ch.UserID != nil || ch.AccountEmail != nil:
		var uid, email string
		if ch.UserID != nil {
			uid = *ch.UserID
		} else {
			email = *ch.AccountEmail
		}
		acct = checkAccount(f, p, uid, email)
		acct.clear = uid == "" && normalizeEmail(email) == ""
	}
	if err := f.Err(); err != nil {
		return Member{}, err
	}
	if acct.invites() {
		if err := s.allow(ctx, s.inviteLimit, p.UserID, ErrInviteRateLimited); err != nil {
			return Member{}, err
		}
	}
	switch {
	case acct.self != "":
		if err := s.relink(ctx, p, &a, &m, acct.self); err != nil {
			return Member{}, err
		}
	case acct.clear:
		if err := s.withdrawMemberInvitation(ctx, p, a.ID, m.ID.Hex()); err != nil {
			return Member{}, err
		}
		if err := s.relink(ctx, p, &a, &m, ""); err != nil {
			return Member{}, err
		}
	case acct.invites() && (acct.userID == "" || acct.userID != m.UserID):
		if _, err := s.inviteMember(ctx, p, &a, &m, acct.email, acct.userID); err != nil {
			return Member{}, err
		}
	}
	if len(set) > 0 {
		set["search"] = fold(m.FullName)
		set["updated_at"], set["updated_by"] = s.now(), p.UserID
		r, err := s.members.UpdateOne(ctx, bson.D{{Key: "_id", Value: m.ID}, {Key: "erased", Value: false}}, bson.M{"$set": set})
		if err != nil {
			return Member{}, err
		}
		if r.MatchedCount == 0 {
			return Member{}, ErrMemberErased
		}
		if len(changed) > 0 {
			s.trail(ctx, a.ID, p.UserID, "member.updated", auditRef{MemberID: m.ID.Hex(), Detail: joinFields(changed)})
		}
	}
	return s.GetMember(ctx, p, aid, mid, 0)
}

// relink points m at newUser ("" unlinks). The member's user_id changes by
// compare-and-swap on its old value, after the new claim is held; the old
// claim is released last, so at no moment do two members hold one account.
func (s *Service) relink(ctx context.Context, p auth.Principal, a *association, m *member, newUser string) error {
	old := m.UserID
	if newUser == old {
		return nil
	}
	taken := false
	if newUser != "" {
		var err error
		if taken, err = s.claimLink(ctx, a.ID, newUser, m.ID); err != nil {
			return err
		}
	}
	r, err := s.members.UpdateOne(ctx, bson.D{{Key: "_id", Value: m.ID}, {Key: "user_id", Value: old}, {Key: "erased", Value: false}},
		bson.M{"$set": bson.M{"user_id": newUser, "updated_at": s.now(), "updated_by": p.UserID}})
	if err != nil || r.MatchedCount == 0 {
		if taken {
			s.releaseLink(context.WithoutCancel(ctx), a.ID, newUser, m.ID)
		}
		if err != nil {
			return err
		}
		return ErrBusy
	}
	if old != "" {
		s.releaseLink(ctx, a.ID, old, m.ID)
	}
	m.UserID = newUser
	action := "member.linked"
	if newUser == "" {
		action = "member.unlinked"
	}
	s.trail(ctx, a.ID, p.UserID, action, auditRef{MemberID: m.ID.Hex()})
	return nil
}

// EraseMember removes a member's personal data at their request
// (coordinators only). The number stays taken and the ledger keeps its
// entries, which now name the member by number only.
func (s *Service) EraseMember(ctx context.Context, p auth.Principal, aid, mid string) error {
	a, _, err := s.staff(ctx, p, aid, Coordinator)
	if err != nil {
		return err
	}
	m, err := s.loadMember(ctx, &a, mid)
	if err != nil {
		return err
	}
	if m.Erased {
		return nil
	}
	if err := s.withdrawMemberInvitation(ctx, p, a.ID, m.ID.Hex()); err != nil {
		return err
	}
	if m.UserID != "" {
		if err := s.relink(ctx, p, &a, &m, ""); err != nil {
			return err
		}
	}
	if _, err := s.members.UpdateOne(ctx, bson.M{"_id": m.ID}, bson.M{"$set": bson.M{
		"full_name": "", "search": "", "phone": "", "email": "", "address": "", "notes": "", "skills": []string{},
		"skill_keys": []string{}, "in_directory": false, "user_id": "", "erased": true,
		"updated_at": s.now(), "updated_by": p.UserID}}); err != nil {
		return err
	}
	s.trail(ctx, a.ID, p.UserID, "member.erased", auditRef{MemberID: m.ID.Hex()})
	return nil
}

// MemberQuery filters the roster. Status (active|lapsed) is for Year.
type MemberQuery struct {
	Q      string
	Skill  string
	Status string
	Year   int
	Cursor string
	Limit  int
}

// ListMembers searches the roster by name, skill and card status, in
// membership-number order. Name and skill filters match server-side search
// forms (the name as an escaped regular expression, the skill by equality);
// the status is derived from the year's ledger.
func (s *Service) ListMembers(ctx context.Context, p auth.Principal, aid string, q MemberQuery) ([]Member, string, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, "", err
	}
	f := fault.Fields{}
	q.Q, q.Skill = clean(q.Q), clean(q.Skill)
	checkText(f, "q", q.Q, false, MaxQueryLen)
	checkText(f, "skill", q.Skill, false, MaxSkillLen)
	if q.Status != "" && q.Status != StatusActive && q.Status != StatusLapsed {
		f.Add("status", "invalid")
	}
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	year, err := s.checkYear(&a, q.Year)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeNumberCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := clampLimit(q.Limit)
	filter := bson.D{{Key: "association_id", Value: a.ID}}
	if after > 0 {
		filter = append(filter, bson.E{Key: "number", Value: bson.M{"$gt": after}})
	}
	if q.Q != "" {
		filter = append(filter, bson.E{Key: "search", Value: bson.M{"$regex": regexp.QuoteMeta(fold(q.Q))}})
	}
	if q.Skill != "" {
		filter = append(filter, bson.E{Key: "skill_keys", Value: fold(q.Skill)})
	}
	paid, err := s.paidByMember(ctx, a.ID, year)
	if err != nil {
		return nil, "", err
	}
	opts := options.Find().SetSort(bson.D{{Key: "number", Value: 1}})
	if q.Status == "" {
		opts.SetLimit(int64(limit + 1))
	}
	var out []Member
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = s.members.Each(ctx, filter, func(raw bson.Raw) error {
		var m member
		if err := bson.Unmarshal(raw, &m); err != nil {
			return err
		}
		v := a.memberView(&m, year, paid[m.ID.Hex()])
		if q.Status != "" && v.Status != q.Status {
			return nil
		}
		out = append(out, v)
		if len(out) > limit {
			return errPageFull
		}
		return nil
	}, opts)
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = numberCursor(out[limit-1].Number)
	}
	return out, next, nil
}

var errPageFull = errors.New("page full")

// checkYear defaults year to the current one and bounds it.
func (s *Service) checkYear(a *association, year int) (int, error) {
	cur := a.year(s.clock.Now())
	if year == 0 {
		return cur, nil
	}
	if year < MinYear || year > cur+1 {
		return 0, fault.Validation("year", "out_of_range")
	}
	return year, nil
}

func joinFields(fs []string) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += ","
		}
		out += f
	}
	return out
}
