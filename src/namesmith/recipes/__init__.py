"""Training recipes that reproduce a published procedure (its log to printed precision)."""
