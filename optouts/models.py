"""Opt-out requests, fees, re-entry and utility service requests (issues: intake, fees)."""
