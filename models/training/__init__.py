"""Offline training: dataset, classifier, both generator stages, evaluation, direction derivation,
bundle building. The server never imports this package."""
