// Service worker: filled in by the PWA issue.
