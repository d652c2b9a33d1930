"""Hinton, Osindero & Teh 2006: a fast learning algorithm for deep belief nets."""
