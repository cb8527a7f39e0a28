// Package locator is the neighbourhood's map of services and organisations
// (health and social services, support for older people, libraries, parks…):
// places kept by the associations' volunteers, searched by anyone, kept true
// by residents' suggestions that a volunteer accepts or declines.
package locator

import (
	"context"
)

// Service keeps the places.
type Service struct{}

// Export is what the locator holds of a user (their suggestions).
func (s *Service) Export(ctx context.Context, userID string) (any, error) { return []any{}, nil }

// Erase removes the user from what the locator holds (their suggestions).
func (s *Service) Erase(ctx context.Context, userID string) error { return nil }
