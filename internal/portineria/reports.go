package portineria

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// allMembers is the whole roster of an association, by number. Rosters are
// a few hundred people; this is the one read every report starts from.
func (s *Service) allMembers(ctx context.Context, aid bson.ObjectID) ([]member, error) {
	var ms []member
	err := s.members.FindAll(ctx, bson.M{"association_id": aid}, &ms, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	return ms, err
}

// yearBook is the card money of every member for a few years, derived from
// the entries in one read.
type yearBook struct {
	a     *association
	paid  map[int]map[string]int64
	total map[int]*Totals
}

func (s *Service) yearBook(ctx context.Context, a *association, years ...int) (*yearBook, error) {
	es, err := s.yearEntries(ctx, a.ID, years...)
	if err != nil {
		return nil, err
	}
	b := &yearBook{a: a, paid: map[int]map[string]int64{}, total: map[int]*Totals{}}
	for _, y := range years {
		b.paid[y], b.total[y] = map[string]int64{}, &Totals{}
	}
	for i := range es {
		e := &es[i]
		b.total[e.Year].add(e)
		if e.MemberID != "" {
			b.paid[e.Year][e.MemberID] += cardCents(e)
		}
	}
	return b, nil
}

func (b *yearBook) active(m *member, y int) bool {
	return b.paid[y][m.ID.Hex()] >= b.a.feeFor(y)
}

// Report is an association's year in figures. Active and lapsed follow the
// card rule (see StatusActive); NotRenewed are last year's active members
// not active this year.
type Report struct {
	Year           int   `json:"year"`
	YearlyFeeCents int64 `json:"yearly_fee_cents"`
	Members        int   `json:"members"`
	Active         int   `json:"active"`
	Lapsed         int   `json:"lapsed"`
	NewMembers     int   `json:"new_members"`
	NotRenewed     int   `json:"not_renewed"`
	Totals
}

// Report sums up a year (0: this year) for the staff.
func (s *Service) Report(ctx context.Context, p auth.Principal, aid string, year int) (Report, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Report{}, err
	}
	if year, err = s.checkYear(&a, year); err != nil {
		return Report{}, err
	}
	ms, err := s.allMembers(ctx, a.ID)
	if err != nil {
		return Report{}, err
	}
	b, err := s.yearBook(ctx, &a, year-1, year)
	if err != nil {
		return Report{}, err
	}
	r := Report{Year: year, YearlyFeeCents: a.feeFor(year), Totals: *b.total[year]}
	for i := range ms {
		m := &ms[i]
		active := b.active(m, year)
		switch {
		case active:
			r.Active++
		case m.joinedYear() <= year:
			r.Lapsed++
		}
		if active || m.joinedYear() <= year {
			r.Members++
		}
		if m.joinedYear() == year {
			r.NewMembers++
		}
		if !active && b.active(m, year-1) {
			r.NotRenewed++
		}
	}
	return r, nil
}

// Renewal states.
const (
	// RenewalExpiring: this year's card lapses within the window and next
	// year's is not paid yet. Cards follow the calendar year: valid through
	// 31 December, lapsed from 1 January, so with the default 30 days the
	// list starts on 2 December.
	RenewalExpiring = "expiring"
	// RenewalExpired: paid last year, not yet this year: the card ended on
	// the last 31 December.
	RenewalExpired = "expired"
)

// Renewal is a member to call about their card.
type Renewal struct {
	MemberID  string `json:"member_id"`
	Number    int64  `json:"number"`
	FullName  string `json:"full_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email"`
	State     string `json:"state"`
	CardYear  int    `json:"card_year"`
	ExpiresOn string `json:"expires_on"`
	// DaysLeft counts the days until the card lapses (1 January after
	// ExpiresOn); negative once lapsed.
	DaysLeft int `json:"days_left"`
}

// RenewalQuery pages the renewal list; WithinDays is the window (default 30).
type RenewalQuery struct {
	WithinDays int
	Cursor     string
	Limit      int
}

// Renewals lists members for renewal calls: those whose card expires within
// the window (RenewalExpiring) and those whose card expired at the end of
// last year and who have not renewed (RenewalExpired), by number.
func (s *Service) Renewals(ctx context.Context, p auth.Principal, aid string, q RenewalQuery) ([]Renewal, string, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, "", err
	}
	if q.WithinDays == 0 {
		q.WithinDays = 30
	}
	if q.WithinDays < 1 || q.WithinDays > 366 {
		return nil, "", fault.Validation("within_days", "out_of_range")
	}
	after, err := decodeNumberCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	loc := a.location()
	now := s.clock.Now().In(loc)
	y := now.Year()
	today := time.Date(y, now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// A card is valid through 31 December and lapses on 1 January.
	daysTo := func(lapse int) int { return int(time.Date(lapse, 1, 1, 0, 0, 0, 0, time.UTC).Sub(today).Hours() / 24) }
	daysLeft := daysTo(y + 1)
	ms, err := s.allMembers(ctx, a.ID)
	if err != nil {
		return nil, "", err
	}
	b, err := s.yearBook(ctx, &a, y-1, y, y+1)
	if err != nil {
		return nil, "", err
	}
	limit := clampLimit(q.Limit)
	var out []Renewal
	next := ""
	for i := range ms {
		m := &ms[i]
		if m.Erased || m.Number <= after {
			continue
		}
		r := Renewal{MemberID: m.ID.Hex(), Number: m.Number, FullName: m.FullName, Phone: m.Phone, Email: m.Email}
		switch {
		case b.active(m, y) && !b.active(m, y+1) && daysLeft <= q.WithinDays:
			r.State, r.CardYear, r.DaysLeft = RenewalExpiring, y, daysLeft
		case !b.active(m, y) && b.active(m, y-1):
			r.State, r.CardYear = RenewalExpired, y-1
			r.DaysLeft = daysTo(y)
		default:
			continue
		}
		r.ExpiresOn = fmt.Sprintf("%d-12-31", r.CardYear)
		if len(out) == limit {
			next = numberCursor(out[limit-1].Number)
			break
		}
		out = append(out, r)
	}
	return out, next, nil
}

// SkillOffer is what residents see of a member: first name and skills.
type SkillOffer struct {
	FirstName string   `json:"first_name"`
	Skills    []string `json:"skills"`
}

// SkillsPage is the public skills directory of an association: who offers
// what, and how to reach the desk that puts residents in touch.
type SkillsPage struct {
	Association Association
	Items       []SkillOffer
	NextCursor  string
}

// Skills is the residents' directory (anyone signed in): members listed in
// it with a card valid this year or last year, first name and skills only.
// Never a member's own contacts; residents go through the desk.
func (s *Service) Skills(ctx context.Context, p auth.Principal, aid, skill, cursor string, limit int) (SkillsPage, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return SkillsPage{}, err
	}
	skill = clean(skill)
	f := fault.Fields{}
	checkText(f, "skill", skill, false, MaxSkillLen)
	if err := f.Err(); err != nil {
		return SkillsPage{}, err
	}
	after, err := decodeNumberCursor(cursor)
	if err != nil {
		return SkillsPage{}, err
	}
	y := a.year(s.clock.Now())
	b, err := s.yearBook(ctx, &a, y-1, y)
	if err != nil {
		return SkillsPage{}, err
	}
	filter := bson.D{{Key: "association_id", Value: a.ID}, {Key: "in_directory", Value: true}, {Key: "erased", Value: false}}
	if after > 0 {
		filter = append(filter, bson.E{Key: "number", Value: bson.M{"$gt": after}})
	}
	if skill != "" {
		filter = append(filter, bson.E{Key: "skill_keys", Value: fold(skill)})
	}
	var ms []member
	if err := s.members.FindAll(ctx, filter, &ms, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}).
		SetProjection(bson.M{"number": 1, "full_name": 1, "skills": 1, "joined_on": 1})); err != nil {
		return SkillsPage{}, err
	}
	limit = clampLimit(limit)
	page := SkillsPage{Association: s.view(a, p.UserID), Items: []SkillOffer{}}
	for i := range ms {
		m := &ms[i]
		if len(m.Skills) == 0 || !(b.active(m, y) || b.active(m, y-1)) {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = numberCursor(ms[i-1].Number)
			break
		}
		page.Items = append(page.Items, SkillOffer{FirstName: firstName(m.FullName), Skills: m.Skills})
	}
	return page, nil
}

// safeCell neutralises a spreadsheet formula: a cell a spreadsheet would
// evaluate (starting with = + - @, a tab or a carriage return, possibly
// after spaces) is prefixed with an apostrophe, which shows it as text.
func safeCell(v string) string {
	t := strings.TrimLeft(v, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + v
	}
	return v
}

// csvBytes writes rows as UTF-8 CSV with a header row.
func csvBytes(header []string, rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func formatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// MembersCSVHeader is the header row of members.csv.
var MembersCSVHeader = []string{"number", "full_name", "phone", "email", "address", "skills", "notes", "joined_on",
	"in_directory", "linked_account", "year", "status", "paid_cents"}

// MembersCSV exports the roster with each member's status for year.
// Every cell a person typed goes through safeCell.
func (s *Service) MembersCSV(ctx context.Context, p auth.Principal, aid string, year int) ([]byte, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, err
	}
	if year, err = s.checkYear(&a, year); err != nil {
		return nil, err
	}
	ms, err := s.allMembers(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	b, err := s.yearBook(ctx, &a, year)
	if err != nil {
		return nil, err
	}
	rows := make([][]string, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		paid := b.paid[year][m.ID.Hex()]
		rows = append(rows, []string{strconv.FormatInt(m.Number, 10), safeCell(m.displayName()), safeCell(m.Phone),
			safeCell(m.Email), safeCell(m.Address), safeCell(strings.Join(m.Skills, "; ")), safeCell(m.Notes),
			m.JoinedOn, strconv.FormatBool(m.InDirectory), strconv.FormatBool(m.UserID != ""), strconv.Itoa(year),
			a.status(m, year, paid), strconv.FormatInt(paid, 10)})
	}
	s.trail(ctx, a.ID, p.UserID, "export.members", auditRef{Detail: strconv.Itoa(year)})
	return csvBytes(MembersCSVHeader, rows)
}

// LedgerCSVHeader is the header row of ledger.csv.
var LedgerCSVHeader = []string{"id", "recorded_at", "year", "type", "amount_cents", "amount", "method",
	"member_number", "member_name", "note", "reverses", "reason", "recorded_by"}

// LedgerCSV exports a year's entries (0: this year), oldest first.
func (s *Service) LedgerCSV(ctx context.Context, p auth.Principal, aid string, year int) ([]byte, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, err
	}
	if year, err = s.checkYear(&a, year); err != nil {
		return nil, err
	}
	es, err := s.yearEntries(ctx, a.ID, year)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(es, func(x, y entry) int { return strings.Compare(x.ID.Hex(), y.ID.Hex()) })
	views, err := s.entryViews(ctx, es, nil)
	if err != nil {
		return nil, err
	}
	rows := make([][]string, 0, len(views))
	for _, e := range views {
		num := ""
		if e.MemberNumber > 0 {
			num = strconv.FormatInt(e.MemberNumber, 10)
		}
		rows = append(rows, []string{e.ID, e.RecordedAt.UTC().Format(time.RFC3339), strconv.Itoa(e.Year), e.Type,
			strconv.FormatInt(e.AmountCents, 10), formatCents(e.AmountCents), e.Method, num, safeCell(e.MemberName),
			safeCell(e.Note), e.Reverses, safeCell(e.Reason), safeCell(e.RecordedByName)})
	}
	s.trail(ctx, a.ID, p.UserID, "export.ledger", auditRef{Detail: strconv.Itoa(year)})
	return csvBytes(LedgerCSVHeader, rows)
}
