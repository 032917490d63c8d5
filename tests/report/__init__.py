"""Report tests: the numbers a report shows, on synthetic runs with known events."""
