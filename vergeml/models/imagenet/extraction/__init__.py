"""Feature extraction engines: the local thread loader, OpenVINO, Ray; the feature cache."""
