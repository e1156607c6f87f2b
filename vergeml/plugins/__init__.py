"""Plugin discovery: entry points read without importing plugins."""
