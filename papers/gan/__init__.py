"""Goodfellow et al. 2014, "Generative Adversarial Nets": MLP generator, maxout discriminator."""
