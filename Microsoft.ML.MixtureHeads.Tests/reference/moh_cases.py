"""Reference cases: (to be written from ../shared/specs)."""
