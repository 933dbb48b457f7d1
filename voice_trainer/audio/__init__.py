"""Audio I/O: decoding files, resampling, sound devices and the duplex stream, playback."""
