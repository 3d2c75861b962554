"""Training recipes that reproduce a published procedure exactly."""
