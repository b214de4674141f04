"""dfcnn's recipes, one package a corpus: ``recipes/<corpus>/prepare.py`` turns the corpus into
manifests and a vocabulary (``prepare_<corpus>(corpus_dir, out_dir, ...)``), beside its conf.yaml,
run.sh and RESULTS.md; common.py and download.py are what the recipes share.

    from recipes.yesno.prepare import prepare_yesno
    splits = prepare_yesno("/corpora/yesno", "recipes/yesno/data")   # {split: [Utterance, ...]}

    python -m recipes.yesno.prepare --corpus-dir /corpora/yesno --out recipes/yesno/data

Part of the checkout, not of the dfcnn wheel (dfcnn knows no corpus): import it from the repository
root (``python -m``, pytest, run.sh) or with the repository on ``PYTHONPATH``.
"""
