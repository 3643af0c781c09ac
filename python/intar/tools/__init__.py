"""Command-line tools: intar-opt and the intar driver."""
