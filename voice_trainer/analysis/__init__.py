"""Pure analysis: numpy arrays in, dataclasses out. Imports only ``config`` (and ``errors``) of ours; never devices,
files, TTS or the CLI."""
