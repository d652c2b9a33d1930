"""Bengio, Lamblin, Popovici & Larochelle 2007: greedy layer-wise training of deep networks."""
