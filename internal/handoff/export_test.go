package handoff

// ClaimFor is how long a sweep holds a check it claimed, for tests.
const ClaimFor = claimFor
