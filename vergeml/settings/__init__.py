"""Settings: option declarations, the project file, global options, the environment."""
