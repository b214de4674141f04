"""speechocean762 (OpenSLR 101): prepare, extra LM text, the general LM and the ablation table."""
