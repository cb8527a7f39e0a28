package handoff

import "civico/internal/followups"

// ClaimFor is how long a sweep holds a check it claimed, for tests.
const ClaimFor = followups.ClaimFor
