"""The error every field normaliser raises (addresses, contacts, names, the import's columns)."""


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, for a reject report or a form."""
