"""AISHELL-1 (OpenSLR 33): download (fetch.py) and prepare."""
