"""The evidence of a release: its record and state, the proofs, the summaries, notifications, incidents, feedback."""
