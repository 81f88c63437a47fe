"""Pixels to embeddings: detect, align, judge quality, embed; the pipeline names each stage."""
