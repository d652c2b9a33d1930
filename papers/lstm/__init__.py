"""Hochreiter & Schmidhuber (1997), "Long Short-Term Memory": networks and experiments."""
