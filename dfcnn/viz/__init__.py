"""Seeing what the network does: ``dfcnn inspect`` (every layer on one file), ``inspect-channel``
(the patches that most excite one channel), receptive fields, and ``dfcnn report`` (evaluation and
training pages). Nothing in the recognition path imports this package."""
