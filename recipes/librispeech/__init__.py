"""LibriSpeech (OpenSLR 12): download (fetch.py) and prepare."""
