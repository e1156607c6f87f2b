"""The command line: parsing (``argv``), running (``main``), help, glossary, suggestions."""
