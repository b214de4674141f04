"""The synthetic English pre-training corpora: Flite, Festival and eSpeak NG voices (prepare.py),
neural voices (prepare_neural.py)."""
