"""The AISHELL-1 sample in the shared data: prepare."""
