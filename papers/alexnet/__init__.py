"""Krizhevsky, Sutskever & Hinton 2012: ImageNet classification with deep convolutional networks."""
