"""The demo corpus: English spoken by eSpeak NG voices (synth.py), built by prepare.py."""
