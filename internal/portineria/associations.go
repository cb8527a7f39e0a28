package portineria

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Desk is how residents reach the association's desk: public by design,
// unlike any member's own contacts.
type Desk struct {
	Address string `json:"address" bson:"address"`
	Hours   string `json:"hours" bson:"hours"`
	Phone   string `json:"phone" bson:"phone"`
	Email   string `json:"email" bson:"email"`
}

// Association is an association as anyone signed in sees it; MyRole is set
// for its staff.
type Association struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Area            string    `json:"area"`
	YearlyFeeCents  int64     `json:"yearly_fee_cents"`
	TimeZone        string    `json:"time_zone"`
	Desk            Desk      `json:"desk"`
	MyRole          Role      `json:"my_role,omitempty"`
	SuggestedSkills []string  `json:"suggested_skills"`
	CreatedAt       time.Time `json:"created_at"`
}

func (s *Service) view(a association, userID string) Association {
	return Association{ID: a.ID.Hex(), Name: a.Name, Area: a.Area, YearlyFeeCents: a.feeFor(a.year(s.clock.Now())),
		TimeZone: a.TimeZone, Desk: a.Desk, MyRole: a.roleOf(userID), SuggestedSkills: SuggestedSkills, CreatedAt: a.CreatedAt}
}

// NewAssociation is what creating an association takes.
type NewAssociation struct {
	Name           string
	Area           string
	YearlyFeeCents int64
	TimeZone       string
	Desk           *Desk
}

func cleanDesk(f fault.Fields, d *Desk) Desk {
	if d == nil {
		return Desk{}
	}
	out := Desk{Address: clean(d.Address), Hours: clean(d.Hours), Phone: clean(d.Phone), Email: normalizeEmail(d.Email)}
	checkText(f, "desk.address", out.Address, false, MaxAddressLen)
	checkText(f, "desk.hours", out.Hours, false, MaxAddressLen)
	checkPhone(f, "desk.phone", out.Phone)
	checkEmail(f, "desk.email", out.Email)
	return out
}

func checkFee(f fault.Fields, cents int64) {
	if cents < 1 || cents > MaxFeeCents {
		f.Add("yearly_fee_cents", "out_of_range")
	}
}

// Create makes an association whose coordinator is the caller.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewAssociation) (Association, error) {
	in.Name, in.Area = clean(in.Name), clean(in.Area)
	f := fault.Fields{}
	checkText(f, "name", in.Name, true, MaxNameLen)
	checkText(f, "area", in.Area, false, MaxAreaLen)
	checkFee(f, in.YearlyFeeCents)
	if in.TimeZone == "" {
		in.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || len(in.TimeZone) > 64 {
		f.Add("time_zone", "invalid")
	}
	desk := cleanDesk(f, in.Desk)
	if err := f.Err(); err != nil {
		return Association{}, err
	}
	if err := s.allow(ctx, s.createLimit, p.UserID, ErrRateLimited); err != nil {
		return Association{}, err
	}
	now := s.now()
	a := association{ID: bson.NewObjectID(), Name: in.Name, Search: fold(in.Name + " " + in.Area), Area: in.Area,
		TimeZone: in.TimeZone, Desk: desk, Fees: []feeRule{{FromYear: 0, Cents: in.YearlyFeeCents}},
		Staff:     []staffer{{UserID: p.UserID, Role: Coordinator, AddedBy: p.UserID, AddedAt: now}},
		CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	if _, err := s.assocs.InsertOne(ctx, a); err != nil {
		return Association{}, err
	}
	s.trail(ctx, a.ID, p.UserID, "association.created", auditRef{})
	return s.view(a, p.UserID), nil
}

// Get returns an association's public face (and the caller's role).
func (s *Service) Get(ctx context.Context, p auth.Principal, aid string) (Association, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return Association{}, err
	}
	return s.view(a, p.UserID), nil
}

// DirectoryQuery filters the public list of associations.
type DirectoryQuery struct {
	Q      string
	Cursor string
	Limit  int
}

// Directory lists associations by name, so a resident can find a desk.
func (s *Service) Directory(ctx context.Context, p auth.Principal, q DirectoryQuery) ([]Association, string, error) {
	limit := clampLimit(q.Limit)
	q.Q = clean(q.Q)
	if len([]rune(q.Q)) > MaxQueryLen {
		return nil, "", fault.Validation("q", "too_long")
	}
	after, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	filter := bson.D{}
	if after != "" {
		oid, ok := store.ID(after)
		if !ok {
			return nil, "", ErrBadCursor
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.M{"$gt": oid}})
	}
	if q.Q != "" {
		filter = append(filter, bson.E{Key: "search", Value: bson.M{"$regex": regexp.QuoteMeta(fold(q.Q))}})
	}
	var as []association
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit + 1)).
		SetProjection(bson.M{"staff": 0})
	if err := s.assocs.FindAll(ctx, filter, &as, opts); err != nil {
		return nil, "", err
	}
	next := ""
	if len(as) > limit {
		as = as[:limit]
		next = encodeCursor(as[limit-1].ID.Hex())
	}
	out := make([]Association, 0, len(as))
	for _, a := range as {
		out = append(out, s.view(a, ""))
	}
	return out, next, nil
}

// AssociationChanges is what a coordinator may change; nil fields stay.
// A new fee applies from the current year on: past years keep theirs.
type AssociationChanges struct {
	Name           *string
	Area           *string
	YearlyFeeCents *int64
	Desk           *Desk
}

// Update changes an association (coordinators only).
func (s *Service) Update(ctx context.Context, p auth.Principal, aid string, ch AssociationChanges) (Association, error) {
	a, _, err := s.staff(ctx, p, aid, Coordinator)
	if err != nil {
		return Association{}, err
	}
	f := fault.Fields{}
	set := bson.M{}
	if ch.Name != nil {
		v := clean(*ch.Name)
		checkText(f, "name", v, true, MaxNameLen)
		a.Name, set["name"] = v, v
	}
	if ch.Area != nil {
		v := clean(*ch.Area)
		checkText(f, "area", v, false, MaxAreaLen)
		a.Area, set["area"] = v, v
	}
	if ch.Desk != nil {
		d := cleanDesk(f, ch.Desk)
		a.Desk, set["desk"] = d, d
	}
	if ch.YearlyFeeCents != nil {
		checkFee(f, *ch.YearlyFeeCents)
	}
	if err := f.Err(); err != nil {
		return Association{}, err
	}
	set["search"] = fold(a.Name + " " + a.Area)
	set["updated_at"] = s.now()
	upd := bson.M{"$set": set}
	if ch.YearlyFeeCents != nil {
		y := a.year(s.clock.Now())
		fees := slices.DeleteFunc(slices.Clone(a.Fees), func(r feeRule) bool { return r.FromYear >= y })
		a.Fees = append(fees, feeRule{FromYear: y, Cents: *ch.YearlyFeeCents})
		set["fees"] = a.Fees
	}
	if _, err := s.assocs.UpdateOne(ctx, bson.M{"_id": a.ID}, upd); err != nil {
		return Association{}, err
	}
	s.trail(ctx, a.ID, p.UserID, "association.updated", auditRef{})
	return s.view(a, p.UserID), nil
}

// StaffMember is a volunteer or coordinator as the staff sees them.
type StaffMember struct {
	UserID  string    `json:"user_id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

// Staff lists the association's volunteers and coordinators (staff only).
func (s *Service) Staff(ctx context.Context, p auth.Principal, aid string) ([]StaffMember, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, err
	}
	return s.staffView(ctx, a.Staff)
}

func (s *Service) staffView(ctx context.Context, staff []staffer) ([]StaffMember, error) {
	ids := make([]string, 0, len(staff))
	for _, st := range staff {
		ids = append(ids, st.UserID)
	}
	accs, err := s.accounts.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]StaffMember, 0, len(staff))
	for _, st := range staff {
		out = append(out, StaffMember{UserID: st.UserID, Name: accs[st.UserID].Name, Role: st.Role, AddedAt: st.AddedAt})
	}
	return out, nil
}

func checkRole(f fault.Fields, r Role) {
	if r != Coordinator && r != Volunteer {
		f.Add("role", "invalid")
	}
}

// InviteVolunteer invites the holder of email to the staff with role
// (coordinators only; role defaults to volunteer). Nobody joins the staff
// without saying yes: the person answers from their own account (see
// AcceptInvitation), and until then the association sees the address it
// typed and nothing else. The answer is the same whether or not the
// address has an account, and repeating it gives the same invitation.
func (s *Service) InviteVolunteer(ctx context.Context, p auth.Principal, aid, email string, role Role) (Invitation, error) {
	if role == "" {
		role = Volunteer
	}
	email = normalizeEmail(email)
	f := fault.Fields{}
	checkRole(f, role)
	if email == "" {
		f.Add("email", "required")
	}
	checkEmail(f, "email", email)
	if err := f.Err(); err != nil {
		return Invitation{}, err
	}
	a, _, err := s.staff(ctx, p, aid, Coordinator)
	if err != nil {
		return Invitation{}, err
	}
	if err := s.allow(ctx, s.inviteLimit, p.UserID, ErrInviteRateLimited); err != nil {
		return Invitation{}, err
	}
	inv, err := s.invite(ctx, p, &a, invitation{Key: staffKey(a.ID, email), AssociationID: a.ID, Kind: KindStaff,
		Email: email, Role: role})
	if err != nil {
		return Invitation{}, err
	}
	return inv.staffView(s.now()), nil
}

// SetRole changes a staff member's role (coordinators only); the last
// coordinator cannot step down.
func (s *Service) SetRole(ctx context.Context, p auth.Principal, aid, userID string, role Role) (StaffMember, error) {
	f := fault.Fields{}
	checkRole(f, role)
	if err := f.Err(); err != nil {
		return StaffMember{}, err
	}
	var changed staffer
	a, err := s.changeStaff(ctx, p, aid, func(a *association) error {
		i := slices.IndexFunc(a.Staff, func(st staffer) bool { return st.UserID == userID })
		if i < 0 {
			return ErrVolunteerNotFound
		}
		if a.Staff[i].Role == Coordinator && role != Coordinator && a.coordinators() == 1 {
			return ErrLastCoordinator
		}
		a.Staff[i].Role = role
		changed = a.Staff[i]
		return nil
	})
	if err != nil {
		return StaffMember{}, err
	}
	s.trail(ctx, a.ID, p.UserID, "volunteer.role", auditRef{UserID: userID, Detail: string(role)})
	v, err := s.staffView(ctx, []staffer{changed})
	if err != nil {
		return StaffMember{}, err
	}
	return v[0], nil
}

// RemoveVolunteer takes someone off the staff: a coordinator may remove
// anyone, a volunteer only themself; never the last coordinator.
func (s *Service) RemoveVolunteer(ctx context.Context, p auth.Principal, aid, userID string) error {
	a, err := s.changeStaffAs(ctx, p, aid, userID == p.UserID, func(a *association) error {
		i := slices.IndexFunc(a.Staff, func(st staffer) bool { return st.UserID == userID })
		if i < 0 {
			return ErrVolunteerNotFound
		}
		if a.Staff[i].Role == Coordinator && a.coordinators() == 1 {
			return ErrLastCoordinator
		}
		a.Staff = slices.Delete(a.Staff, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	s.trail(ctx, a.ID, p.UserID, "volunteer.removed", auditRef{UserID: userID})
	return nil
}

func (s *Service) changeStaff(ctx context.Context, p auth.Principal, aid string, fn func(*association) error) (association, error) {
	return s.changeStaffAs(ctx, p, aid, false, fn)
}

// changeStaffAs applies fn to the staff list by compare-and-swap on
// staff_version: of two concurrent changes (two coordinators removing each
// other) one wins and the other is re-checked against the new list, so the
// last coordinator can never be removed by a race. The caller's right is
// checked on every attempt, against the list being changed.
func (s *Service) changeStaffAs(ctx context.Context, p auth.Principal, aid string, self bool, fn func(*association) error) (association, error) {
	a, _, err := s.casStaff(ctx, aid, func(a *association) error {
		role := a.roleOf(p.UserID)
		if role == "" {
			return ErrAssociationNotFound
		}
		if role != Coordinator && !self {
			return ErrCoordinatorOnly
		}
		return fn(a)
	})
	return a, err
}

// errUnchanged, from a casStaff function, means the list is already as
// wanted: nothing is written and casStaff reports no change.
var errUnchanged = errors.New("staff unchanged")

// casStaff applies fn to the freshly read staff list and writes it back
// only if staff_version is still the one read; otherwise it reads again.
// fn decides who may do what (it sees the list it changes).
func (s *Service) casStaff(ctx context.Context, aid string, fn func(*association) error) (association, bool, error) {
	for range 20 {
		a, err := s.load(ctx, aid)
		if err != nil {
			return association{}, false, err
		}
		version := a.StaffVersion
		a.Staff = slices.Clone(a.Staff)
		if err := fn(&a); err != nil {
			if errors.Is(err, errUnchanged) {
				return a, false, nil
			}
			return association{}, false, err
		}
		r, err := s.assocs.UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}, {Key: "staff_version", Value: version}},
			bson.M{"$set": bson.M{"staff": a.Staff, "staff_version": version + 1, "updated_at": s.now()}})
		if err != nil {
			return association{}, false, err
		}
		if r.MatchedCount == 1 {
			return a, true, nil
		}
	}
	return association{}, false, ErrBusy
}

// MyAssociation is one association a user belongs to, for GET /me: as
// staff (Role), as a roster member with a linked account (MemberNumber), or both.
type MyAssociation struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Area         string `json:"area"`
	Role         string `json:"role"`
	MemberNumber int64  `json:"member_number,omitempty"`
	CardActive   *bool  `json:"card_active,omitempty"`
}

// Memberships lists the associations userID belongs to, with the role.
func (s *Service) Memberships(ctx context.Context, userID string) (any, error) {
	return s.MyAssociations(ctx, userID)
}

// MyAssociations lists the associations userID belongs to, with the role.
func (s *Service) MyAssociations(ctx context.Context, userID string) ([]MyAssociation, error) {
	var staffOf []association
	if err := s.assocs.FindAll(ctx, bson.M{"staff.user_id": userID}, &staffOf,
		options.Find().SetLimit(200).SetProjection(bson.M{"_id": 1, "name": 1, "area": 1, "staff": 1})); err != nil {
		return nil, err
	}
	out := []MyAssociation{}
	index := map[string]int{}
	for _, a := range staffOf {
		if r := a.roleOf(userID); r != "" {
			index[a.ID.Hex()] = len(out)
			out = append(out, MyAssociation{ID: a.ID.Hex(), Name: a.Name, Area: a.Area, Role: string(r)})
		}
	}
	cards, err := s.linkedCards(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, c := range cards {
		if i, ok := index[c.ID]; ok {
			out[i].MemberNumber, out[i].CardActive = c.MemberNumber, c.CardActive
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// linkedCards are the roster cards linked to userID.
func (s *Service) linkedCards(ctx context.Context, userID string) ([]MyAssociation, error) {
	ms, as, err := s.linkedMembers(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []MyAssociation
	for i := range ms {
		m, a := &ms[i], &as[i]
		y := a.year(s.clock.Now())
		paid, err := s.memberPaid(ctx, a.ID, m.ID.Hex(), y)
		if err != nil {
			return nil, err
		}
		active := paid >= a.feeFor(y)
		out = append(out, MyAssociation{ID: a.ID.Hex(), Name: a.Name, Area: a.Area, Role: "member",
			MemberNumber: m.Number, CardActive: &active})
	}
	return out, nil
}
