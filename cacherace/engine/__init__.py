"""The engine: runs one schedule against real servers, one step at a time."""
