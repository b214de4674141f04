"""AISHELL-3 speaker SSB0139 in the shared data: prepare."""
