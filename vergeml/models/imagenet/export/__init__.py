"""``ml @name export``: writing, checking and predicting through exports."""
