"""``python -m voice_trainer`` runs the command line."""

from .cli import entry

entry()
