"""Matching: the gallery (FAISS index over the enrolled vectors) and the decision thresholds
that follow from the model's calibration and the gallery's size."""
