"""Connectors: one module per data source; each turns source data into engine events."""
