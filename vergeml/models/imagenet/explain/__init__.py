"""Heatmaps of what a trained classifier looked at (Grad-CAM), drawn over the image."""
