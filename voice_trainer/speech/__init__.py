"""Speech recognition: Whisper model resolution and transcription with word timings."""
