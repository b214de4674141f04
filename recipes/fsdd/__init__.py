"""The Free Spoken Digit Dataset in the shared data: prepare."""
