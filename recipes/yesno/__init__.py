"""yesno (OpenSLR 1) in the shared data: prepare."""
