"""THCHS-30 (OpenSLR 18): download (fetch.py) and prepare."""
