"""Coordination between machines and processes: the release locks, gates' schema, the ledger, the journal, recovery."""
