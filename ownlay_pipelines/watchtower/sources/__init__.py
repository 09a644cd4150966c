"""Sources of the generic store: records of Omnisend, the scraper and internal files, as snapshots."""
