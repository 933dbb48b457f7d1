"""voice-trainer: rehearse de-escalating angry callers and get explainable feedback on tone and listening."""

__version__ = "0.1.0"
