"""Subscription revenue: monthly recurring revenue (MRR) and its movements, in plain Python."""
