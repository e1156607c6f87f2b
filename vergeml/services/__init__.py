"""Long-running services started by ``ml run:<service>`` (the REST server)."""
