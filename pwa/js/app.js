// Entry point of the PWA.
