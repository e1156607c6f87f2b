"""`ml ui`: the local web page of a project's runs, images and data."""
