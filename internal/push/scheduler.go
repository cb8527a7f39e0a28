package push

import (
	"time"

	"civico/internal/clock"
	"civico/internal/schedule"
)

// delivery is one push to one subscription, as kept in memory.
type delivery struct {
	ID       string
	Bucket   string
	JobID    string
	SubID    string
	UserID   string
	Endpoint string
	P256dh   string
	Auth     string
	Payload  []byte
	Topic    string
	TTL      int
	Urgency  string
	// DueAt is when it may be sent: the end of quiet hours, or the next
	// retry. Expires is when sending makes no more sense.
	DueAt     time.Time
	CreatedAt time.Time
	Expires   time.Time

	attempts int
	gen      int64 // revocation generation when its subscription was read
}

// newScheduler returns the queue that hands due deliveries to the workers:
// ready ones first come, held ones (quiet hours, backoff) at DueAt. It
// holds a delivery's id until its done-marker is written, so nothing is
// queued twice.
func newScheduler(c clock.Clock) *schedule.Queue[*delivery] {
	return schedule.New(c, func(d *delivery) string { return d.ID }, func(d *delivery) time.Time { return d.DueAt })
}
