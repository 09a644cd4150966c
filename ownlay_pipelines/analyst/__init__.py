"""Analyst models: funnels, conversion paths, Markov and Shapley attribution, the HTML report."""
