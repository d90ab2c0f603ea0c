"""Everything that runs checkers against the model and the specs."""
