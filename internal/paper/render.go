package paper

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// The fonts are embedded (fonts/LICENSE): the server prints "è", "à" and
// "ù" the same wherever it runs, with no system fonts.
var (
	//go:embed fonts/DejaVuSansCondensed.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSansCondensed-Bold.ttf
	fontBold []byte
)

const family = "dejavu"

// BoardItem is one open request or offer as it is printed: nothing else
// of the post reaches the paper.
type BoardItem struct {
	Title    string
	Category string
	Kind     string // "request" or "offer"
	Author   string // first name and initial: "Anna V."
	Date     time.Time
}

// Desk is a linked Portinaio desk where a neighbour without a phone can
// answer a post.
type Desk struct{ Association, Phone, Hours, Address string }

// Board is what the street's printed board shows. The caller passes only
// what may be printed: no surnames, no contacts of members, no replies.
type Board struct {
	Street, City string
	Locale       string // it or en
	TimeZone     string // IANA; the dates are printed in it (UTC when unknown)
	JoinURL      string
	PrintedAt    time.Time
	Items        []BoardItem // newest first
	Desks        []Desk
	// Admins are first names: "ask Anna or Bruno" when there is no desk.
	Admins []string
}

// Flyer is an invitation flyer: the street and the invite link.
type Flyer struct{ Street, City, Locale, InviteURL string }

// Page geometry, in millimetres (A4 portrait).
const (
	pageW   = 210.0
	pageH   = 297.0
	margin  = 15.0
	bodyW   = pageW - 2*margin
	bottom  = pageH - 17 // items stop here; the footer is below
	footerY = pageH - 11
)

// Limits of what one board prints.
const (
	maxBoardPages = 2
	maxTitleLines = 3
	maxDesks      = 3
	maxAdmins     = 3
)

// ptmm is one typographic point in millimetres.
const ptmm = 25.4 / 72

// lh is the line height of a font size in points, in millimetres.
func lh(size float64) float64 { return size * ptmm * 1.25 }

// sheet wraps an fpdf document with the helpers both sheets use.
type sheet struct {
	pdf *fpdf.Fpdf
	w   *words
}

func newSheet(locale, title string, at time.Time) *sheet {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(family, "", fontRegular)
	pdf.AddUTF8FontFromBytes(family, "B", fontBold)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetCellMargin(0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetTitle(printable(title), true)
	pdf.SetCreator("Civico", true)
	pdf.SetProducer("Civico", true)
	pdf.SetLang(locale)
	if !at.IsZero() {
		// The file's dates say when the board was printed.
		pdf.SetCreationDate(at)
		pdf.SetModificationDate(at)
	}
	return &sheet{pdf: pdf, w: wordsFor(locale)}
}

func (s *sheet) font(style string, size float64) { s.pdf.SetFont(family, style, size) }

func (s *sheet) grey(level int) { s.pdf.SetTextColor(level, level, level) }

// wrap splits text into lines at most w wide in the current font, at most
// maxLines of them (0: any), the last one ending in "…" when cut short.
func (s *sheet) wrap(text string, w float64, maxLines int) []string {
	text = strings.TrimSpace(printable(text))
	if text == "" {
		return nil
	}
	lines := s.pdf.SplitText(text, w)
	if maxLines <= 0 || len(lines) <= maxLines {
		return lines
	}
	lines = lines[:maxLines]
	last := []rune(strings.TrimRight(lines[maxLines-1], " "))
	for len(last) > 0 && s.pdf.GetStringWidth(string(last)+"…") > w {
		last = last[:len(last)-1]
	}
	lines[maxLines-1] = strings.TrimRight(string(last), " ") + "…"
	return lines
}

// lines draws lines from (x, y), each h high, aligned by align ("L", "C",
// "R"), and returns the y below them.
func (s *sheet) lines(x, y, w, h float64, align string, ls []string) float64 {
	for _, l := range ls {
		s.pdf.SetXY(x, y)
		s.pdf.CellFormat(w, h, printable(l), "", 0, align+"M", false, 0, "")
		y += h
	}
	return y
}

// fit picks the largest size from size down to minSize at which text fits
// on one line w wide, and wraps it at minSize when none does.
func (s *sheet) fit(style, text string, size, minSize, w float64) (float64, []string) {
	text = printable(text)
	for ; size > minSize; size -= 0.5 {
		s.font(style, size)
		if s.pdf.GetStringWidth(text) <= w {
			return size, []string{text}
		}
	}
	s.font(style, minSize)
	return minSize, s.wrap(text, w, 0)
}

func (s *sheet) output() ([]byte, error) {
	var buf bytes.Buffer
	if err := s.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("paper: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// Sizes on the board, in points.
const (
	titleSize = 12.5
	metaSize  = 9
	tagSize   = 7.5
	itemPad   = 2.4 // mm above and below an item
	tagW      = 22.0
	itemX     = margin + tagW + 4
	itemW     = pageW - margin - itemX
)

// placed is an item at its place on a page.
type placed struct {
	item  BoardItem
	title []string
	y, h  float64
}

// RenderBoard prints the street's board: A4, at most two pages. Items go
// newest first as long as they fit; what does not is counted ("… and 12
// more on Civico"). Page one carries how to answer without a phone (the
// desks, or the admins to ask) and the QR code of JoinURL, the URL written
// under it; each page the time it was printed, in the street's time zone.
func RenderBoard(b Board) ([]byte, error) {
	loc := location(b.TimeZone)
	printed := b.PrintedAt.In(loc)
	s := newSheet(pickLocale(b.Locale, ""), b.Street+" · "+wordsFor(b.Locale).boardLabel, b.PrintedAt)
	w := s.w
	var qr bitmap
	if b.JoinURL != "" {
		var err error
		if qr, err = encode(b.JoinURL); err != nil {
			return nil, err
		}
	}

	// Plan first, so that the footers can say "page 1 of 2".
	top := s.headerHeight(b)
	first := top + s.answerBoxHeight(b, qr)
	pages := [maxBoardPages][]placed{}
	page, y := 0, first
	moreH := lh(11) + 4
	more := 0
	for i, it := range b.Items {
		s.font("B", titleSize)
		title := s.wrap(it.Title, itemW, maxTitleLines)
		if len(title) == 0 {
			title = []string{"…"}
		}
		h := 2*itemPad + float64(len(title))*lh(titleSize) + lh(metaSize)
		for {
			need := h
			if page == maxBoardPages-1 && i < len(b.Items)-1 {
				need += moreH // room for the count, should the next not fit
			}
			if y+need <= bottom {
				break
			}
			if page == maxBoardPages-1 {
				more = len(b.Items) - i
				break
			}
			page, y = page+1, margin+lh(10)+4
		}
		if more > 0 {
			break
		}
		pages[page] = append(pages[page], placed{item: it, title: title, y: y, h: h})
		y += h
	}
	total := page + 1

	for p := range total {
		s.pdf.AddPage()
		var y float64
		if p == 0 {
			y = s.drawHeader(b)
			y = s.drawAnswerBox(b, qr, y)
		} else {
			s.font("B", 10)
			s.grey(90)
			s.lines(margin, margin, bodyW, lh(10), "L", s.wrap(b.Street+" · "+w.boardLabel+" "+w.continued, bodyW, 1))
			y = margin + lh(10) + 4
		}
		if p == 0 && len(b.Items) == 0 {
			s.font("", 12)
			s.grey(60)
			s.lines(margin, y+4, bodyW, lh(12), "L", s.wrap(w.empty, bodyW, 0))
		}
		for _, it := range pages[p] {
			s.drawItem(it, printed, loc)
			y = it.y + it.h
		}
		if more > 0 && p == total-1 {
			s.font("B", 11)
			s.grey(30)
			s.lines(margin, y+2, bodyW, lh(11), "L", []string{w.moreOnCivico(more)})
		}
		s.drawFooter(printed, p+1, total)
	}
	return s.output()
}

// headerHeight is the height of page one's heading, up to the answer box.
func (s *sheet) headerHeight(b Board) float64 {
	s.font("B", 22)
	n := max(len(s.wrap(b.Street, bodyW, 2)), 1)
	return margin + lh(9) + float64(n)*lh(22) + lh(11) + 4
}

func (s *sheet) drawHeader(b Board) float64 {
	w := s.w
	s.font("B", 9)
	s.grey(100)
	y := s.lines(margin, margin, bodyW, lh(9), "L", []string{strings.ToUpper(w.boardLabel)})
	s.font("B", 22)
	s.grey(0)
	street := s.wrap(b.Street, bodyW, 2)
	if len(street) == 0 {
		street = []string{""}
	}
	y = s.lines(margin, y, bodyW, lh(22), "L", street)
	s.font("", 11)
	s.grey(80)
	sub := w.boardIntro
	if b.City != "" {
		sub = b.City + " · " + sub
	}
	y = s.lines(margin, y, bodyW, lh(11), "L", s.wrap(sub, bodyW, 1))
	return y + 4
}

// The answer box: how to answer without a phone on the left, the QR code
// on the right, the URL written across its foot.
const (
	boxPad = 4.0
	qrSide = 36.0
)

// para is a paragraph of the answer box's left column.
type para struct {
	style string
	size  float64
	text  string
	gap   float64 // mm before it
}

func (s *sheet) answerParas(b Board, withQR bool) []para {
	w := s.w
	ps := []para{{"B", 12, w.howTitle, 0}}
	var desks []Desk
	for _, d := range b.Desks {
		if d.Phone != "" || d.Hours != "" || d.Address != "" {
			desks = append(desks, d)
		}
	}
	if len(desks) > maxDesks {
		desks = desks[:maxDesks]
	}
	switch {
	case len(desks) > 0:
		ps = append(ps, para{"", 10, w.deskIntro, 1})
		for _, d := range desks {
			var bits []string
			if d.Phone != "" {
				bits = append(bits, fmt.Sprintf(w.deskPhone, d.Phone))
			}
			for _, x := range []string{d.Hours, d.Address} {
				if x != "" {
					bits = append(bits, x)
				}
			}
			ps = append(ps, para{"B", 10, d.Association, 1.5}, para{"", 10, strings.Join(bits, " · "), 0})
		}
	case len(b.Admins) > 0:
		names := b.Admins
		if len(names) > maxAdmins {
			names = names[:maxAdmins]
		}
		ps = append(ps, para{"", 10, fmt.Sprintf(w.ask, w.alternatives(names)), 1})
	default:
		ps = append(ps, para{"", 10, w.askNobody, 1})
	}
	if withQR {
		ps = append(ps, para{"B", 11, w.joinTitle, 4}, para{"", 10, w.joinText, 0.5})
	}
	return ps
}

func (s *sheet) answerTextW(qr bitmap) float64 {
	if qr == nil {
		return bodyW - 2*boxPad
	}
	return bodyW - 2*boxPad - qrSide - 5
}

// answerLayout lays the box out: its paragraphs' lines, the URL's lines
// and size, and the box's height.
func (s *sheet) answerLayout(b Board, qr bitmap) (paras []para, lines [][]string, urlSize float64, url []string, height float64) {
	tw := s.answerTextW(qr)
	paras = s.answerParas(b, qr != nil)
	left := 0.0
	for _, p := range paras {
		s.font(p.style, p.size)
		ls := s.wrap(p.text, tw, 0)
		lines = append(lines, ls)
		left += p.gap + float64(len(ls))*lh(p.size)
	}
	content := left
	if qr != nil {
		content = max(left, qrSide)
		urlSize, url = s.fit("", b.JoinURL, 9, 6, bodyW-2*boxPad)
		content += 1.5 + float64(len(url))*lh(urlSize)
	}
	return paras, lines, urlSize, url, content + 2*boxPad
}

func (s *sheet) answerBoxHeight(b Board, qr bitmap) float64 {
	_, _, _, _, h := s.answerLayout(b, qr)
	return h + 6
}

func (s *sheet) drawAnswerBox(b Board, qr bitmap, y float64) float64 {
	paras, lines, urlSize, url, h := s.answerLayout(b, qr)
	s.pdf.SetDrawColor(120, 120, 120)
	s.pdf.SetLineWidth(0.35)
	s.pdf.RoundedRect(margin, y, bodyW, h, 2.5, "1234", "D")
	ty := y + boxPad
	for i, p := range paras {
		s.font(p.style, p.size)
		s.grey(0)
		ty = s.lines(margin+boxPad, ty+p.gap, s.answerTextW(qr), lh(p.size), "L", lines[i])
	}
	if qr != nil {
		drawQR(s.pdf, qr, pageW-margin-boxPad-qrSide, y+boxPad, qrSide)
		s.font("", urlSize)
		s.grey(0)
		s.lines(margin+boxPad, y+h-boxPad-float64(len(url))*lh(urlSize), bodyW-2*boxPad, lh(urlSize), "R", url)
	}
	return y + h + 6
}

func (s *sheet) drawItem(it placed, now time.Time, loc *time.Location) {
	w, pdf := s.w, s.pdf
	y := it.y + itemPad
	// The kind as a tag: requests dark, offers outlined, so the two read
	// apart on a black-and-white print.
	pdf.SetLineWidth(0.3)
	pdf.SetDrawColor(40, 40, 40)
	s.font("B", tagSize)
	label := strings.ToUpper(w.kindLabel(it.item.Kind))
	if it.item.Kind == "request" {
		pdf.SetFillColor(40, 40, 40)
		s.grey(255)
		pdf.RoundedRect(margin, y+0.3, tagW, 5, 1, "1234", "FD")
	} else {
		s.grey(40)
		pdf.RoundedRect(margin, y+0.3, tagW, 5, 1, "1234", "D")
	}
	s.lines(margin, y+0.3, tagW, 5, "C", []string{label})

	s.font("B", titleSize)
	s.grey(0)
	y = s.lines(itemX, y, itemW, lh(titleSize), "L", it.title)
	meta := []string{w.categoryLabel(it.item.Category)}
	if it.item.Author != "" {
		meta = append(meta, it.item.Author)
	}
	if !it.item.Date.IsZero() {
		meta = append(meta, w.day(it.item.Date.In(loc), now))
	}
	s.font("", metaSize)
	s.grey(70)
	s.lines(itemX, y, itemW, lh(metaSize), "L", s.wrap(strings.Join(meta, " · "), itemW, 1))

	pdf.SetDrawColor(200, 200, 200)
	pdf.SetLineWidth(0.2)
	pdf.Line(margin, it.y+it.h, pageW-margin, it.y+it.h)
}

func (s *sheet) drawFooter(printed time.Time, page, total int) {
	s.font("", 8)
	s.grey(90)
	s.lines(margin, footerY, bodyW, lh(8), "L", []string{s.w.printedOn(printed) + " · Civico"})
	s.lines(margin, footerY, bodyW, lh(8), "R", []string{fmt.Sprintf(s.w.page, page, total)})
}

// location is the named time zone, UTC when unknown.
func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Flyer geometry: two A5 halves, landscape, one above the other.
const (
	halfH    = pageH / 2
	flyerPad = 14.0
	flyerQR  = 62.0
)

// RenderFlyer prints the invitation flyer: an A4 sheet cut in two A5
// halves along a dashed line, each with the street's name, three lines on
// what a social street is, the QR code of the invite link and the link
// written out.
func RenderFlyer(f Flyer) ([]byte, error) {
	if f.InviteURL == "" {
		return nil, errEmptyURL
	}
	qr, err := encode(f.InviteURL)
	if err != nil {
		return nil, err
	}
	s := newSheet(pickLocale(f.Locale, ""), f.Street, time.Time{})
	s.pdf.AddPage()
	for _, y0 := range []float64{0, halfH} {
		s.drawFlyerHalf(f, qr, y0)
	}
	// The cut line, with the scissors on a white gap.
	s.pdf.SetDrawColor(110, 110, 110)
	s.pdf.SetLineWidth(0.3)
	s.pdf.SetDashPattern([]float64{2.5, 2}, 0)
	s.pdf.Line(6, halfH, pageW-6, halfH)
	s.pdf.SetDashPattern([]float64{}, 0)
	s.font("", 8)
	cw := s.pdf.GetStringWidth(s.w.cut) + 4
	s.pdf.SetFillColor(255, 255, 255)
	s.pdf.Rect(pageW/2-cw/2, halfH-2.5, cw, 5, "F")
	s.grey(90)
	s.lines(pageW/2-cw/2, halfH-2.5, cw, 5, "C", []string{s.w.cut})
	return s.output()
}

func (s *sheet) drawFlyerHalf(f Flyer, qr bitmap, y0 float64) {
	w := s.w
	x, top := flyerPad, y0+flyerPad
	qrX := pageW - flyerPad - flyerQR
	tw := qrX - 8 - x

	s.font("B", 10)
	s.grey(100)
	y := s.lines(x, top, tw, lh(10), "L", []string{strings.ToUpper(w.flyerLabel)})
	s.font("B", 28)
	s.grey(0)
	street := s.wrap(f.Street, tw, 2)
	y = s.lines(x, y+1, tw, lh(28), "L", street)
	if f.City != "" {
		s.font("", 13)
		s.grey(70)
		y = s.lines(x, y, tw, lh(13), "L", s.wrap(f.City, tw, 1))
	}
	y += 7
	s.font("", 13)
	s.grey(20)
	for _, l := range w.flyerLines {
		y = s.lines(x, y, tw, lh(13), "L", s.wrap(l, tw, 0)) + 4
	}

	s.font("B", 9.5)
	s.grey(30)
	scan := s.wrap(w.flyerScan, flyerQR, 2)
	qy := s.lines(qrX, top, flyerQR, lh(9.5), "C", scan) + 1
	drawQR(s.pdf, qr, qrX, qy, flyerQR)

	size, url := s.fit("B", f.InviteURL, 12, 7, pageW-2*flyerPad)
	s.grey(0)
	uy := y0 + halfH - flyerPad + 2 - float64(len(url))*lh(size)
	s.lines(x, uy, pageW-2*flyerPad, lh(size), "C", url)
}
