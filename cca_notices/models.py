"""Notices: rule sets, scheduled notices, mail batches (issue: notice engine)."""
