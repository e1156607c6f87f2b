"""Trust at prediction time: unknown rejection and calibration, on arrays (no TensorFlow)."""
