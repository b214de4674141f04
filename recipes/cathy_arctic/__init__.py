"""cathy_arctic (CMU ARCTIC prompts, one US speaker) in the shared data: prepare."""
