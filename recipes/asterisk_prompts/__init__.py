"""Asterisk's English prompts (Debian packages): fetch and prepare."""
