"""AN4 (CMU): download (fetch.py) and prepare."""
