"""The papers, one package each; ``common.registry`` finds them."""
