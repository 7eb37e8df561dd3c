"""Versioned SQL migrations, applied once each, in file-name order."""
