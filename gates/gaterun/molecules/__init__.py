"""The built-in molecules: the gate that ships with gates, collected whenever a run selects a gate."""
