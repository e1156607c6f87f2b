"""What runs models: TensorFlow set-up, export formats and their runtimes, optional extras."""
