// Package referrals is the desk sending a person to a place of the Locator,
// with a note, and asking some days later whether it helped.
package referrals

import (
	"context"
	"time"
)

// Service keeps the referrals.
type Service struct{}

// Fact is one referral as the impact figures count it.
type Fact struct {
	Person     string    // who was referred: "user:<id>" or "member:<id>"
	At         time.Time // made
	FollowedUp bool      // the follow-up question was answered
	Helped     bool      // …with "helped"
}

// Facts lists the association's referrals made before end.
func (s *Service) Facts(ctx context.Context, aid string, end time.Time) ([]Fact, error) { return nil, nil }

// Export is what the referrals hold of a user (referrals of them, follow-ups asked of them).
func (s *Service) Export(ctx context.Context, userID string) (any, error) { return []any{}, nil }

// Erase removes the user from the referrals (the counts stay).
func (s *Service) Erase(ctx context.Context, userID string) error { return nil }

// Sweep asks the follow-ups that fell due (leader only).
func (s *Service) Sweep(ctx context.Context) error { return nil }
