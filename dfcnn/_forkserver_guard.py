"""Imported by the forkserver that starts dfcnn's audio workers (see ``dfcnn.workers``): the kernel
kills it when the trainer that started it dies, so no forkserver outlives its trainer."""

from .workers import die_with_parent

die_with_parent()
