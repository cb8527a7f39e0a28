package suggestions

import (
	"context"

	"civico/internal/store"
)

// ClaimFor is how long an accept holds a suggestion, for tests.
const ClaimFor = claimFor

// ClaimOnly claims the suggestion as an accept does and goes no further,
// as a process that dies right after its claim: for tests.
func (s *Service) ClaimOnly(ctx context.Context, id string) error {
	oid, _ := store.ID(id)
	_, err := s.claim(ctx, oid)
	return err
}
