"""The practice call: scenarios, the simulated caller, TTS, the call loop and the answer sources."""
