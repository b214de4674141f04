"""The synthetic Mandarin pre-training corpus: Kokoro's Mandarin voices reading news sentences (prepare.py)."""
