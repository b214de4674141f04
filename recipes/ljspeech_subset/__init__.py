"""The LJSpeech subset in the shared data: prepare."""
